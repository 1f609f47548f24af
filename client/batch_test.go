package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client/internal/fakedaemon"
	"github.com/ringwire/ringwire/protocol"
)

// A batch larger than a chunk (small ring, so several chunks) mixing
// echoes, Error answers and typed messages: every answer goes to its call,
// in Add order, and the batch is reusable.
func TestBatch(t *testing.T) {
	d := fakedaemon.New(t, false)
	for _, tr := range testTransports() {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dialFake(t, d, WithTransport(tr), WithRingSize(16<<10))
			ctx := context.Background()
			var b Batch
			if err := cl.Do(ctx, &b); err != nil || b.Len() != 0 {
				t.Fatalf("empty batch: %v", err)
			}
			payload := make([]byte, 700)
			for round := range 3 {
				b.Reset()
				const n = 100 // > 16 KiB/4 of frames: several chunks
				for i := range n {
					switch i % 10 {
					case 3:
						b.Add(fakedaemon.MsgBusy, nil)
					case 7:
						b.AddMsg(&protocol.ToolCall{ID: fmt.Sprint(i), Name: "t", Arguments: "{}"})
					default:
						copy(payload, fmt.Sprintf("round %d call %d", round, i))
						b.Add(fakedaemon.MsgEcho, payload)
					}
				}
				if b.Len() != n {
					t.Fatalf("Len = %d", b.Len())
				}
				if err := cl.Do(ctx, &b); err != nil {
					t.Fatal(err)
				}
				for i := range n {
					typ, got, err := b.Result(i)
					switch i % 10 {
					case 3:
						var pe *protocol.Error
						if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeOverloaded {
							t.Fatalf("call %d: %v %v", i, typ, err)
						}
					case 7:
						var res protocol.ToolResult
						if err != nil || typ != protocol.MsgToolResult || res.Unmarshal(got) != nil || res.CallID != fmt.Sprint(i) {
							t.Fatalf("call %d: %v %+v %v", i, typ, res, err)
						}
					default:
						want := fmt.Sprintf("round %d call %d", round, i)
						if err != nil || typ != fakedaemon.MsgEcho || string(got[:len(want)]) != want || len(got) != len(payload) {
							t.Fatalf("call %d: %v %q %v", i, typ, got[:min(len(got), 30)], err)
						}
					}
				}
			}
			if _, _, err := b.Result(-1); err == nil {
				t.Fatal("Result(-1) succeeded")
			}
			if _, _, err := b.Result(b.Len()); err == nil {
				t.Fatal("Result(Len) succeeded")
			}
			b.Add(fakedaemon.MsgEcho, nil)
			if _, _, err := b.Result(b.Len() - 1); err == nil {
				t.Fatal("result of a call not done")
			}
		})
	}
}

// A batch whose ctx ends with calls unanswered: Do returns ctx's error at
// once, the unanswered calls carry it and are canceled on the daemon, the
// answered ones keep their answers, and the connection carries on.
func TestBatchCanceled(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var b Batch
	b.Add(fakedaemon.MsgEcho, []byte("a"))
	b.Add(fakedaemon.MsgSilent, nil)
	b.Add(fakedaemon.MsgSilent, nil)
	b.Add(fakedaemon.MsgEcho, []byte("b"))
	start := time.Now()
	if err := cl.Do(ctx, &b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v", err)
	}
	t.Logf("Do returned %v after its deadline", time.Since(start)-20*time.Millisecond)
	if typ, got, err := b.Result(0); err != nil || typ != fakedaemon.MsgEcho || string(got) != "a" {
		t.Fatalf("call 0: %v %q %v", typ, got, err)
	}
	for i := 1; i <= 2; i++ {
		if _, _, err := b.Result(i); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Call 3 may have been answered before the cancel, or canceled.
	if typ, got, err := b.Result(3); err != nil && !errors.Is(err, context.DeadlineExceeded) || err == nil && (typ != fakedaemon.MsgEcho || string(got) != "b") {
		t.Fatalf("call 3: %v %q %v", typ, got, err)
	}
	waitFor(t, func() bool { return d.Cancels() >= 2 })
	b.Reset()
	b.Add(fakedaemon.MsgEcho, []byte("again"))
	if err := cl.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if _, got, err := b.Result(0); err != nil || string(got) != "again" {
		t.Fatalf("after cancel: %q %v", got, err)
	}
	// A ctx already done sends nothing.
	done, stop := context.WithCancel(context.Background())
	stop()
	if err := cl.Do(done, &b); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a done ctx = %v", err)
	}
	if _, _, err := b.Result(0); !errors.Is(err, context.Canceled) {
		t.Fatalf("result with a done ctx: %v", err)
	}
}

// The connection fails in the middle of a batch: Do returns a retryable
// connection error and so does every call left without an answer.
func TestBatchConnectionLost(t *testing.T) {
	for _, tr := range testTransports() {
		t.Run(tr.String(), func(t *testing.T) {
			d := fakedaemon.New(t, false)
			cl := dialFake(t, d, WithTransport(tr))
			var b Batch
			b.Add(fakedaemon.MsgEcho, []byte("a"))
			b.Add(fakedaemon.MsgSilent, nil)
			b.Add(fakedaemon.MsgDrop, nil)
			b.Add(fakedaemon.MsgEcho, []byte("b"))
			err := cl.Do(context.Background(), &b)
			if !errors.Is(err, ErrConnLost) || !IsRetryable(err) {
				t.Fatalf("Do = %v", err)
			}
			for i := 1; i < b.Len(); i++ {
				if _, _, err := b.Result(i); !errors.Is(err, ErrConnLost) {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			// The client reconnects for the next batch.
			b.Reset()
			b.Add(fakedaemon.MsgEcho, []byte("c"))
			if err := cl.Do(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			// A closed client: Do fails and so does each call.
			cl.Close()
			if err := cl.Do(context.Background(), &b); !errors.Is(err, ErrClosed) {
				t.Fatalf("Do on a closed client = %v", err)
			}
			if _, _, err := b.Result(0); !errors.Is(err, ErrClosed) {
				t.Fatalf("result on a closed client: %v", err)
			}
		})
	}
}

// Batches from several goroutines at once, beside plain calls, on shared
// connections.
func TestBatchConcurrent(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d, WithConns(2), WithRingSize(16<<10))
	ctx := context.Background()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			var b Batch
			for round := range 50 {
				b.Reset()
				for i := range 40 {
					b.Add(fakedaemon.MsgEcho, []byte(fmt.Sprint(g, round, i)))
				}
				if g%2 == 0 {
					if _, err := cl.Ping(ctx); err != nil {
						errs <- err
						return
					}
				}
				if err := cl.Do(ctx, &b); err != nil {
					errs <- err
					return
				}
				for i := range 40 {
					if _, got, err := b.Result(i); err != nil || string(got) != fmt.Sprint(g, round, i) {
						errs <- fmt.Errorf("goroutine %d round %d call %d: %q %v", g, round, i, got, err)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
