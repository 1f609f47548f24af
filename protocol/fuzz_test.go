package protocol

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// Fuzz targets for every parser of bytes from another process: frames,
// the stream Reader and each payload decoder. `go test` runs their seeds
// (f.Add and testdata/fuzz); run one for real with e.g.
//
//	go test -run='^$' -fuzz='^FuzzParseFrame$' -fuzztime=30s

func FuzzParseFrame(f *testing.F) {
	var e Encoder
	for _, s := range samples() {
		frame := e.AppendFrame(nil, s.flags, s.id, s.msg)
		f.Add(frame)
		f.Add(frame[:len(frame)/2])
	}
	f.Add([]byte{})
	f.Add([]byte("CPAL"))
	f.Add(AppendFrame(nil, MsgAppMin, FlagRequest|0x80, 1, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := ParseFrame(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			if err == ErrShortFrame && len(b) >= HeaderSize+DefaultMaxPayload {
				t.Fatalf("ErrShortFrame for %d bytes", len(b))
			}
			return
		}
		if n != HeaderSize+len(fr.Payload) || n > len(b) {
			t.Fatalf("n=%d payload=%d len=%d", n, len(fr.Payload), len(b))
		}
		if again := AppendFrame(nil, fr.Type, fr.Flags, fr.ID, fr.Payload); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding a parsed frame gives different bytes")
		}
		// Whatever the header says, the payload schemas cope with it.
		if _, err := Decode(fr.Type, fr.Payload); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
			t.Fatal(err)
		}
		_ = ValidateRules(fr)
	})
}

// chunkReader hands out its data in pieces whose sizes come from the input.
type chunkReader struct {
	data  []byte
	sizes []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n = int(c.sizes[0])%64 + 1
		c.sizes = c.sizes[1:]
	}
	n = copy(p, c.data[:min(n, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}

func FuzzReader(f *testing.F) {
	var e Encoder
	var all []byte
	for _, s := range samples() {
		all = e.AppendFrame(all, s.flags, s.id, s.msg)
	}
	z := compress(nil, bytes.Repeat([]byte("compressible "), 500))
	all = AppendFrame(all, MsgToolResult, FlagResponse|FlagCompressed, 9, z)
	f.Add(all, []byte{}, uint16(0))
	f.Add(all, []byte{0, 1, 2, 3, 60, 61}, uint16(1000))
	f.Add(all[:len(all)-3], []byte{5}, uint16(100))
	f.Add([]byte("CPAL\x01\x10"), []byte{1}, uint16(0))
	f.Fuzz(func(t *testing.T, data, sizes []byte, max uint16) {
		r := NewReader(&chunkReader{data: data, sizes: sizes}, WithMaxPayload(int(max)), WithCompression(0))
		limit := clampMax(int(max))
		for range 1000 {
			fr, err := r.ReadFrame()
			if err != nil {
				if r.err != nil {
					return // end of stream or a framing error: sticky
				}
				// A payload-level error leaves the stream readable.
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
					t.Fatal(err)
				}
				continue
			}
			if len(fr.Payload) > limit || fr.Flags.Has(FlagCompressed) {
				t.Fatalf("frame %v over max %d or still compressed", fr, limit)
			}
			if _, err := Decode(fr.Type, fr.Payload); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
				t.Fatal(err)
			}
		}
	})
}

// fuzzPayload checks one payload type's decoders on arbitrary bytes: they
// return a message or ErrMalformed, never panic; the views (which have no
// recover backstop) read every field of whatever verifies; Unmarshal and
// the views agree; and what decodes re-encodes stably.
func fuzzPayload(f *testing.F, typ MsgType) {
	for _, s := range samples() {
		if s.msg.MsgType() == typ {
			p := Marshal(s.msg)
			f.Add(p)
			f.Add(p[:len(p)-1])
		}
	}
	zero, _ := New(typ)
	f.Add(Marshal(zero))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		vm, verr := viewDecode(typ, p)
		m, err := Decode(typ, p)
		if (err == nil) != (verr == nil) {
			t.Fatalf("Decode: %v, views: %v", err, verr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "panicked") {
				t.Fatal(err)
			}
			return
		}
		canon := Marshal(m)
		if !bytes.Equal(Marshal(vm), canon) {
			t.Fatal("Decode and the views disagree")
		}
		m2, err := Decode(typ, canon)
		if err != nil || !bytes.Equal(Marshal(m2), canon) {
			t.Fatalf("re-encoding is not stable: %v", err)
		}
	})
}

func FuzzCompletionRequest(f *testing.F)  { fuzzPayload(f, MsgCompletionRequest) }
func FuzzCompletionResponse(f *testing.F) { fuzzPayload(f, MsgCompletionResponse) }
func FuzzStreamChunk(f *testing.F)        { fuzzPayload(f, MsgStreamChunk) }
func FuzzError(f *testing.F)              { fuzzPayload(f, MsgError) }
func FuzzHeartbeat(f *testing.F)          { fuzzPayload(f, MsgHeartbeat) }
func FuzzCancel(f *testing.F)             { fuzzPayload(f, MsgCancel) }
func FuzzHandshake(f *testing.F)          { fuzzPayload(f, MsgHandshake) }
func FuzzHandshakeAck(f *testing.F)       { fuzzPayload(f, MsgHandshakeAck) }
func FuzzDisconnect(f *testing.F)         { fuzzPayload(f, MsgDisconnect) }
func FuzzToolCall(f *testing.F)           { fuzzPayload(f, MsgToolCall) }
func FuzzToolResult(f *testing.F)         { fuzzPayload(f, MsgToolResult) }

// FuzzEncoder builds messages of every shape from the input (which fields
// are set, how many elements, how long the strings) and checks that the
// Encoder, reused and started at any capacity, writes payloads that
// verify and decode to the same messages.
func FuzzEncoder(f *testing.F) {
	f.Add([]byte{0}, uint8(0))
	f.Add([]byte{3, 0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(44))
	f.Add(bytes.Repeat([]byte{7, 1, 0, 200}, 40), uint8(13))
	f.Fuzz(func(t *testing.T, in []byte, capacity uint8) {
		next := func() byte {
			if len(in) == 0 {
				return 0
			}
			c := in[0]
			in = in[1:]
			return c
		}
		text := func() string { return strings.Repeat("x", int(next()%9)) }
		calls := func() []ToolCall {
			var cs []ToolCall
			for range next() % 3 {
				cs = append(cs, ToolCall{ID: text(), Name: text(), Arguments: text(), TimeoutMS: uint32(next())})
			}
			return cs
		}
		req := &CompletionRequest{Model: text(), MaxTokens: uint32(next()) << 8, SystemPrompt: text(), Stream: next()%2 == 1}
		if c := next(); c%2 == 1 {
			temp := float32(c) / 7
			req.Temperature = &temp
		}
		for range next() % 6 {
			req.Messages = append(req.Messages, ChatMessage{Role: Role(next() % 5), Content: text(), ToolCalls: calls(), ToolCallID: text()})
		}
		for range next() % 3 {
			req.Tools = append(req.Tools, Tool{Name: text(), Description: text(), Parameters: text()})
		}
		chunk := &StreamChunk{Sequence: uint32(next()), Delta: text(), Final: next()%2 == 1,
			FinishReason: FinishReason(next() % 7), Usage: Usage{uint32(next()), uint32(next())}}
		for range next() % 3 {
			chunk.ToolCalls = append(chunk.ToolCalls, ToolCallDelta{Index: uint32(next()), ID: text(), Name: text(), ArgumentsDelta: text()})
		}
		resp := &CompletionResponse{Content: text(), ToolCalls: calls(), FinishReason: FinishReason(next() % 7),
			Usage: Usage{uint32(next()), 0}, Model: text()}
		hs := &Handshake{MinVersion: uint16(next()), MaxVersion: uint16(next()), Features: Features(next()),
			ClientName: text(), SessionID: uint64(next()) << 40, MaxPayload: uint32(next())}

		e := NewEncoder(int(capacity))
		for _, m := range []Message{req, chunk, resp, hs, req} {
			got, err := Decode(m.MsgType(), e.Encode(m))
			if err != nil {
				t.Fatalf("%T: %v", m, err)
			}
			if !bytes.Equal(Marshal(got), Marshal(m)) {
				t.Fatalf("%T: decodes to %+v, want %+v", m, got, m)
			}
		}
	})
}
