package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client/internal/fakedaemon"
	"github.com/ringwire/ringwire/protocol"
)

var quiet = WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// testTransports are the transports a test runs on: both on Linux, the
// socket transport alone where shmring is unsupported (the macOS CI job).
func testTransports() []protocol.Transport {
	if runtime.GOOS != "linux" {
		return []protocol.Transport{protocol.TransportSocket}
	}
	return []protocol.Transport{protocol.TransportShm, protocol.TransportSocket}
}

func dialFake(t testing.TB, d *fakedaemon.Daemon, opts ...Option) *Client {
	t.Helper()
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.transport == protocol.TransportShm && runtime.GOOS != "linux" {
		t.Skip("the shared-memory transport is Linux-only (shmring); this case runs on Linux")
	}
	cl, err := Dial(context.Background(), d.Path, append([]Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func req(text string) *protocol.CompletionRequest {
	return &protocol.CompletionRequest{Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: text}}}
}

func TestCalls(t *testing.T) {
	d := fakedaemon.New(t, false)
	for _, tr := range testTransports() {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dialFake(t, d, WithTransport(tr), WithConns(2), WithRingSize(64<<10), WithClientName("test"))
			ctx := context.Background()
			if _, err := cl.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			typ, b, err := cl.Call(ctx, fakedaemon.MsgEcho, []byte("hello"))
			if err != nil || typ != fakedaemon.MsgEcho || string(b) != "hello" {
				t.Fatalf("Call = %v %q %v", typ, b, err)
			}
			dst, _, err := cl.AppendCall(ctx, []byte("x:"), fakedaemon.MsgEcho, []byte("y"))
			if err != nil || string(dst) != "x:y" {
				t.Fatalf("AppendCall = %q %v", dst, err)
			}
			resp, err := cl.Complete(ctx, req("a  b c"))
			if err != nil || resp.Content != "a b c" {
				t.Fatalf("Complete = %+v %v", resp, err)
			}
			res, err := cl.CallTool(ctx, &protocol.ToolCall{ID: "1", Name: "t", Arguments: "{}"})
			if err != nil || res.CallID != "1" || res.Content != "{}" {
				t.Fatalf("CallTool = %+v %v", res, err)
			}
			// Stats returns the daemon's answer to MsgStats as it is.
			const stats = `{"sessions": 7}`
			d.SetStats([]byte(stats))
			if b, err := cl.Stats(ctx); err != nil || string(b) != stats {
				t.Fatalf("Stats = %q, %v", b, err)
			}
		})
	}
}

func TestStream(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d)
	words := strings.Repeat("w ", 3*protocol.StreamWindow+3)
	var got strings.Builder
	n := 0
	for chunk, err := range cl.CompleteStream(context.Background(), req(words)) {
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Sequence != uint32(n) {
			t.Fatalf("chunk %d: sequence %d", n, chunk.Sequence)
		}
		n++
		got.WriteString(chunk.Delta)
	}
	if n != 3*protocol.StreamWindow+4 || got.String() != words {
		t.Fatalf("%d chunks, %q", n, got.String())
	}
}

func TestStreamBreakCancels(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d)
	for range cl.CompleteStream(context.Background(), req(strings.Repeat("w ", 100))) {
		break
	}
	waitFor(t, func() bool { return d.Cancels() == 1 })
	// The connection still works.
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStreamErrors(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d)
	var last error
	n := 0
	for _, err := range cl.CompleteStream(context.Background(), req("a b "+fakedaemon.StreamFail+" c")) {
		n++
		last = err
	}
	var pe *protocol.Error
	if n != 3 || !errors.As(last, &pe) || pe.Code != protocol.ErrCodeUnavailable || !IsRetryable(last) {
		t.Fatalf("%d items, last error %v", n, last)
	}
	// ctx ends while the stream waits (the fake stalls at the window).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	n = 0
	for _, err := range cl.CompleteStream(ctx, req(strings.Repeat("w ", 100))) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 1 {
			<-ctx.Done()
			time.Sleep(5 * time.Millisecond)
		}
	}
	if n == 0 {
		t.Fatal("no chunks")
	}
	// Drain: the remaining chunks were buffered; the iterator reports
	// ctx's error only once the buffer is empty, or earlier via Cancel.
	_ = last
	// A stream on a closed client fails at once.
	cl2 := dialFake(t, d)
	cl2.Close()
	for _, err := range cl2.CompleteStream(context.Background(), req("x")) {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("stream on closed client: %v", err)
		}
	}
}

func TestRemoteErrorAndCancel(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d)
	_, _, err := cl.Call(context.Background(), fakedaemon.MsgBusy, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeOverloaded || !IsRetryable(err) {
		t.Fatalf("busy: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = cl.Call(ctx, fakedaemon.MsgSilent, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent: %v", err)
	}
	t.Logf("canceled call returned %v after its deadline", time.Since(start)-20*time.Millisecond)
	waitFor(t, func() bool { return d.Cancels() == 1 })
	// A mismatched answer type.
	if _, err := cl.Complete(context.Background(), &protocol.CompletionRequest{}); err == nil {
		t.Fatal("malformed request accepted")
	}
}

func TestConnectionFailures(t *testing.T) {
	for _, tc := range []struct {
		typ  protocol.MsgType
		want error
	}{
		{fakedaemon.MsgDisconnect, ErrConnLost},
		{fakedaemon.MsgDrop, ErrConnLost},
		{fakedaemon.MsgGarbage, ErrProtocol},
		{fakedaemon.MsgConnErr, ErrConnLost},
	} {
		for _, tr := range testTransports() {
			t.Run(fmt.Sprintf("%v/%s", tc.typ, tr), func(t *testing.T) {
				d := fakedaemon.New(t, false)
				cl := dialFake(t, d, WithTransport(tr))
				_, _, err := cl.Call(context.Background(), tc.typ, nil)
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				// The client reconnects on the next call.
				if _, err := cl.Ping(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// The daemon dies with calls in flight: they fail at once, calls while it
// is down fail fast, and the client is back within the backoff once it
// listens again.
func TestDaemonRestart(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d, WithConns(2))
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			_, _, err := cl.Call(context.Background(), fakedaemon.MsgSilent, nil)
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	d.Stop()
	for i := 0; i < 4; i++ {
		if err := <-errs; !errors.Is(err, ErrConnLost) || !IsRetryable(err) {
			t.Fatalf("in-flight call: %v", err)
		}
	}
	t.Logf("in-flight calls failed %v after the daemon died", time.Since(start))
	// A pooled connection that carried no call may not have seen the
	// socket's EOF yet: the Ping is then written and lost (ErrConnLost)
	// rather than refused before sending (ErrUnavailable). Either way it
	// fails at once with a retryable error.
	down := time.Now()
	_, err := cl.Ping(context.Background())
	if !(errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConnLost)) || !IsRetryable(err) {
		t.Fatalf("ping while down: %v", err)
	}
	t.Logf("ping while down failed after %v: %v", time.Since(down), err)
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	for {
		if _, err := cl.Ping(context.Background()); err == nil {
			break
		}
		if time.Since(up) > 2*time.Second {
			t.Fatal("no reconnection")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("Ping works %v after the daemon listens again", time.Since(up))
}

func TestHeartbeatTimeout(t *testing.T) {
	d := fakedaemon.New(t, false)
	d.Ignore(protocol.MsgHeartbeat)
	cl := dialFake(t, d, WithHeartbeat(10*time.Millisecond, 30*time.Millisecond))
	start := time.Now()
	_, _, err := cl.Call(context.Background(), fakedaemon.MsgSilent, nil)
	if !errors.Is(err, ErrConnLost) || !strings.Contains(err.Error(), "heartbeat") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("silent daemon detected after %v", time.Since(start))
}

func TestRefused(t *testing.T) {
	d := fakedaemon.New(t, true)
	for _, tr := range testTransports() {
		_, err := Dial(context.Background(), d.Path, WithTransport(tr), quiet)
		var pe *protocol.Error
		if !errors.Is(err, ErrRefused) || !errors.As(err, &pe) || pe.Code != protocol.ErrCodeTooManyConns || !IsRetryable(err) {
			t.Fatalf("%s: %v", tr, err)
		}
	}
}

func TestDialErrors(t *testing.T) {
	if _, err := Dial(context.Background(), "/nonexistent/x.sock", WithTransport(protocol.Transport(9))); err == nil {
		t.Fatal("unknown transport accepted")
	}
	for _, tr := range testTransports() {
		_, err := Dial(context.Background(), "/nonexistent/x.sock", WithTransport(tr), WithDialTimeout(time.Second), quiet)
		if !errors.Is(err, ErrUnavailable) || !IsRetryable(err) {
			t.Fatalf("%s: %v", tr, err)
		}
	}
	cl, err := Dial(context.Background(), "/nonexistent/x.sock", WithLazyDial(), WithMaxBackoff(time.Millisecond), WithMaxPayload(1<<20), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("lazy: %v", err)
	}
	cl.Close()
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if IsRetryable(nil) || IsRetryable(errors.New("x")) || IsRetryable(ErrClosed) {
		t.Fatal("IsRetryable")
	}
}

func TestCloseFailsCallsInFlight(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d)
	errc := make(chan error, 1)
	go func() {
		_, _, err := cl.Call(context.Background(), fakedaemon.MsgSilent, nil)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cl.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	d := fakedaemon.New(t, false)
	for _, tr := range testTransports() {
		cl := dialFake(t, d, WithTransport(tr), WithConns(3))
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf []byte
				for i := 0; i < 200; i++ {
					want := fmt.Appendf(nil, "g%d-%d", g, i)
					var err error
					buf, _, err = cl.AppendCall(context.Background(), buf[:0], fakedaemon.MsgEcho, want)
					if err != nil || !bytes.Equal(buf, want) {
						t.Errorf("got %q, %v; want %q", buf, err, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBadHandshakeAnswers(t *testing.T) {
	d := fakedaemon.New(t, false)
	for mode := fakedaemon.AckWrongType; mode <= fakedaemon.AckNotFrame; mode++ {
		d.SetAckMode(mode)
		for _, tr := range testTransports() {
			_, err := Dial(context.Background(), d.Path, WithTransport(tr), quiet)
			if !errors.Is(err, ErrProtocol) || IsRetryable(err) {
				t.Errorf("mode %d %s: %v", mode, tr, err)
			}
		}
	}
}

func TestRefusalReasons(t *testing.T) {
	if err := refusal([]byte("nonsense")); !errors.Is(err, ErrRefused) {
		t.Fatal(err)
	}
	if err := decodeError([]byte{1}); !errors.Is(err, ErrProtocol) {
		t.Fatal(err)
	}
}
