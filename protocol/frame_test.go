package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

func TestAppendParseRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 1 << 10, 64 << 10} {
		payload := bytes.Repeat([]byte{0xA5}, n)
		prefix := []byte("junk before")
		b := AppendFrame(prefix, MsgToolResult, FlagResponse|FlagPriority, 0xDEADBEEF01, payload)
		if !bytes.Equal(b[:len(prefix)], prefix) || len(b) != len(prefix)+FrameSize(n) {
			t.Fatalf("n=%d: AppendFrame did not append", n)
		}
		b = append(b, "trailing"...)
		f, used, err := ParseFrame(b[len(prefix):])
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if used != HeaderSize+n || f.Type != MsgToolResult || f.Flags != FlagResponse|FlagPriority ||
			f.ID != 0xDEADBEEF01 || !bytes.Equal(f.Payload, payload) {
			t.Fatalf("n=%d: got %v used=%d", n, f, used)
		}
		if cap(f.Payload) != n {
			t.Errorf("n=%d: payload capacity %d reaches past the frame", n, cap(f.Payload))
		}
		if n > 0 && &f.Payload[0] != &b[len(prefix)+HeaderSize] {
			t.Errorf("n=%d: payload does not alias the input", n)
		}
	}
}

// TestHeaderLayout checks AppendFrame against SPEC.md's table, field by
// field, independently of ParseFrame.
func TestHeaderLayout(t *testing.T) {
	payload := []byte{1, 2, 3}
	b := AppendFrame(nil, MsgCompletionRequest, FlagRequest|FlagPriority, 0x0102030405060708, payload)
	want := []byte{
		0x43, 0x50, 0x41, 0x4C, // magic
		0x01,       // version
		0x18,       // flags
		0x01, 0x00, // type
		0x03, 0x00, 0x00, 0x00, // length
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // id
	}
	if !bytes.Equal(b[:20], want) {
		t.Fatalf("header\n got % x\nwant % x", b[:20], want)
	}
	zeroed := append(append(bytes.Clone(b[:20]), 0, 0, 0, 0), payload...)
	if got, want := binary.LittleEndian.Uint32(b[20:]), crc32.ChecksumIEEE(zeroed); got != want {
		t.Fatalf("crc %#x, want crc32.ChecksumIEEE(header with crc zeroed + payload) = %#x", got, want)
	}
}

// TestHandWrittenFrame parses a frame written byte by byte from SPEC.md's
// header table, with no help from AppendFrame.
func TestHandWrittenFrame(t *testing.T) {
	b := []byte{
		'C', 'P', 'A', 'L', // magic 0x4C415043, little-endian
		1,    // version
		0x10, // flags: request
		6, 0, // type: Cancel
		0, 0, 0, 0, // length 0
		42, 0, 0, 0, 0, 0, 0, 0, // id 42
		0, 0, 0, 0, // crc, filled in below
	}
	binary.LittleEndian.PutUint32(b[20:], crc32.ChecksumIEEE(b))
	f, n, err := ParseFrame(b)
	if err != nil || n != 24 || f.Type != MsgCancel || f.Flags != FlagRequest || f.ID != 42 || len(f.Payload) != 0 {
		t.Fatalf("got %v n=%d err=%v", f, n, err)
	}
	if err := ValidateRules(f); err != nil {
		t.Fatal(err)
	}
	c, err := ViewCancel(f.Payload)
	if err != nil || len(c.Reason()) != 0 {
		t.Fatalf("empty Cancel payload: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	good := AppendFrame(nil, MsgHeartbeat, FlagRequest, 7, []byte("payload"))
	mod := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	huge := mod(func(b []byte) { binary.LittleEndian.PutUint32(b[offLength:], 0xFFFFFFFF) })
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShortFrame},
		{"one magic byte", good[:1], ErrShortFrame},
		{"wrong first byte", []byte{'X'}, ErrBadMagic},
		{"wrong third byte", []byte{'C', 'P', 'X'}, ErrBadMagic},
		{"magic only", good[:4], ErrShortFrame},
		{"bad magic", mod(func(b []byte) { b[3] = 0 }), ErrBadMagic},
		{"version 0 in 5 bytes", append(bytes.Clone(good[:4]), 0), ErrVersion},
		{"version 2", mod(func(b []byte) { b[offVersion] = 2 }), ErrVersion},
		{"flag 0x02 in 6 bytes", append(bytes.Clone(good[:5]), 0x12), ErrFlags},
		{"flag 0x80", mod(func(b []byte) { b[offFlags] |= 0x80 }), ErrFlags},
		{"4 GiB claimed, 12 bytes", huge[:12], ErrTooLarge},
		{"4 GiB claimed, full header", huge[:HeaderSize], ErrTooLarge},
		{"just over the max", mod(func(b []byte) { binary.LittleEndian.PutUint32(b[offLength:], DefaultMaxPayload+1) }), ErrTooLarge},
		{"length only", good[:12], ErrShortFrame},
		{"header only", good[:HeaderSize], ErrShortFrame},
		{"payload cut", good[:len(good)-1], ErrShortFrame},
		{"bad crc", mod(func(b []byte) { b[offCRC] ^= 1 }), ErrChecksum},
		{"payload changed", mod(func(b []byte) { b[len(b)-1] ^= 0x40 }), ErrChecksum},
		{"type changed", mod(func(b []byte) { b[offType] = 9 }), ErrChecksum},
	}
	for _, tt := range tests {
		f, n, err := ParseFrame(tt.b)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if n != 0 || f.Payload != nil {
			t.Errorf("%s: returned n=%d frame %v with an error", tt.name, n, f)
		}
	}
	if _, _, err := ParseFrame(good[:10]); err != ErrShortFrame {
		t.Errorf("ErrShortFrame is wrapped: %v", err)
	}
}

func TestParseFrameMax(t *testing.T) {
	b := AppendFrame(nil, MsgToolResult, FlagResponse, 1, make([]byte, 100))
	if _, _, err := ParseFrameMax(b, 100); err != nil {
		t.Errorf("payload == max: %v", err)
	}
	if _, _, err := ParseFrameMax(b[:HeaderSize], 99); !errors.Is(err, ErrTooLarge) {
		t.Errorf("payload > max: %v", err)
	}
	for _, max := range []int{0, -1, DefaultMaxPayload * 2} {
		big := AppendFrame(nil, MsgToolResult, FlagResponse, 1, nil)
		binary.LittleEndian.PutUint32(big[offLength:], DefaultMaxPayload+1)
		if _, _, err := ParseFrameMax(big, max); !errors.Is(err, ErrTooLarge) {
			t.Errorf("max %d does not fall back to DefaultMaxPayload: %v", max, err)
		}
	}
}

// TestEveryBitFlipDetected flips each bit of whole frames, header and
// payload, and checks that ParseFrame rejects every one.
func TestEveryBitFlipDetected(t *testing.T) {
	var e Encoder
	frames := [][]byte{
		AppendFrame(nil, MsgCancel, FlagRequest, 3, nil),
		e.AppendFrame(nil, FlagRequest, 5, &Heartbeat{SentUnixNano: 1234567890}),
		e.AppendFrame(nil, FlagRequest, 2, sampleRequest()),
		e.AppendFrame(nil, FlagResponse|FlagStream|FlagEnd, 3, &StreamChunk{Sequence: 8, Final: true}),
	}
	for _, frame := range frames {
		if _, _, err := ParseFrame(frame); err != nil {
			t.Fatal(err)
		}
		for bit := range len(frame) * 8 {
			b := bytes.Clone(frame)
			b[bit/8] ^= 1 << (bit % 8)
			if f, _, err := ParseFrame(b); err == nil {
				t.Fatalf("flipping bit %d (byte %d) of a %d-byte frame went undetected: %v", bit, bit/8, len(frame), f)
			}
		}
	}
}

func TestFrameHelpers(t *testing.T) {
	f := Frame{Type: MsgStreamChunk, Flags: FlagResponse | FlagStream | FlagEnd, ID: 7, Payload: make([]byte, 12)}
	if f.IsRequest() || !f.IsResponse() || !f.IsStream() || !f.IsEnd() {
		t.Errorf("helpers disagree with flags %v", f.Flags)
	}
	if got := f.String(); got != "StreamChunk id=7 flags=response|stream|end len=12" {
		t.Errorf("String() = %q", got)
	}
	r := Frame{Flags: FlagRequest}
	if !r.IsRequest() || r.IsResponse() || r.IsStream() || r.IsEnd() {
		t.Errorf("helpers disagree with flags %v", r.Flags)
	}
}
