package protocol

import (
	"strconv"
	"strings"
)

// MsgType is a frame's message type: which payload schema it carries.
type MsgType uint16

// Message types. SPEC.md, "Message types", lists each with its flags and
// payload. Types 0x8000–0xFFFF are the applications'; the rest not listed
// here are reserved.
const (
	MsgCompletionRequest  MsgType = 0x0001
	MsgCompletionResponse MsgType = 0x0002
	MsgStreamChunk        MsgType = 0x0003
	MsgError              MsgType = 0x0004
	MsgHeartbeat          MsgType = 0x0005
	MsgCancel             MsgType = 0x0006
	MsgHandshake          MsgType = 0x0010
	MsgHandshakeAck       MsgType = 0x0011
	MsgDisconnect         MsgType = 0x0012
	MsgToolCall           MsgType = 0x0100
	MsgToolResult         MsgType = 0x0101

	// MsgAppMin is the first message type of the application range; the
	// range runs to 0xFFFF. The protocol never assigns these.
	MsgAppMin MsgType = 0x8000
)

var msgNames = map[MsgType]string{
	MsgCompletionRequest:  "CompletionRequest",
	MsgCompletionResponse: "CompletionResponse",
	MsgStreamChunk:        "StreamChunk",
	MsgError:              "Error",
	MsgHeartbeat:          "Heartbeat",
	MsgCancel:             "Cancel",
	MsgHandshake:          "Handshake",
	MsgHandshakeAck:       "HandshakeAck",
	MsgDisconnect:         "Disconnect",
	MsgToolCall:           "ToolCall",
	MsgToolResult:         "ToolResult",
}

// IsApplication reports whether t is in the application range
// 0x8000–0xFFFF.
func (t MsgType) IsApplication() bool { return t >= MsgAppMin }

// IsKnown reports whether t is one of the protocol's own message types.
func (t MsgType) IsKnown() bool { _, ok := msgNames[t]; return ok }

// String returns the type's name ("CompletionRequest"; "Stats" and
// "Credit" for the types ringwired reserves), "App(0x8001)" for an
// application type, or "MsgType(0x0042)" for an unassigned one.
func (t MsgType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	if s, ok := reservedNames[t]; ok {
		return s
	}
	if t.IsApplication() {
		return "App(" + hex16(uint16(t)) + ")"
	}
	return "MsgType(" + hex16(uint16(t)) + ")"
}

func hex16(v uint16) string {
	s := strconv.FormatUint(uint64(v), 16)
	return "0x" + strings.Repeat("0", 4-len(s)) + s
}

// Flags is a frame's flag byte.
type Flags uint8

// Flag bits. 0x02 and 0x80 are reserved: a frame with either set is
// rejected with ErrFlags.
const (
	FlagCompressed Flags = 0x01 // payload is zstd-compressed
	FlagStream     Flags = 0x04 // frame is part of a streamed response
	FlagPriority   Flags = 0x08 // deliver ahead of ordinary frames
	FlagRequest    Flags = 0x10 // frame is a request
	FlagResponse   Flags = 0x20 // frame is a response
	FlagEnd        Flags = 0x40 // last frame of a stream

	flagsReserved Flags = 0x02 | 0x80
)

var flagNames = [8]string{"compressed", "0x02", "stream", "priority", "request", "response", "end", "0x80"}

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// String lists the set bits by name, joined with "|", e.g.
// "response|stream|end"; reserved bits show as hex, no bits as "0".
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var b strings.Builder
	// Name the bits in the order a reader thinks of them.
	for _, i := range [...]uint{4, 5, 2, 6, 3, 0, 1, 7} {
		if f&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString(flagNames[i])
	}
	return b.String()
}
