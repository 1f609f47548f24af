package daemon

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// recorder is a ResponseWriter keeping a copy of the last frame.
type recorder struct {
	typ     protocol.MsgType
	payload []byte
	n       int
}

func (r *recorder) Respond(typ protocol.MsgType, p []byte) error {
	r.typ, r.payload = typ, append(r.payload[:0], p...)
	r.n++
	return nil
}
func (r *recorder) Send(typ protocol.MsgType, p []byte) error { return r.Respond(typ, p) }
func (r *recorder) End(typ protocol.MsgType, p []byte) error  { return r.Respond(typ, p) }
func (r *recorder) Error(code protocol.ErrorCode, msg string, retryable bool) error {
	return r.Respond(protocol.MsgError, []byte(code.String()+": "+msg))
}

// genericOnly hides the MockProvider's AppendComplete: CompletionHandler
// then takes the generic path (decode, Complete, emit).
type genericOnly struct{ Provider }

// TestMockFastPathMatchesGeneric answers random one-shot requests through
// the AppendProvider fast path and the generic path: byte-identical
// payloads, and the inline predicate's view is used as is.
func TestMockFastPathMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	alphabet := []byte(" \t\r\nab\x00\x80\xffé!~")
	text := func() string {
		b := make([]byte, rng.IntN(90))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	fast := CompletionHandler(&MockProvider{})
	generic := CompletionHandler(genericOnly{&MockProvider{}})
	inline := completionInline(&MockProvider{})
	var rt route
	inline(&rt)
	ctx := context.Background()
	for i := range 3000 {
		req := protocol.CompletionRequest{Model: text(), MaxTokens: uint32(rng.IntN(12)), SystemPrompt: text()}
		for range rng.IntN(4) {
			req.Messages = append(req.Messages, protocol.ChatMessage{Role: protocol.RoleUser, Content: text()})
		}
		payload := protocol.Marshal(&req)
		var a, b recorder
		r := &Request{Type: protocol.MsgCompletionRequest, ID: 1, Payload: payload}
		if i%2 == 0 && !rt.inline(r) {
			t.Fatal("one-shot mock completion not inline")
		}
		fast.ServeFrame(ctx, &a, r)
		generic.ServeFrame(ctx, &b, &Request{Type: protocol.MsgCompletionRequest, ID: 1, Payload: payload})
		if a.n != 1 || b.n != 1 || a.typ != protocol.MsgCompletionResponse || a.typ != b.typ || !bytes.Equal(a.payload, b.payload) {
			t.Fatalf("request %+v:\nfast    %v %q\ngeneric %v %q", req, a.typ, a.payload, b.typ, b.payload)
		}
	}
	// Malformed and streamed requests.
	var a recorder
	fast.ServeFrame(ctx, &a, &Request{Type: protocol.MsgCompletionRequest, ID: 1, Payload: []byte("junk")})
	if a.typ != protocol.MsgError {
		t.Errorf("junk answered with %v", a.typ)
	}
	if r := (&Request{Payload: []byte("junk")}); rt.inline(r) {
		t.Error("junk inline")
	}
	stream := protocol.Marshal(&protocol.CompletionRequest{Stream: true, Messages: []protocol.ChatMessage{{Content: "a b"}}})
	if r := (&Request{Payload: stream}); rt.inline(r) {
		t.Error("stream inline")
	}
	a = recorder{}
	fast.ServeFrame(ctx, &a, &Request{Type: protocol.MsgCompletionRequest, ID: 1, Payload: stream})
	if a.n != 4 || a.typ != protocol.MsgStreamChunk {
		t.Errorf("stream: %d frames, last %v", a.n, a.typ)
	}
}

// TestMockFastPathAllocs: a one-shot mock completion allocates nothing in
// the daemon once warm.
func TestMockFastPathAllocs(t *testing.T) {
	h := CompletionHandler(&MockProvider{})
	payload := protocol.Marshal(&protocol.CompletionRequest{MaxTokens: 4,
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: "lorem ipsum dolor sit amet consectetur"}}})
	r := &Request{Type: protocol.MsgCompletionRequest, ID: 1, Payload: payload}
	w := &recorder{payload: make([]byte, 0, 1024)}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { h.ServeFrame(ctx, w, r) }); n > 0 && !raceEnabled {
		t.Errorf("%v allocations per one-shot completion", n)
	}
}

// TestMockAppendCompletePaced: the fast path paces tokens and stops when
// its context ends.
func TestMockAppendCompletePaced(t *testing.T) {
	m := &MockProvider{TokenDelay: time.Millisecond}
	v, err := protocol.ViewCompletionRequest(protocol.Marshal(&protocol.CompletionRequest{MaxTokens: 3,
		Messages: []protocol.ChatMessage{{Content: "one two three four"}}}))
	if err != nil {
		t.Fatal(err)
	}
	out, res, err := m.AppendComplete(context.Background(), nil, v)
	if err != nil || string(out) != "mock: one two" || res.FinishReason != protocol.FinishLength || res.Usage.CompletionTokens != 3 {
		t.Fatalf("got %q %+v %v", out, res, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var w recorder
	CompletionHandler(m).ServeFrame(ctx, &w, &Request{Type: protocol.MsgCompletionRequest, ID: 1,
		Payload: protocol.Marshal(&protocol.CompletionRequest{Messages: []protocol.ChatMessage{{Content: "one two"}}})})
	if w.typ != protocol.MsgError || !bytes.Contains(w.payload, []byte("Canceled")) {
		t.Errorf("canceled: %v %q", w.typ, w.payload)
	}
	if _, _, err := m.AppendComplete(ctx, nil, v); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled AppendComplete: %v", err)
	}
}

// TestZeroMux: a zero Mux routes nothing and takes registrations.
func TestZeroMux(t *testing.T) {
	var m Mux
	if m.Handler(0x8001) != nil {
		t.Fatal("zero Mux has a handler")
	}
	m.HandleFunc(0x8001, func(context.Context, ResponseWriter, *Request) {})
	m.HandleFunc(0x8002, func(context.Context, ResponseWriter, *Request) {})
	if m.Handler(0x8001) == nil || m.Handler(0x8002) == nil || m.Handler(0x8003) != nil {
		t.Fatal("registrations lost")
	}
}

// TestCompletionViewFollowsPayload: a handler given another payload than
// the one the inline predicate verified verifies it again.
func TestCompletionViewFollowsPayload(t *testing.T) {
	var rt route
	completionInline(&MockProvider{})(&rt)
	r := &Request{Type: protocol.MsgCompletionRequest, ID: 1,
		Payload: protocol.Marshal(&protocol.CompletionRequest{Messages: []protocol.ChatMessage{{Content: "a b"}}})}
	if !rt.inline(r) {
		t.Fatal("not inline")
	}
	r.Payload = []byte("junk, not verified")
	var w recorder
	CompletionHandler(&MockProvider{}).ServeFrame(context.Background(), &w, r)
	if w.typ != protocol.MsgError {
		t.Fatalf("replaced payload answered with %v %q", w.typ, w.payload)
	}
}

// BenchmarkCompletionHandler serves the 1 KiB one-shot request of the
// integration benchmarks in the daemon: the AppendProvider fast path
// (verified once by the inline predicate) and the generic path.
func BenchmarkCompletionHandler(b *testing.B) {
	prompt := strings.Repeat("lorem ipsum dolor sit amet, ", 1024/28+1)[:1000]
	payload := protocol.Marshal(&protocol.CompletionRequest{Model: "mock-1", MaxTokens: 4,
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: prompt}}})
	var rt route
	completionInline(&MockProvider{})(&rt)
	for _, bc := range []struct {
		name string
		p    Provider
	}{{"path=fast", &MockProvider{}}, {"path=generic", genericOnly{&MockProvider{}}}} {
		b.Run(bc.name, func(b *testing.B) {
			h := CompletionHandler(bc.p)
			w := &recorder{payload: make([]byte, 0, 1024)}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			r := &Request{}
			for b.Loop() {
				*r = Request{Type: protocol.MsgCompletionRequest, ID: 1, Payload: payload}
				if !rt.inline(r) {
					b.Fatal("not inline")
				}
				h.ServeFrame(ctx, w, r)
			}
		})
	}
}
