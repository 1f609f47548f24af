package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Message is a payload type: one of the plain Go types that encode to and
// decode from a message type's FlatBuffers payload (CompletionRequest,
// Error, Heartbeat, ...). Only this package's types implement it.
type Message interface {
	// MsgType is the message type whose payload this is.
	MsgType() MsgType
	// Unmarshal verifies payload and replaces the receiver's contents with
	// the decoded message. It returns an error matching ErrMalformed if the
	// payload is not valid. Strings share one copy of the payload (so a
	// retained string keeps up to one payload's worth of memory alive);
	// nothing aliases payload itself.
	Unmarshal(payload []byte) error

	encode(e *Encoder) int
}

// Encoder encodes messages into FlatBuffers payloads with a reused
// buffer: in steady state encoding allocates nothing. The zero value is
// ready to use. An Encoder is not safe for concurrent use.
//
// The Encoder writes FlatBuffers front to back in one pass: the root
// offset, then each table preceded by its vtable (shared with the
// previous table of the same type when equal), then the table's strings
// and vectors, then its sub-tables. Every offset points forward, fields
// are aligned to their size, and any FlatBuffers reader (the generated
// code in internal/fb among them) reads the result; the layout differs
// from the one flatbuffers.Builder makes (which builds back to front), and
// is byte-for-byte deterministic.
type Encoder struct {
	buf []byte
	vt  [numTableKinds]int // per table kind, 1 + position of its last vtable, 0 for none
}

// NewEncoder returns an Encoder whose buffer starts at size bytes.
func NewEncoder(size int) *Encoder {
	return &Encoder{buf: make([]byte, 0, size)}
}

// Reset discards what the Encoder holds, keeping its buffer.
func (e *Encoder) Reset() {
	e.buf = e.buf[:0]
	e.vt = [numTableKinds]int{}
}

// Encode encodes m and returns its payload. The result aliases the
// Encoder's buffer: it is valid until the next call of Encode, AppendFrame
// or Reset.
func (e *Encoder) Encode(m Message) []byte {
	e.Reset()
	e.buf = append(e.buf, 0, 0, 0, 0) // root offset
	root := m.encode(e)
	binary.LittleEndian.PutUint32(e.buf, uint32(root))
	return e.buf
}

// AppendFrame encodes m and appends a frame carrying it, of type
// m.MsgType(), to dst, as the package-level AppendFrame does.
func (e *Encoder) AppendFrame(dst []byte, flags Flags, id uint64, m Message) []byte {
	return AppendFrame(dst, m.MsgType(), flags, id, e.Encode(m))
}

// Marshal encodes m into a new payload. Use an Encoder to avoid the
// allocations in a loop.
func Marshal(m Message) []byte {
	var e Encoder
	return bytes.Clone(e.Encode(m))
}

// New returns a new zero message of type typ, or ErrUnknownType for a type
// without a payload schema.
func New(typ MsgType) (Message, error) {
	switch typ {
	case MsgCompletionRequest:
		return new(CompletionRequest), nil
	case MsgCompletionResponse:
		return new(CompletionResponse), nil
	case MsgStreamChunk:
		return new(StreamChunk), nil
	case MsgError:
		return new(Error), nil
	case MsgHeartbeat:
		return new(Heartbeat), nil
	case MsgCancel:
		return new(Cancel), nil
	case MsgHandshake:
		return new(Handshake), nil
	case MsgHandshakeAck:
		return new(HandshakeAck), nil
	case MsgDisconnect:
		return new(Disconnect), nil
	case MsgToolCall:
		return new(ToolCall), nil
	case MsgToolResult:
		return new(ToolResult), nil
	}
	return nil, fmt.Errorf("%w: %v", ErrUnknownType, typ)
}

// Decode decodes payload as a message of type typ: ErrUnknownType for a
// type without a payload schema, ErrMalformed for a payload that does not
// verify.
func Decode(typ MsgType, payload []byte) (Message, error) {
	m, err := New(typ)
	if err != nil {
		return nil, err
	}
	if err := m.Unmarshal(payload); err != nil {
		return nil, err
	}
	return m, nil
}

// Table kinds, the keys of the Encoder's vtable cache.
const (
	kindToolCall = iota
	kindTool
	kindMessage
	kindCompletionRequest
	kindCompletionResponse
	kindToolCallDelta
	kindStreamChunk
	kindError
	kindHeartbeat
	kindCancel
	kindDisconnect
	kindToolResult
	kindHandshake
	kindHandshakeAck
	numTableKinds
)

// maxFields bounds the fields of one table (HandshakeAck has 10).
const maxFields = 12

type encKind uint8

const (
	fScalar encKind = iota // inline bytes
	fString                // offset to a string the Encoder writes after the table
	fChild                 // offset the caller patches once it wrote the child
)

// tfield is one present field of a table being encoded.
type tfield struct {
	slot  uint8
	size  uint8 // inline size
	align uint8
	kind  encKind
	bits  uint64 // fScalar: the value's little-endian bytes
	s     string // fString
}

// table collects the present fields of one table; Encoder.table writes it.
// Fields equal to their default are left out, as FlatBuffers does.
type table struct {
	n  int
	f  [maxFields]tfield
	at [maxFields]int // by slot: the position of an fChild field, set by Encoder.table
}

func (t *table) add(slot int, size, align uint8, kind encKind, bits uint64, s string) {
	f := &t.f[t.n]
	f.slot, f.size, f.align, f.kind, f.bits, f.s = uint8(slot), size, align, kind, bits, s
	t.n++
}

func (t *table) scalar(slot int, size uint8, bits uint64) {
	if bits != 0 {
		t.add(slot, size, size, fScalar, bits, "")
	}
}

func (t *table) u8(slot int, v uint8)   { t.scalar(slot, 1, uint64(v)) }
func (t *table) u16(slot int, v uint16) { t.scalar(slot, 2, uint64(v)) }
func (t *table) u32(slot int, v uint32) { t.scalar(slot, 4, uint64(v)) }
func (t *table) u64(slot int, v uint64) { t.scalar(slot, 8, v) }

func (t *table) boolean(slot int, v bool) {
	if v {
		t.scalar(slot, 1, 1)
	}
}

// f32 adds a float field even when it is zero: temperature is optional,
// so 0 and absent differ.
func (t *table) f32(slot int, v float32) {
	t.add(slot, 4, 4, fScalar, uint64(math.Float32bits(v)), "")
}

func (t *table) usage(slot int, u Usage) {
	if u != (Usage{}) {
		t.add(slot, 8, 4, fScalar, uint64(u.PromptTokens)|uint64(u.CompletionTokens)<<32, "")
	}
}

func (t *table) str(slot int, s string) {
	if s != "" {
		t.add(slot, 4, 4, fString, 0, s)
	}
}

// child adds an offset field to a vector or table the caller writes after
// the table (when present is false, the field is left out).
func (t *table) child(slot int, present bool) {
	if present {
		t.add(slot, 4, 4, fChild, 0, "")
	}
}

// pad aligns the end of the buffer to align (2, 4 or 8) bytes.
func (e *Encoder) pad(align int) {
	if n := len(e.buf) % align; n != 0 {
		e.buf = append(e.buf, zeros[:align-n]...)
	}
}

var zeros [8]byte

// patch stores at pos the forward offset to target.
func (e *Encoder) patch(pos, target int) {
	binary.LittleEndian.PutUint32(e.buf[pos:], uint32(target-pos))
}

// table writes t's vtable (unless the last one of this kind is equal), the
// table and its strings, and returns the table's position.
func (e *Encoder) table(kind int, t *table) int {
	// Lay the fields out by decreasing alignment after the 4-byte soffset;
	// with the table at 4 mod 8 when it has 8-byte fields, every field
	// falls on its alignment with no padding in between.
	var bytesBy [9]int // inline bytes per alignment
	maxSlot := -1
	for i := range t.n {
		f := &t.f[i]
		bytesBy[f.align] += int(f.size)
		maxSlot = max(maxSlot, int(f.slot))
	}
	next := [9]int{8: 4}
	next[4] = next[8] + bytesBy[8]
	next[2] = next[4] + bytesBy[4]
	next[1] = next[2] + bytesBy[2]
	size := next[1] + bytesBy[1]

	var vt [4 + 2*maxFields]byte
	var off [maxFields]int // by field index
	vtLen := 4 + 2*(maxSlot+1)
	binary.LittleEndian.PutUint16(vt[0:], uint16(vtLen))
	binary.LittleEndian.PutUint16(vt[2:], uint16(size))
	for i := range t.n {
		f := &t.f[i]
		off[i] = next[f.align]
		next[f.align] += int(f.size)
		binary.LittleEndian.PutUint16(vt[4+2*int(f.slot):], uint16(off[i]))
	}
	vtPos := e.vt[kind] - 1
	if vtPos < 0 || vtPos+vtLen > len(e.buf) || string(e.buf[vtPos:vtPos+vtLen]) != string(vt[:vtLen]) {
		if len(e.buf)%2 != 0 {
			e.buf = append(e.buf, 0)
		}
		vtPos = len(e.buf)
		e.buf = append(e.buf, vt[:vtLen]...)
		e.vt[kind] = vtPos + 1
	}

	e.pad(4)
	if bytesBy[8] > 0 && len(e.buf)%8 != 4 {
		e.buf = append(e.buf, 0, 0, 0, 0)
	}
	pos := len(e.buf)
	e.buf = append(e.buf, make([]byte, size)...) // does not allocate: appended in place
	binary.LittleEndian.PutUint32(e.buf[pos:], uint32(pos-vtPos))
	for i := range t.n {
		f := &t.f[i]
		at := pos + off[i]
		switch f.kind {
		case fChild:
			t.at[f.slot] = at
		case fString:
			// The table is complete up to here; the string goes after it.
			e.pad(4)
			e.patch(at, len(e.buf))
			e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(f.s)))
			e.buf = append(e.buf, f.s...)
			e.buf = append(e.buf, 0)
		default:
			switch fb := e.buf[at:]; f.size {
			case 1:
				fb[0] = byte(f.bits)
			case 2:
				binary.LittleEndian.PutUint16(fb, uint16(f.bits))
			case 4:
				binary.LittleEndian.PutUint32(fb, uint32(f.bits))
			default:
				binary.LittleEndian.PutUint64(fb, f.bits)
			}
		}
	}
	return pos
}

// vector writes the header of a vector of n tables for the offset field at
// fieldPos and returns the position of its first element slot; the caller
// patches each slot with the position of the table it writes.
func (e *Encoder) vector(fieldPos, n int) int {
	e.pad(4)
	e.patch(fieldPos, len(e.buf))
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(n))
	slots := len(e.buf)
	e.buf = append(e.buf, make([]byte, 4*n)...)
	return slots
}

// encodeAll writes the vector of tables xs for the offset field at
// fieldPos.
func encodeAll[T any](e *Encoder, fieldPos int, xs []T, encode func(*T, *Encoder) int) {
	slots := e.vector(fieldPos, len(xs))
	for i := range xs {
		e.patch(slots+4*i, encode(&xs[i], e))
	}
}

// backstop turns a panic while decoding into ErrMalformed. The verifier
// makes one impossible; this is defense in depth.
func backstop(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: decoder panicked: %v", ErrMalformed, r)
	}
}

// stringTable hands out strings for []byte fields of one payload: the payload
// is copied into a string once, on the first non-empty field, and each
// field is a substring of it.
type stringTable struct {
	p []byte
	s string
}

func (t *stringTable) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	// b is a subslice of t.p (the generated accessors slice the buffer
	// without limiting capacity), so its index in t.p follows from the
	// capacities.
	i := cap(t.p) - cap(b)
	if i < 0 || i+len(b) > len(t.p) || &t.p[i] != &b[0] {
		return string(b)
	}
	if t.s == "" {
		t.s = string(t.p)
	}
	return t.s[i : i+len(b)]
}
