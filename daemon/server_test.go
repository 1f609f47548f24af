package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// testServer starts an in-process Server on a private socket and stops it
// when the test ends.
func testServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "rwd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cfg.SocketPath == "" {
		cfg.SocketPath = filepath.Join(dir, "d.sock")
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	cfg.DebugTools = true // the echo and sleep tools
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv
}

func dial(t testing.TB, srv *Server, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, srv.SocketPath(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func userReq(text string, maxTokens uint32) *protocol.CompletionRequest {
	return &protocol.CompletionRequest{
		Messages:  []protocol.ChatMessage{{Role: protocol.RoleUser, Content: text}},
		MaxTokens: maxTokens,
	}
}

var transports = []protocol.Transport{protocol.TransportShm, protocol.TransportSocket}

func TestCompleteBothTransports(t *testing.T) {
	srv := testServer(t, Config{})
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dial(t, srv, client.WithTransport(tr), client.WithConns(2))
			ctx := context.Background()
			rtt, err := cl.Ping(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ping %v", rtt)
			resp, err := cl.Complete(ctx, userReq("hello  brave\tnew world", 0))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != "mock: hello brave new world" || resp.FinishReason != protocol.FinishStop || resp.Model != MockModel {
				t.Fatalf("Complete = %+v", resp)
			}
			resp, err = cl.Complete(ctx, userReq("a b c d e", 3))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != "mock: a b" || resp.FinishReason != protocol.FinishLength || resp.Usage.CompletionTokens != 3 {
				t.Fatalf("Complete(max 3) = %+v", resp)
			}
			var got string
			n := 0
			for chunk, err := range cl.CompleteStream(ctx, userReq("one two three", 0)) {
				if err != nil {
					t.Fatal(err)
				}
				if chunk.Sequence != uint32(n) {
					t.Fatalf("chunk %d has sequence %d", n, chunk.Sequence)
				}
				n++
				got += chunk.Delta
				if chunk.Final && chunk.FinishReason != protocol.FinishStop {
					t.Fatalf("final chunk %+v", chunk)
				}
			}
			if got != "mock: one two three" || n != 5 {
				t.Fatalf("stream = %q in %d chunks", got, n)
			}
			res, err := cl.CallTool(ctx, &protocol.ToolCall{ID: "c1", Name: "echo", Arguments: `{"x":1}`})
			if err != nil || res.Content != `{"x":1}` || res.CallID != "c1" {
				t.Fatalf("CallTool = %+v, %v", res, err)
			}
			res, err = cl.CallTool(ctx, &protocol.ToolCall{ID: "c2", Name: "nope"})
			if err != nil || !res.IsError || res.CallID != "c2" || !strings.Contains(res.Content, `no tool named "nope"`) {
				t.Fatalf("unknown tool: %+v, %v", res, err)
			}
			b, err := cl.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var st Stats
			if err := json.Unmarshal(b, &st); err != nil || st.Sessions < 1 {
				t.Fatalf("stats %s: %v", b, err)
			}
		})
	}
}

// A long stream whose reader consumes slowly: credit flows back as chunks
// are consumed, and every chunk arrives in order.
func TestStreamLongerThanWindow(t *testing.T) {
	srv := testServer(t, Config{})
	cl := dial(t, srv)
	words := ""
	for i := 0; i < 5*protocol.StreamWindow; i++ {
		words += "w "
	}
	n := 0
	for chunk, err := range cl.CompleteStream(context.Background(), userReq(words, 1000)) {
		if err != nil {
			t.Fatal(err)
		}
		if n%7 == 0 {
			time.Sleep(time.Millisecond)
		}
		n++
		_ = chunk
	}
	if want := 5*protocol.StreamWindow + 2; n != want {
		t.Fatalf("%d chunks, want %d", n, want)
	}
}

// One stalled stream reader must not block other calls on the same
// connection.
func TestStalledStreamDoesNotBlockOthers(t *testing.T) {
	srv := testServer(t, Config{})
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dial(t, srv, client.WithTransport(tr))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			words := ""
			for i := 0; i < 10*protocol.StreamWindow; i++ {
				words += "x "
			}
			stalled := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, err := range cl.CompleteStream(ctx, userReq(words, 10000)) {
					if err != nil {
						return
					}
					select {
					case <-stalled:
					default:
						close(stalled)
					}
					<-ctx.Done() // stall after the first chunk
				}
			}()
			<-stalled
			time.Sleep(10 * time.Millisecond) // let the daemon fill the window
			start := time.Now()
			for i := 0; i < 100; i++ {
				if _, err := cl.Complete(ctx, userReq("quick", 0)); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("100 calls beside a stalled stream took %v", time.Since(start))
			cancel()
			wg.Wait()
		})
	}
}

func TestCancelStopsHandler(t *testing.T) {
	srv := testServer(t, Config{})
	cl := dial(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cl.CallTool(ctx, &protocol.ToolCall{Name: "sleep", Arguments: "10000"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("canceled call returned after %v", time.Since(start))
	deadline := time.Now().Add(2 * time.Second)
	for srv.Stats().InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatal("handler still running after Cancel")
		}
		time.Sleep(time.Millisecond)
	}
	// The connection is still good.
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConnsRefused(t *testing.T) {
	srv := testServer(t, Config{MaxConns: 1})
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dial(t, srv, client.WithTransport(tr))
			_, err := client.Dial(context.Background(), srv.SocketPath(), client.WithTransport(tr))
			var pe *protocol.Error
			if !errors.Is(err, client.ErrRefused) || !errors.As(err, &pe) || pe.Code != protocol.ErrCodeTooManyConns || !client.IsRetryable(err) {
				t.Fatalf("second Dial: %v", err)
			}
			cl.Close()
			deadline := time.Now().Add(2 * time.Second)
			for srv.Stats().Sessions != 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		})
	}
	if srv.Stats().Refused != 2 {
		t.Fatalf("refused = %d", srv.Stats().Refused)
	}
}

func TestMaxInflight(t *testing.T) {
	srv := testServer(t, Config{MaxInflight: 2})
	cl := dial(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.CallTool(ctx, &protocol.ToolCall{Name: "sleep", Arguments: "10000"})
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv.Stats().InFlight != 2 {
		if time.Now().After(deadline) {
			t.Fatal("calls not in flight")
		}
		time.Sleep(time.Millisecond)
	}
	_, err := cl.Complete(ctx, userReq("x", 0))
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeOverloaded || !client.IsRetryable(err) {
		t.Fatalf("over the limit: %v", err)
	}
	cancel()
	wg.Wait()
}

func TestShutdownDrainsAndDisconnects(t *testing.T) {
	srv := testServer(t, Config{DrainTimeout: time.Second})
	cl := dial(t, srv, client.WithHeartbeat(0, 0))
	res := make(chan error, 1)
	go func() {
		_, err := cl.CallTool(context.Background(), &protocol.ToolCall{Name: "sleep", Arguments: "50"})
		res <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for srv.Stats().InFlight != 1 {
		if time.Now().After(deadline) {
			t.Fatal("call not in flight")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("drained in %v", time.Since(start))
	if err := <-res; err != nil {
		t.Fatalf("in-flight call during drain: %v", err)
	}
	_, err := cl.Ping(context.Background())
	if !client.IsRetryable(err) {
		t.Fatalf("ping after shutdown: %v", err)
	}
}

func TestShutdownDrainTimeoutCancels(t *testing.T) {
	srv := testServer(t, Config{})
	cl := dial(t, srv)
	res := make(chan error, 1)
	go func() {
		_, err := cl.CallTool(context.Background(), &protocol.ToolCall{Name: "sleep", Arguments: "20000"})
		res <- err
	}()
	for srv.Stats().InFlight != 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	srv.Shutdown(ctx)
	err := <-res
	if !errors.Is(err, client.ErrConnLost) {
		t.Fatalf("call canceled by drain timeout: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Transports: []protocol.Transport{9}},
		{MaxConns: -1},
		{MaxRingSize: -1},
		{MaxPayload: protocol.DefaultMaxPayload + 1},
		{MaxInflight: -1},
		{DrainTimeout: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestMuxHandleReserved(t *testing.T) {
	m := NewMux()
	for _, typ := range []protocol.MsgType{protocol.MsgHeartbeat, protocol.MsgCancel, protocol.MsgCredit, protocol.MsgHandshake} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%v) did not panic", typ)
				}
			}()
			m.Handle(typ, HandlerFunc(func(context.Context, ResponseWriter, *Request) {}))
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Handle(nil) did not panic")
			}
		}()
		m.Handle(0x8001, nil)
	}()
}

// Application handlers: a custom message type, a handler that panics, one
// that forgets to answer, and one that streams raw frames.
func TestAppHandlers(t *testing.T) {
	mux := NewMux()
	mux.HandleFunc(0x8001, func(ctx context.Context, w ResponseWriter, r *Request) {
		w.Respond(0x8002, append([]byte("re:"), r.Payload...))
		if err := w.Respond(0x8002, nil); !errors.Is(err, ErrCallDone) {
			t.Errorf("second Respond: %v", err)
		}
	})
	mux.HandleFunc(0x8003, func(ctx context.Context, w ResponseWriter, r *Request) { panic("boom") })
	mux.HandleFunc(0x8004, func(ctx context.Context, w ResponseWriter, r *Request) {})
	srv := testServer(t, Config{Mux: mux})
	cl := dial(t, srv)
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
	// The mux has no completion handler: unknown type closes the session.
	_, err = cl.Complete(ctx, userReq("x", 0))
	if !errors.Is(err, client.ErrConnLost) {
		t.Fatalf("unknown type: %v", err)
	}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
