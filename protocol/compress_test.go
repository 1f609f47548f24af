package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestAppendFrameCompress(t *testing.T) {
	text := bytes.Repeat([]byte("func (c *conn) readOne(ctx context.Context) error {\n"), 200)
	random := make([]byte, 8<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name      string
		typ       MsgType
		flags     Flags
		payload   []byte
		threshold int
		wantZ     bool
	}{
		{"text", MsgToolResult, FlagResponse, text, DefaultCompressThreshold, true},
		{"off", MsgToolResult, FlagResponse, text, 0, false},
		{"below threshold", MsgToolResult, FlagResponse, text, len(text) + 1, false},
		{"at threshold", MsgToolResult, FlagResponse, text, len(text), true},
		{"incompressible", MsgToolResult, FlagResponse, random, 1, false},
		{"handshake", MsgHandshake, FlagRequest, text, 1, false},
		{"handshake ack", MsgHandshakeAck, FlagResponse, text, 1, false},
		{"already compressed", MsgToolResult, FlagResponse | FlagCompressed, text, 1, false},
		{"empty", MsgCancel, FlagRequest, nil, 1, false},
	}
	for _, tc := range cases {
		prefix := []byte("queued frames")
		b := AppendFrameCompress(append([]byte(nil), prefix...), tc.typ, tc.flags, 7, tc.payload, tc.threshold)
		if !bytes.HasPrefix(b, prefix) {
			t.Fatalf("%s: dst overwritten", tc.name)
		}
		f, n, err := ParseFrame(b[len(prefix):])
		if err != nil || n != len(b)-len(prefix) {
			t.Fatalf("%s: %v (n %d)", tc.name, err, n)
		}
		if got := f.Flags&FlagCompressed != 0 && tc.flags&FlagCompressed == 0; got != tc.wantZ {
			t.Fatalf("%s: compressed %v, want %v", tc.name, got, tc.wantZ)
		}
		if !tc.wantZ {
			if !bytes.Equal(b[len(prefix):], AppendFrame(nil, tc.typ, tc.flags, 7, tc.payload)) {
				t.Fatalf("%s: not AppendFrame's bytes", tc.name)
			}
			continue
		}
		if len(f.Payload) >= len(tc.payload) {
			t.Fatalf("%s: %d bytes compressed to %d", tc.name, len(tc.payload), len(f.Payload))
		}
		d, err := DecompressFrame(nil, f, 0)
		if err != nil || !bytes.Equal(d.Payload, tc.payload) || d.Flags != tc.flags || d.Type != tc.typ || d.ID != 7 {
			t.Fatalf("%s: decompressed to %v, %v", tc.name, d, err)
		}
		// A Reader with compression on reads it too.
		r := NewReader(bytes.NewReader(b[len(prefix):]), WithCompression(0))
		if rf, err := r.ReadFrame(); err != nil || !bytes.Equal(rf.Payload, tc.payload) {
			t.Fatalf("%s: Reader: %v, %v", tc.name, rf, err)
		}
	}
}

func TestDecompressFrame(t *testing.T) {
	payload := bytes.Repeat([]byte("ringwire "), 1000)
	z := AppendFrameCompress(nil, MsgToolResult, FlagResponse, 3, payload, 1)
	f, _, err := ParseFrame(z)
	if err != nil {
		t.Fatal(err)
	}
	// Into a buffer big enough: reused.
	dst := make([]byte, 0, 2*len(payload))
	d, err := DecompressFrame(dst, f, len(payload))
	if err != nil || !bytes.Equal(d.Payload, payload) || &d.Payload[0] != &dst[:1][0] {
		t.Fatalf("into dst: %v, %v", d, err)
	}
	// Too small: a new buffer of exactly the content size.
	d, err = DecompressFrame(make([]byte, 10), f, 0)
	if err != nil || cap(d.Payload) != len(payload) {
		t.Fatalf("grown: cap %d, %v", cap(d.Payload), err)
	}
	// Not compressed: as it is.
	plain := Frame{Type: MsgToolResult, Flags: FlagResponse, ID: 3, Payload: payload}
	if d, err := DecompressFrame(nil, plain, 0); err != nil || &d.Payload[0] != &payload[0] {
		t.Fatalf("plain: %v", err)
	}
	// Above the maximum: refused from the zstd header, nothing allocated.
	if d, err := DecompressFrame(nil, f, len(payload)-1); !errors.Is(err, ErrTooLarge) || d.ID != 3 || d.Payload != nil {
		t.Fatalf("max: %v, %v", d, err)
	}
	var noSize bytes.Buffer
	zw, _ := zstd.NewWriter(&noSize, zstd.WithEncoderConcurrency(1))
	zw.Write(payload)
	zw.Flush() // the frame header goes out before the size is known
	zw.Close()
	bomb := bytes.Clone(f.Payload)
	binary.LittleEndian.PutUint32(bomb[len(bomb)-4:], 0xFFFFFFFF) // corrupt the last block
	for name, p := range map[string][]byte{
		"empty":           nil,
		"not zstd":        []byte("definitely not zstd data"),
		"no content size": noSize.Bytes(),
		"corrupt":         bomb,
		"truncated":       f.Payload[:len(f.Payload)/2],
	} {
		g := Frame{Type: MsgToolResult, Flags: FlagResponse | FlagCompressed, ID: 4, Payload: p}
		if d, err := DecompressFrame(nil, g, 0); !errors.Is(err, ErrMalformed) || d.ID != 4 || d.Payload != nil {
			t.Errorf("%s: %v, %v", name, d, err)
		}
	}
}

func TestWriteEncoded(t *testing.T) {
	var rec recorder
	w := NewWriter(&rec)
	batch := AppendFrame(nil, MsgCancel, FlagRequest, 1, nil)
	batch = AppendFrame(batch, MsgCancel, FlagRequest, 2, nil)
	if err := w.WriteEncoded(batch); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 1 || !bytes.Equal(rec.writes[0], batch) {
		t.Fatalf("writes %d", len(rec.writes))
	}
	fw := NewWriter(failWriter{})
	if err := fw.WriteEncoded(batch); err == nil {
		t.Fatal("no error")
	}
	if err := fw.WriteEncoded(batch); err == nil {
		t.Fatal("error not sticky")
	}
	if err := fw.WriteFrame(MsgCancel, FlagRequest, 3, nil); err == nil {
		t.Fatal("error not sticky for WriteFrame")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func FuzzDecompressFrame(f *testing.F) {
	f.Add(AppendFrameCompress(nil, MsgToolResult, FlagResponse, 1, bytes.Repeat([]byte("abc"), 3000), 1)[HeaderSize:], 1<<20)
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'}, 100)
	f.Add([]byte("junk"), 0)
	f.Fuzz(func(t *testing.T, p []byte, max int) {
		max = max % (2 << 20)
		g := Frame{Type: MsgToolResult, Flags: FlagResponse | FlagCompressed, ID: 1, Payload: p}
		d, err := DecompressFrame(nil, g, max)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v matches neither ErrMalformed nor ErrTooLarge", err)
			}
			return
		}
		if len(d.Payload) > clampMax(max) || d.Flags&FlagCompressed != 0 {
			t.Fatalf("decompressed %d bytes, max %d, flags %v", len(d.Payload), clampMax(max), d.Flags)
		}
	})
}
