package containers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mobyclient "github.com/moby/moby/client"
	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// Recovery targets from the issue; the suites print each figure beside its
// target and fail only past the hard bound (a shared 2-vCPU machine).
const (
	targetFail    = 100 * time.Millisecond
	targetRecover = 100 * time.Millisecond
	hardBound     = 2 * time.Second
)

func verdict(d, target time.Duration) string {
	if d <= target {
		return fmt.Sprintf("within the %v target", target)
	}
	return fmt.Sprintf("OVER the %v target", target)
}

// streamResult is how one streamed completion ended.
type streamResult struct {
	tr  protocol.Transport
	got string
	err error
	at  time.Time
}

// stream runs a streamed completion of prompt on cl, signals first after
// its first chunk, and reports how it ended.
func stream(cl *client.Client, tr protocol.Transport, prompt string, first func(), out chan<- streamResult) {
	var sb strings.Builder
	signaled := false
	for chunk, err := range cl.CompleteStream(context.Background(), userReq(prompt)) {
		if err != nil {
			out <- streamResult{tr, sb.String(), err, time.Now()}
			return
		}
		sb.WriteString(chunk.Delta)
		if !signaled {
			signaled = true
			first()
		}
	}
	out <- streamResult{tr, sb.String(), nil, time.Now()}
}

// upResult is when a client's ping first succeeded again, and what the
// attempts before it met.
type upResult struct {
	at       time.Time // zero: no ping succeeded within 30 s
	attempts int       // failed pings before it
	lastErr  error     // the last failure, nil if none
	lastAt   time.Time // when the last failure returned
}

func (u upResult) String() string {
	if u.lastErr == nil {
		return "the first ping succeeded"
	}
	return fmt.Sprintf("after %d failed pings, the last returning %v before: %v", u.attempts, u.at.Sub(u.lastAt).Round(time.Microsecond), u.lastErr)
}

// pingUntilUp pings cl every millisecond until a ping succeeds.
func pingUntilUp(cl *client.Client) upResult {
	var u upResult
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cl.Ping(ctx)
		cancel()
		if err == nil {
			u.at = time.Now()
			return u
		}
		u.attempts, u.lastErr, u.lastAt = u.attempts+1, err, time.Now()
		time.Sleep(time.Millisecond)
	}
	return u
}

// TestContainerKilled: `docker kill` (SIGKILL) while streams are in flight
// on both transports: every stream fails with ErrConnLost (retryable)
// after a clean prefix of its text, within the target; a call while the
// daemon is down fails at once; after `docker start` the same clients work
// again within the target of the daemon logging that it listens.
func TestContainerKilled(t *testing.T) {
	requireDocker(t)
	d := startContainer(t, daemonOpts{uid: -1, args: []string{"-mock-token-delay", "20ms"}})
	const perTr = 4
	prompt := words("k", 60) // 61 tokens, 1.2 s at 20 ms each
	want := "mock: " + prompt
	clients := map[protocol.Transport]*client.Client{}
	results := make(chan streamResult, 2*perTr)
	var firstChunks sync.WaitGroup
	for _, tr := range transports {
		cl := dial(t, d.sock, client.WithTransport(tr), client.WithConns(2))
		clients[tr] = cl
		for range perTr {
			firstChunks.Add(1)
			go stream(cl, tr, prompt, firstChunks.Done, results)
		}
	}
	firstChunks.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d.dirtyExit = true
	exited := d.watchExit()
	called := time.Now()
	if _, err := docker.ContainerKill(ctx, d.id, mobyclient.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	apiTook := time.Since(called)
	died, ok := <-exited
	if !ok {
		t.Fatal("ringwired did not exit on docker kill")
	}
	worst := map[protocol.Transport]time.Duration{}
	for range 2 * perTr {
		r := <-results
		if r.err == nil {
			t.Fatalf("%s: a stream completed although the daemon was killed mid-stream", r.tr)
		}
		if !errors.Is(r.err, client.ErrConnLost) || !client.IsRetryable(r.err) {
			t.Fatalf("%s: stream ended with %v, want a retryable ErrConnLost", r.tr, r.err)
		}
		if !strings.HasPrefix(want, r.got) || len(r.got) == 0 {
			t.Fatalf("%s: the stream's text before the kill is not a prefix of the answer: %q", r.tr, r.got)
		}
		// Signed: a stream can fail before the pidfd wakes (the kernel
		// closes the sockets before it reaps the process).
		if w, ok := worst[r.tr]; !ok || r.at.Sub(died) > w {
			worst[r.tr] = r.at.Sub(died)
		}
	}
	for _, tr := range transports {
		t.Logf("FIGURE docker kill mid-stream: %s: all %d streams failed (ErrConnLost, clean prefix) within %v of ringwired's exit "+
			"(seen through a pidfd; docker kill took %v to return) - %s", tr, perTr, worst[tr].Round(time.Microsecond), apiTook.Round(time.Millisecond),
			verdict(worst[tr], targetFail))
		if worst[tr] > hardBound {
			t.Errorf("%s: streams took %v to fail", tr, worst[tr])
		}
		start := time.Now()
		_, err := clients[tr].Ping(ctx)
		if !client.IsRetryable(err) {
			t.Fatalf("%s: ping while the daemon is down: %v, want a retryable error", tr, err)
		}
		t.Logf("%s: ping while down failed in %v: %v", tr, time.Since(start).Round(time.Microsecond), err)
	}

	up := map[protocol.Transport]upResult{}
	var mu sync.Mutex
	var pingers sync.WaitGroup
	for tr, cl := range clients {
		pingers.Go(func() {
			at := pingUntilUp(cl)
			mu.Lock()
			up[tr] = at
			mu.Unlock()
		})
	}
	if _, err := docker.ContainerStart(ctx, d.id, mobyclient.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	listening := d.waitListening(2)
	pingers.Wait()
	d.dirtyExit = false
	for _, tr := range transports {
		if up[tr].at.IsZero() {
			t.Fatalf("%s: no ping succeeded after the restart (%v)", tr, up[tr].lastErr)
		}
		gap := up[tr].at.Sub(listening)
		t.Logf("FIGURE docker start after kill: %s: the same client pings %v after the restarted daemon logged it listens - %s (%v)",
			tr, gap.Round(time.Microsecond), verdict(gap, targetRecover), up[tr])
		if gap > hardBound {
			t.Errorf("%s: reconnection took %v", tr, gap)
		}
		if _, err := roundTrips(ctx, clients[tr]); err != nil {
			t.Fatalf("%s after the restart: %v", tr, err)
		}
	}
}

// TestContainerPaused: `docker pause` freezes the daemon. Calls with a
// deadline fail with it; calls without one fail with ErrConnLost when the
// heartbeat times out; new calls fail within the dial timeout instead of
// hanging. After `docker unpause` the same clients work again, every
// answer reaches its own call, and the daemon drops the sessions the
// clients gave up on.
func TestContainerPaused(t *testing.T) {
	requireDocker(t)
	d := startContainer(t, daemonOpts{uid: -1})
	const hbEvery, hbTimeout, dialTimeout, callDeadline = 100 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond, 300 * time.Millisecond
	clients := map[protocol.Transport]*client.Client{}
	for _, tr := range transports {
		clients[tr] = dial(t, d.sock, client.WithTransport(tr), client.WithHeartbeat(hbEvery, hbTimeout), client.WithDialTimeout(dialTimeout))
	}
	type result struct {
		tr       protocol.Transport
		deadline bool
		err      error
		at       time.Time
	}
	results := make(chan result, 4)
	for tr, cl := range clients {
		for _, withDeadline := range []bool{true, false} {
			go func() {
				ctx := context.Background()
				if withDeadline {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, callDeadline)
					defer cancel()
				}
				_, err := cl.CallTool(ctx, &protocol.ToolCall{Name: "sleep", Arguments: "2000"})
				results <- result{tr, withDeadline, err, time.Now()}
			}()
		}
	}
	waitFor(t, "4 calls in flight", func() bool { return stats(t, clients[protocol.TransportShm]).InFlight >= 4 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := docker.ContainerPause(ctx, d.id, mobyclient.ContainerPauseOptions{}); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	for range 4 {
		var r result
		select {
		case r = <-results:
		case <-time.After(10 * time.Second):
			t.Fatal("a call in flight at the pause hung for 10 s")
		}
		took := r.at.Sub(paused)
		if r.deadline {
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Fatalf("%s: call with a %v deadline: %v, want DeadlineExceeded", r.tr, callDeadline, r.err)
			}
			t.Logf("FIGURE docker pause: %s: a call's %v deadline fired %v after the pause", r.tr, callDeadline, took.Round(time.Microsecond))
			if took > callDeadline+hardBound {
				t.Errorf("%s: the %v deadline fired %v after the pause", r.tr, callDeadline, took)
			}
			continue
		}
		if !errors.Is(r.err, client.ErrConnLost) {
			t.Fatalf("%s: call without a deadline: %v, want ErrConnLost from the heartbeat", r.tr, r.err)
		}
		t.Logf("FIGURE docker pause: %s: the heartbeat (every %v, timeout %v) failed the call without a deadline %v after the pause",
			r.tr, hbEvery, hbTimeout, took.Round(time.Microsecond))
		if took > hbEvery+hbTimeout+hardBound {
			t.Errorf("%s: the heartbeat took %v to fire", r.tr, took)
		}
	}
	for tr, cl := range clients {
		start := time.Now()
		_, err := cl.Ping(ctx)
		took := time.Since(start)
		if err == nil || !client.IsRetryable(err) {
			t.Fatalf("%s: ping to the paused daemon: %v, want a retryable error", tr, err)
		}
		t.Logf("%s: ping to the paused daemon failed in %v: %v", tr, took.Round(time.Microsecond), err)
		if took > dialTimeout+hardBound {
			t.Errorf("%s: ping to the paused daemon took %v", tr, took)
		}
	}
	if _, err := docker.ContainerUnpause(ctx, d.id, mobyclient.ContainerUnpauseOptions{}); err != nil {
		t.Fatal(err)
	}
	unpaused := time.Now()
	for tr, cl := range clients {
		u := pingUntilUp(cl)
		if u.at.IsZero() {
			t.Fatalf("%s: no ping succeeded after the unpause (%v)", tr, u.lastErr)
		}
		gap := u.at.Sub(unpaused)
		t.Logf("FIGURE docker unpause: %s: the client pings again %v after the unpause - %s (%v)", tr, gap.Round(time.Microsecond), verdict(gap, targetRecover), u)
		if gap > hardBound {
			t.Errorf("%s: recovery after the unpause took %v", tr, gap)
		}
	}
	// No session confused: many concurrent calls, each answered with its own text.
	var wg sync.WaitGroup
	var bad atomic.Int64
	var firstBad atomic.Value
	for tr, cl := range clients {
		for i := range 64 {
			wg.Go(func() {
				text := fmt.Sprintf("%s call %d", tr, i)
				resp, err := cl.Complete(ctx, userReq(text))
				if err != nil || resp.Content != "mock: "+text {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%q answered %+v, %v", text, resp, err))
				}
			})
		}
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d calls after the unpause went wrong, e.g. %v", bad.Load(), firstBad.Load())
	}
	waitFor(t, "the daemon to drop the abandoned sessions", func() bool { return stats(t, clients[protocol.TransportShm]).Sessions == 2 })
	t.Logf("after the unpause: 128 concurrent calls each got their own answer; the daemon is back to 2 sessions")
}

// TestContainerStopped: `docker stop` (SIGTERM) while streams and tool
// calls are in flight: the daemon drains, every in-flight request
// completes in full, a request made during the drain is refused with a
// retryable error, and the daemon exits 0.
func TestContainerStopped(t *testing.T) {
	requireDocker(t)
	d := startContainer(t, daemonOpts{uid: -1, args: []string{"-mock-token-delay", "10ms", "-drain-timeout", "10s"}})
	const perTr = 8
	prompt := words("s", 50) // 51 tokens, 0.5 s at 10 ms each
	clients := map[protocol.Transport]*client.Client{}
	results := make(chan streamResult, 2*perTr)
	toolErrs := make(chan error, 2*perTr)
	var firstChunks sync.WaitGroup
	for _, tr := range transports {
		cl := dial(t, d.sock, client.WithTransport(tr), client.WithConns(2))
		clients[tr] = cl
		for range perTr {
			firstChunks.Add(1)
			go stream(cl, tr, prompt, firstChunks.Done, results)
			go func() {
				res, err := cl.CallTool(context.Background(), &protocol.ToolCall{Name: "sleep", Arguments: "700"})
				if err == nil && res.IsError {
					err = errors.New(res.Content)
				}
				toolErrs <- err
			}()
		}
	}
	firstChunks.Wait()
	waitFor(t, "every call in flight", func() bool { return stats(t, clients[protocol.TransportShm]).InFlight >= 4*perTr })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopped := make(chan error, 1)
	start := time.Now()
	go func() {
		timeout := 30
		_, err := docker.ContainerStop(ctx, d.id, mobyclient.ContainerStopOptions{Timeout: &timeout})
		stopped <- err
	}()
	// A new request while the daemon drains is refused, not hung. (docker
	// stop may take a few hundred ms to deliver SIGTERM on a busy machine.)
	d.waitLog("msg=draining")
	for tr, cl := range clients {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		t0 := time.Now()
		_, err := cl.Complete(cctx, userReq("too late"))
		ccancel()
		if err == nil || !client.IsRetryable(err) {
			t.Errorf("%s: a request during the drain: %v, want a retryable refusal", tr, err)
		}
		t.Logf("%s: a request during the drain was refused in %v: %v", tr, time.Since(t0).Round(time.Microsecond), err)
	}
	for range 2 * perTr {
		r := <-results
		if r.err != nil || r.got != "mock: "+prompt {
			t.Fatalf("%s: a stream in flight at SIGTERM ended with %v after %q", r.tr, r.err, r.got)
		}
	}
	for range 2 * perTr {
		if err := <-toolErrs; err != nil {
			t.Fatalf("a tool call in flight at SIGTERM: %v", err)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	st, err := d.state(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 0 {
		t.Fatalf("ringwired exited with %d after SIGTERM; log:\n%s", st.ExitCode, d.logs())
	}
	t.Logf("FIGURE docker stop: all %d streams and %d tool calls in flight completed in full, none lost; the container stopped (exit 0) %v after docker stop was called",
		2*perTr, 2*perTr, took.Round(time.Millisecond))
	// The longest request in flight needs about 0.7 s more; the drain must
	// not run into its 10 s -drain-timeout (which would cut requests off).
	if took > 10*time.Second {
		t.Errorf("the drain took %v, past the daemon's -drain-timeout of 10s", took)
	}
}

// TestContainerHostileClients: clients that send garbage (random bytes,
// all 0xff) or connect and never speak, on both sockets, while good
// clients keep calling: the daemon closes the hostile connections and
// every good call is answered.
func TestContainerHostileClients(t *testing.T) {
	requireDocker(t)
	d := startContainer(t, daemonOpts{uid: -1})
	clients := map[protocol.Transport]*client.Client{}
	for _, tr := range transports {
		clients[tr] = dial(t, d.sock, client.WithTransport(tr))
	}
	stop := make(chan struct{})
	var good, bad atomic.Int64
	var firstBad atomic.Value
	var callers sync.WaitGroup
	for tr, cl := range clients {
		callers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				text := fmt.Sprintf("%s %d", tr, i)
				resp, err := cl.Complete(ctx, userReq(text))
				cancel()
				if err != nil || resp.Content != "mock: "+text {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("%q: %+v, %v", text, resp, err))
				} else {
					good.Add(1)
				}
			}
		})
	}
	random := make([]byte, 64<<10)
	rand.Read(random)
	ones := []byte(strings.Repeat("\xff", 4096))
	type hostile struct {
		name, path string
		send       []byte // nil: connect and never speak
	}
	var cases []hostile
	for _, s := range []struct{ name, path string }{{"shm socket", d.sock}, {"stream socket", d.sock + protocol.StreamSuffix}} {
		cases = append(cases,
			hostile{"64 KiB of random bytes on the " + s.name, s.path, random},
			hostile{"4 KiB of 0xff on the " + s.name, s.path, ones},
			hostile{"a silent client on the " + s.name, s.path, nil})
	}
	var wg sync.WaitGroup
	lines := make([]string, len(cases))
	errs := make([]error, len(cases))
	for i, c := range cases {
		wg.Go(func() {
			conn, err := net.Dial("unix", c.path)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			start := time.Now()
			if c.send != nil {
				conn.Write(c.send) // the daemon may close before it has read it all
			}
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			buf := make([]byte, 4096)
			got := 0
			for {
				n, err := conn.Read(buf)
				got += n
				if err == nil {
					continue
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					errs[i] = fmt.Errorf("%s: the daemon kept the connection open for 15 s", c.name)
					return
				}
				lines[i] = fmt.Sprintf("%s: closed by the daemon after %v (%d bytes answered)", c.name, time.Since(start).Round(time.Millisecond), got)
				return
			}
		})
	}
	wg.Wait()
	close(stop)
	callers.Wait()
	for i := range cases {
		if errs[i] != nil {
			t.Error(errs[i])
		} else {
			t.Logf("FIGURE hostile: %s", lines[i])
		}
	}
	if bad.Load() > 0 || good.Load() == 0 {
		t.Fatalf("meanwhile %d good calls were answered and %d failed, e.g. %v", good.Load(), bad.Load(), firstBad.Load())
	}
	t.Logf("FIGURE hostile: meanwhile the good clients' %d calls were all answered", good.Load())
	waitFor(t, "the daemon to be back to the 2 good sessions", func() bool { return stats(t, clients[protocol.TransportShm]).Sessions == 2 })
}

// TestContainerMemoryLimit: the daemon in a 64 MiB container (no swap)
// with -max-conns sized to it: a budget of 16 MiB for the runtime and 3 MiB
// a connection (its two 1 MiB rings fully touched, and the buffers of a
// 256 KiB request and its answer) gives 16 connections. It serves them all
// at once, each with round trips that wrap its rings, refuses the rest at
// setup with TooManyConns, stays within its budget, and is never
// OOM-killed.
func TestContainerMemoryLimit(t *testing.T) {
	requireDocker(t)
	const (
		limit         = 64 << 20
		runtimeBudget = 16 << 20 // Go runtime, heap, goroutines, the binary's pages
		ring          = 1 << 20
		perConn       = 2*ring + 1<<20
		maxConns      = (limit - runtimeBudget) / perConn
		payload       = 256 << 10
		rounds        = ring/payload + 1 // enough to wrap each ring once
		extra         = 8
	)
	d := startContainer(t, daemonOpts{uid: -1, memory: limit,
		args: []string{"-max-conns", fmt.Sprint(maxConns), "-max-ring-size", fmt.Sprint(ring)}})
	idle := d.memory()
	t.Logf("idle: %v", idle)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := make([]*client.Client, maxConns)
	for i := range served {
		served[i] = dial(t, d.sock, client.WithTransport(transports[i%2]), client.WithRingSize(ring), client.WithHeartbeat(0, 0))
	}
	var wg sync.WaitGroup
	errs := make([]error, maxConns)
	start := time.Now()
	for i, cl := range served {
		wg.Go(func() {
			for r := range rounds {
				big := strings.Repeat(string(rune('a'+r)), payload) // one 256 KiB word
				resp, err := cl.Complete(ctx, userReq(big))
				if err != nil || resp.Content != "mock: "+big {
					errs[i] = fmt.Errorf("connection %d (%s), round trip %d: %v", i, transports[i%2], r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	full := d.memory()
	t.Logf("FIGURE memory limit: -max-conns %d sized to %d MiB (%d MiB runtime + %d MiB a connection); all %d served at once, %d round trips of 256 KiB each (rings wrapped), in %v: %v",
		maxConns, limit>>20, runtimeBudget>>20, perConn>>20, maxConns, rounds, time.Since(start).Round(time.Millisecond), full)
	if full.current > idle.current {
		per := (full.current - idle.current) / maxConns
		t.Logf("FIGURE memory limit: %.0f KiB a served connection (current, full - idle), against a budget of %d KiB", float64(per)/1024, perConn>>10)
		if per > perConn {
			t.Errorf("a connection costs %d bytes, over the %d the sizing assumes", per, perConn)
		}
	}
	if peak := max(full.peak, full.current); peak > limit-runtimeBudget/2 {
		t.Errorf("the container's peak %d MiB is within %d MiB of its %d MiB limit", peak>>20, runtimeBudget>>21, limit>>20)
	}
	for i := range extra {
		tr := transports[i%2]
		start := time.Now()
		cl, err := client.Dial(ctx, d.sock, client.WithTransport(tr), client.WithRingSize(ring), client.WithHeartbeat(0, 0))
		if err == nil {
			cl.Close()
			t.Fatalf("%s: connection %d over -max-conns %d was served", tr, maxConns+i+1, maxConns)
		}
		var pe *protocol.Error
		if !errors.Is(err, client.ErrRefused) || !errors.As(err, &pe) || pe.Code != protocol.ErrCodeTooManyConns {
			t.Fatalf("%s: connection over the limit: %v, want ErrRefused with TooManyConns", tr, err)
		}
		if i < 2 {
			t.Logf("FIGURE memory limit: %s: connection %d refused at setup in %v: %v", tr, maxConns+i+1, time.Since(start).Round(time.Microsecond), err)
		}
	}
	for i, cl := range served {
		if _, err := cl.Ping(ctx); err != nil {
			t.Fatalf("served connection %d after the refusals: %v", i, err)
		}
	}
	after := d.memory()
	st, err := d.state(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.OOMKilled || after.ooms != 0 || after.oomKills != 0 {
		t.Fatalf("the daemon under a %d MiB limit: running %v, OOMKilled %v, oom %d, oom_kill %d", limit>>20, st.Running, st.OOMKilled, after.ooms, after.oomKills)
	}
	t.Logf("FIGURE memory limit: %d refused, all %d served connections still answer, never OOM-killed (docker OOMKilled %v, oom %d, oom_kill %d, limit %d MiB): %v",
		extra, maxConns, st.OOMKilled, after.ooms, after.oomKills, limit>>20, after)
}
