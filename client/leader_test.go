package client

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client/internal/fakedaemon"
	"github.com/ringwire/ringwire/protocol"
)

// TestAppendComplete reads completions in place, reusing one buffer.
func TestAppendComplete(t *testing.T) {
	d := fakedaemon.New(t, false)
	for _, tr := range testTransports() {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dialFake(t, d, WithTransport(tr))
			ctx := context.Background()
			buf := make([]byte, 0, 512)
			for _, stream := range []bool{false, true} { // Stream is ignored
				r := req("a  b c")
				r.Stream = stream
				var v protocol.CompletionResponseView
				var err error
				buf, v, err = cl.AppendComplete(ctx, buf[:0], r)
				if err != nil || string(v.Content()) != "a b c" {
					t.Fatalf("AppendComplete = %q, %v", v.Content(), err)
				}
			}
			// An Error answer.
			if _, _, err := cl.AppendComplete(ctx, buf[:0], &protocol.CompletionRequest{}); err == nil {
				t.Fatal("malformed request accepted")
			}
			// A wrong answer type (the fake echoes fakedaemon.MsgEcho) cannot be had
			// here; a canceled one can.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, _, err := cl.AppendComplete(cctx, buf[:0], req("x")); !errors.Is(err, context.Canceled) {
				t.Fatalf("canceled: %v", err)
			}
		})
	}
}

// TestSocketIdleReaderKicked lets a socket connection go idle, so that its
// background reader reads, then calls: the caller kicks the reader out of
// its read and reads its answer itself. Calls from several goroutines mix
// kicks, hand-offs and leading.
func TestSocketIdleReaderKicked(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d, WithTransport(protocol.TransportSocket))
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		time.Sleep(5 * idleGrace) // idle: the background reader takes over
		if typ, b, err := cl.Call(ctx, fakedaemon.MsgEcho, []byte("hi")); err != nil || typ != fakedaemon.MsgEcho || string(b) != "hi" {
			t.Fatalf("Call = %v %q %v", typ, b, err)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if i%10 == 0 {
					time.Sleep(2 * idleGrace)
				}
				if _, err := cl.Ping(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSocketLeaderCanceled cancels a call whose caller is reading the
// socket itself: the read is kicked, Cancel is sent, and the connection
// still works.
func TestSocketLeaderCanceled(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d, WithTransport(protocol.TransportSocket))
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, _, err := cl.Call(ctx, fakedaemon.MsgSilent, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silent: %v", err)
		}
		if _, _, err := cl.Call(context.Background(), fakedaemon.MsgEcho, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return d.Cancels() == 3 })
}

// TestIdleDaemonDeathNoticed kills the daemon under idle connections: the
// client notices without a call (the pool then sees them dead).
func TestIdleDaemonDeathNoticed(t *testing.T) {
	for _, tr := range testTransports() {
		t.Run(tr.String(), func(t *testing.T) {
			d := fakedaemon.New(t, false)
			cl := dialFake(t, d, WithTransport(tr), WithHeartbeat(0, 0))
			c, err := cl.conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * idleGrace)
			d.Stop()
			waitFor(t, func() bool { return !c.alive() })
		})
	}
}
