package containers

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon"
)

// TestContainerLoad: 1000 connections (RINGWIRE_CONTAINERS_CONNS) with
// 64 KiB rings to the containerized daemon, one request on each at once,
// every answer checked; the container's memory read from its cgroup (and
// ringwired's RssAnon and VmRSS from /proc of its host pid) when idle,
// with the connections up, at its peak while they are served (sampled
// every 20 ms), and after they close, beside the daemon's own figures from
// its stats (Go heap, stacks, runtime total, descriptors, shared
// mappings); after close no shared mapping or descriptor may stay behind.
func TestContainerLoad(t *testing.T) {
	requireDocker(t)
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("RINGWIRE_CONTAINERS_CONNS")); err == nil && v > 0 {
		n = v
	}
	const ring = 64 << 10
	d := startContainer(t, daemonOpts{uid: -1, args: []string{"-max-conns", strconv.Itoa(n + 10), "-max-ring-size", strconv.Itoa(ring)}})
	statsCl := dial(t, d.sock, client.WithHeartbeat(0, 0))
	idle, idleIn := d.memory(), stats(t, statsCl).Memory

	var peak atomic.Uint64
	sampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-tick.C:
				if m, err := d.readMemory(); err == nil && m.current > peak.Load() {
					peak.Store(m.current)
				}
			}
		}
	})
	stopSampling := sync.OnceFunc(func() { close(sampling); sampler.Wait() })
	defer stopSampling()

	start := time.Now()
	clients := make([]*client.Client, n)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, 64)
	for i := range clients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cl, err := client.Dial(ctx, d.sock, client.WithRingSize(ring), client.WithHeartbeat(0, 0))
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			clients[i] = cl
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d dials failed, e.g. %v", failed.Load(), n, firstErr.Load())
	}
	setup := time.Since(start)
	if st := stats(t, statsCl); st.Sessions != n+1 {
		t.Fatalf("the daemon has %d sessions, want %d", st.Sessions, n+1)
	}
	up, upIn := d.memory(), stats(t, statsCl).Memory
	start = time.Now()
	for i, cl := range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			text := fmt.Sprintf("conn %d", i)
			resp, err := cl.Complete(ctx, userReq(text))
			if err != nil || resp.Content != "mock: "+text {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Errorf("conn %d: %+v, %v", i, resp, err))
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed, e.g. %v", failed.Load(), n, firstErr.Load())
	}
	served := time.Since(start)
	busy, busyIn := d.memory(), stats(t, statsCl).Memory
	stopSampling()
	for i, cl := range clients {
		cl.Close()
		clients[i] = nil
	}
	waitFor(t, "the daemon to drop the closed sessions", func() bool { return stats(t, statsCl).Sessions == 1 })
	time.Sleep(200 * time.Millisecond)
	after, afterIn := d.memory(), stats(t, statsCl).Memory
	mib := func(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	t.Logf("FIGURE load: %d connections (64 KiB rings) set up in %v; %d concurrent requests, one per connection, all answered in %v",
		n, setup.Round(time.Millisecond), n, served.Round(time.Millisecond))
	t.Logf("FIGURE load: container memory idle:            %v", idle)
	t.Logf("FIGURE load: container memory %d conns up:   %v", n, up)
	t.Logf("FIGURE load: container memory after requests: %v; sampled peak while served %s", busy, mib(max(peak.Load(), busy.current)))
	t.Logf("FIGURE load: container memory after close:    %v", after)
	t.Logf("FIGURE load: ringwired's own stats idle:            %s", inProcess(idleIn))
	t.Logf("FIGURE load: ringwired's own stats %d conns up:   %s", n, inProcess(upIn))
	t.Logf("FIGURE load: ringwired's own stats after requests: %s", inProcess(busyIn))
	t.Logf("FIGURE load: ringwired's own stats after close:    %s", inProcess(afterIn))
	// Nothing of the 1000 sessions may stay behind: their shared mappings
	// and descriptors are released once they close.
	if afterIn.SharedMappings > idleIn.SharedMappings {
		t.Errorf("after close the daemon still has %d shared mappings (%d when idle)", afterIn.SharedMappings, idleIn.SharedMappings)
	}
	if afterIn.OpenFDs > idleIn.OpenFDs+4 {
		t.Errorf("after close the daemon still has %d open descriptors (%d when idle)", afterIn.OpenFDs, idleIn.OpenFDs)
	}
	if upIn.SharedMappings < n {
		t.Errorf("with %d shm sessions up the daemon reports %d shared mappings", n, upIn.SharedMappings)
	}
	if up.current > idle.current {
		t.Logf("FIGURE load: %.1f KiB of container memory per connection (current, up - idle)", float64(up.current-idle.current)/float64(n)/1024)
	}
	if after.oomKills != 0 {
		t.Fatalf("oom_kill %d", after.oomKills)
	}
}

// inProcess formats the daemon's own view of its memory (its stats).
func inProcess(m daemon.MemoryStats) string {
	mib := func(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	return fmt.Sprintf("heap live %s, heap objects %s, stacks %s, runtime total %s, %d open fds, %d shared mappings, %d GC cycles",
		mib(m.HeapLiveBytes), mib(m.HeapObjectsBytes), mib(m.StackBytes), mib(m.RuntimeTotalBytes), m.OpenFDs, m.SharedMappings, m.GCCycles)
}
