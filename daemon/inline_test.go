package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

func TestCountWords(t *testing.T) {
	for s, want := range map[string]int{"": 0, " ": 0, "a": 1, " a ": 1, "a b\tc\r\nd": 4, "  ab  cd": 2, "x\n\n": 1,
		"abcdefgh ijklmnop": 2, "abcdefghijklmnopq": 1, "       a b      c": 3, "\x00\x80\xff \x01 \x7f\x0b\x0c": 3} {
		if got := countWords(s); got != want {
			t.Errorf("countWords(%q) = %d, want %d", s, got, want)
		}
	}
	// Against strings.Fields-like counting over random inputs.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(" \t\r\nab\x00\x80\xff\x0b\x1f!~\x7f\xa0")
	for range 2000 {
		b := make([]byte, rng.IntN(70))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want, in := 0, false
		for _, c := range b {
			sp := c == ' ' || c == '\t' || c == '\r' || c == '\n'
			if !sp && !in {
				want++
			}
			in = !sp
		}
		if got := countWords(string(b)); got != want {
			t.Fatalf("countWords(%q) = %d, want %d", b, got, want)
		}
	}
}

// TestInlineHandlers serves inline handlers on both transports, side by
// side with ordinary ones, and from many goroutines (batched answers).
func TestInlineHandlers(t *testing.T) {
	mux := NewMux()
	mux.HandleFunc(0x8001, func(ctx context.Context, w ResponseWriter, r *Request) {
		w.Respond(0x8002, append([]byte("re:"), r.Payload...))
		if err := w.Respond(0x8002, nil); !errors.Is(err, ErrCallDone) {
			t.Errorf("second Respond: %v", err)
		}
	}, Inline())
	mux.HandleFunc(0x8003, func(ctx context.Context, w ResponseWriter, r *Request) { panic("boom") }, Inline())
	mux.HandleFunc(0x8004, func(ctx context.Context, w ResponseWriter, r *Request) {}, Inline())
	// Inline only when the payload says so.
	mux.HandleFunc(0x8006, func(ctx context.Context, w ResponseWriter, r *Request) {
		w.Respond(0x8007, r.Payload)
	}, InlineWhen(func(r *Request) bool { return string(r.Payload) == "fast" }))
	mux.Handle(protocol.MsgCompletionRequest, CompletionHandler(&MockProvider{}), completionInline(&MockProvider{}))
	srv := testServer(t, Config{Mux: mux})
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dial(t, srv, client.WithTransport(tr), client.WithConns(2))
			ctx := context.Background()
			typ, b, err := cl.Call(ctx, 0x8001, []byte("hi"))
			if err != nil || typ != 0x8002 || string(b) != "re:hi" {
				t.Fatalf("Call = %v %q %v", typ, b, err)
			}
			for _, typ := range []protocol.MsgType{0x8003, 0x8004} {
				_, _, err = cl.Call(ctx, typ, nil)
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeInternal {
					t.Fatalf("Call(%v) = %v", typ, err)
				}
			}
			for _, p := range []string{"fast", "slow"} {
				if typ, b, err := cl.Call(ctx, 0x8006, []byte(p)); err != nil || typ != 0x8007 || string(b) != p {
					t.Fatalf("Call(%s) = %v %q %v", p, typ, b, err)
				}
			}
			// A one-shot mock completion is inline, a streamed one is not.
			resp, err := cl.Complete(ctx, userReq("one two three", 0))
			if err != nil || resp.Content != "mock: one two three" {
				t.Fatalf("Complete = %+v, %v", resp, err)
			}
			n := 0
			for chunk, err := range cl.CompleteStream(ctx, userReq("one two three", 0)) {
				if err != nil {
					t.Fatal(err)
				}
				n++
				_ = chunk
			}
			if n != 5 {
				t.Fatalf("%d chunks", n)
			}
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 0, 256)
					for i := 0; i < 200; i++ {
						want := fmt.Sprintf("%d-%d", g, i)
						var typ protocol.MsgType
						var err error
						buf, typ, err = cl.AppendCall(ctx, buf[:0], 0x8001, []byte(want))
						if err != nil || typ != 0x8002 || string(buf) != "re:"+want {
							t.Errorf("AppendCall = %v %q %v", typ, buf, err)
							return
						}
						if _, err := cl.Ping(ctx); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestStreamInlineRunsOutOfCredit(t *testing.T) {
	mux := NewMux()
	mux.HandleFunc(0x8005, func(ctx context.Context, w ResponseWriter, r *Request) {
		var err error
		for err == nil {
			err = w.Send(protocol.MsgStreamChunk, protocol.Marshal(&protocol.StreamChunk{}))
		}
		if !errors.Is(err, ErrCallDone) {
			t.Errorf("Send past credit: %v", err)
		}
		w.Error(protocol.ErrCodeInternal, "out of credit", false)
	}, Inline())
	srv := testServer(t, Config{Mux: mux})
	cl := dial(t, srv)
	// A raw Call sees the first stream frame; the rest are dropped as
	// answers to a finished call.
	if _, _, err := cl.Call(context.Background(), 0x8005, nil); err != nil {
		t.Logf("Call: %v", err)
	}
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCountWords counts the words of a 1000-byte prompt of prose and
// one of Go code (tabs and newlines take the exact path).
func BenchmarkCountWords(b *testing.B) {
	for name, s := range map[string]string{
		"prose": strings.Repeat("lorem ipsum dolor sit amet, ", 1024/28+1)[:1000],
		"code":  strings.Repeat("func main() {\n\tfmt.Println(\"hi\")\n}\n", 30)[:1000],
	} {
		b.Run("text="+name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			n := 0
			for b.Loop() {
				n += countWords(s)
			}
			_ = n
		})
	}
}
