package protocol

import (
	"encoding/binary"
	"fmt"
)

// Message types ringwired reserves at the top of the application range,
// 0xFFF0–0xFFFF (SPEC.md §4.1); applications use 0x8000–0xFFEF.
const (
	// MsgStats asks ringwired for a snapshot of its state: a request with
	// an empty payload, answered by one response of type MsgStats whose
	// payload is a UTF-8 JSON object.
	MsgStats MsgType = 0xFFF0

	// MsgCredit grants stream credit: a request whose header id is the id
	// of the sender's own streaming request, like Cancel, never answered.
	// Its payload, built by AppendCredit and read by ParseCredit, is the
	// number of further stream frames the peer may send on that stream.
	MsgCredit MsgType = 0xFFF1

	// MsgReservedMin is the first type of the range ringwired reserves.
	MsgReservedMin MsgType = 0xFFF0
)

// Stream flow control (SPEC.md §4.1).
const (
	// StreamWindow is the credit every stream starts with: the sender of
	// a stream sends at most this many stream frames beyond the credit
	// granted with MsgCredit.
	StreamWindow = 16

	// MaxStreamWindow is the largest window a stream may have: a Credit
	// taking it past this is a protocol error.
	MaxStreamWindow = 1 << 30

	// CreditSize is the size of a MsgCredit payload in bytes.
	CreditSize = 4
)

// reservedNames names the types of MsgReservedMin's range, for String.
var reservedNames = map[MsgType]string{
	MsgStats:  "Stats",
	MsgCredit: "Credit",
}

// AppendCredit appends the payload of a MsgCredit granting n stream
// frames (a little-endian uint32) to dst.
func AppendCredit(dst []byte, n uint32) []byte {
	return binary.LittleEndian.AppendUint32(dst, n)
}

// ParseCredit reads a MsgCredit payload. A payload that is not exactly
// CreditSize bytes is an error matching ErrMalformed.
func ParseCredit(payload []byte) (uint32, error) {
	if len(payload) != CreditSize {
		return 0, fmt.Errorf("%w: credit payload is %d bytes, want %d", ErrMalformed, len(payload), CreditSize)
	}
	return binary.LittleEndian.Uint32(payload), nil
}
