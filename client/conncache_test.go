package client

import (
	"context"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client/internal/fakedaemon"
)

// TestConnCache: a WithConns(1) client keeps its connection out of the
// pool while it is alive, and replaces it through the pool when the daemon
// restarts. A client with more connections does not cache.
func TestConnCache(t *testing.T) {
	d := fakedaemon.New(t, false)
	cl := dialFake(t, d)
	ctx := context.Background()
	if _, err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	first := cl.one.Load()
	if first == nil || !first.alive() {
		t.Fatal("connection not cached")
	}
	d.Stop()
	_, _ = cl.Ping(ctx)
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := cl.Ping(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reconnection")
		}
		time.Sleep(time.Millisecond)
	}
	if c := cl.one.Load(); c == first || c == nil || !c.alive() {
		t.Fatal("dead connection still cached")
	}
	two := dialFake(t, d, WithConns(2))
	if _, err := two.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if two.one.Load() != nil {
		t.Fatal("WithConns(2) cached a connection")
	}
}
