package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/ringwire/ringwire/integration/internal/load"
	"github.com/ringwire/ringwire/integration/internal/realstack"
	"github.com/ringwire/ringwire/shmring"
)

// Real stacks (issue 13): net/http and gRPC with the server in a child
// process (this test binary re-executed in server mode), over shmring and
// over a plain Unix socket; gRPC over its in-process bufconn as the floor of
// gRPC's own cost. Reported per request: p50-ns and p99-ns of the round
// trip; client-cpu-ns/op (getrusage of this process), server-cpu-ns/op
// (the child's threads' schedstat), cpu-ns/op (both). The Benchmark{HTTP,GRPC}
// ones run closed loop; BenchmarkPaced* send one request per millisecond
// (they take wall time, so their names keep them out of mage bench's
// default set).

// realServerEnv makes the test binary a realstack server:
// "STACK,TRANSPORT,PATH". RINGWIRE_REALSTACK_SPIN (a duration) sets
// shmring.WithSpin on both sides, RINGWIRE_REALSTACK_WAIT (spin or
// predict) shmring.WithWaitPolicy, RINGWIRE_REALSTACK_PAUSE ("EVERY,MAX")
// the server's pauses in the stress stream.
const (
	realServerEnv = "RINGWIRE_REALSTACK_SERVER"
	realSpinEnv   = "RINGWIRE_REALSTACK_SPIN"
	realPauseEnv  = "RINGWIRE_REALSTACK_PAUSE"
	realWaitEnv   = "RINGWIRE_REALSTACK_WAIT"
)

// init, not TestMain: a server child must not build the daemon binaries
// TestMain builds, and TestMain is the harness's.
func init() {
	if spec := os.Getenv(realServerEnv); spec != "" {
		os.Exit(realServerChild(spec))
	}
}

// realServerChild serves until its stdin reaches EOF (the parent closed it
// or died), after printing "ready" on stdout.
func realServerChild(spec string) int {
	f := strings.SplitN(spec, ",", 3)
	if len(f) != 3 {
		fmt.Fprintf(os.Stderr, "%s=%q: want STACK,TRANSPORT,PATH\n", realServerEnv, spec)
		return 2
	}
	p, err := parsePauses(os.Getenv(realPauseEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opts, err := realShmOptions()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := realstack.Start(f[0], f[1], f[2], p, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realstack server:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "realstack server:", err)
		return 1
	}
	return 0
}

func parsePauses(s string) (realstack.Pauses, error) {
	if s == "" {
		return realstack.Pauses{}, nil
	}
	var p realstack.Pauses
	every, max, ok := strings.Cut(s, ",")
	if _, err := fmt.Sscan(every, &p.Every); !ok || err != nil {
		return p, fmt.Errorf("%s=%q: want EVERY,MAX", realPauseEnv, s)
	}
	d, err := time.ParseDuration(max)
	if err != nil {
		return p, fmt.Errorf("%s=%q: %w", realPauseEnv, s, err)
	}
	p.Max = d
	return p, nil
}

// realShmOptions are the shmring options both sides use.
func realShmOptions() ([]shmring.Option, error) {
	var opts []shmring.Option
	if v := os.Getenv(realSpinEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", realSpinEnv, v, err)
		}
		opts = append(opts, shmring.WithSpin(d))
	}
	switch v := os.Getenv(realWaitEnv); v {
	case "":
	case "spin":
		opts = append(opts, shmring.WithWaitPolicy(shmring.WaitSpin))
	case "predict":
		opts = append(opts, shmring.WithWaitPolicy(shmring.WaitPredict))
	default:
		return nil, fmt.Errorf("%s=%q: want spin or predict", realWaitEnv, v)
	}
	return opts, nil
}

// realServer is a realstack server child.
type realServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	path  string
	errb  bytes.Buffer
}

// startRealServer starts a child serving stack over transport and waits
// until it listens; it is stopped when tb ends. env is added to the child's.
func startRealServer(tb testing.TB, stack, transport string, env ...string) *realServer {
	tb.Helper()
	path := filepath.Join(socketDir(tb), "s.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), realServerEnv+"="+stack+","+transport+","+path), env...)
	s := &realServer{cmd: cmd, path: path}
	cmd.Stderr = &s.errb
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			tb.Fatalf("realstack server did not start: %s", s.errb.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tb.Fatalf("realstack server not ready after 20 s: %s", s.errb.String())
	}
	tb.Cleanup(func() { s.stop(tb) })
	return s
}

// stop closes the child's stdin and waits for a clean exit.
func (s *realServer) stop(tb testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("realstack server: %v: %s", err, s.errb.String())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		tb.Errorf("realstack server did not stop: %s", s.errb.String())
	}
}

func (s *realServer) pid() int { return s.cmd.Process.Pid }

// dialer is the client's dial function for the child.
func (s *realServer) dialer(tb testing.TB, transport string) func(context.Context, string) (net.Conn, error) {
	opts, err := realShmOptions()
	if err != nil {
		tb.Fatal(err)
	}
	d, err := realstack.Dialer(transport, s.path, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

var realTransports = []string{realstack.Shm, realstack.Unix}

// shmConnsFor returns a collector of shmring connections for transport
// Shm, nil (collecting nothing) for the others.
func shmConnsFor(transport string) *shmConns {
	if transport == realstack.Shm {
		return &shmConns{}
	}
	return nil
}

// pacedInterval is the pacing of the BenchmarkPaced* ones.
const pacedInterval = time.Millisecond

// measureRequests runs call b.N times (after a warm-up), closed loop or
// paced at one call per pacedInterval, and reports the latency quantiles
// and the CPU per call of this process and of serverPID (0: in-process).
func measureRequests(b *testing.B, serverPID int, paced bool, call func() error, conns *shmConns) {
	b.Helper()
	warm := func() {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
	if paced {
		for range 100 {
			warm()
			time.Sleep(pacedInterval)
		}
	} else {
		warmUp(warm)
	}
	samples := make([]time.Duration, 0, min(b.N, 1<<20))
	st0 := conns.stats()
	cpu0, err := load.SelfCPU()
	if err != nil {
		b.Fatal(err)
	}
	var srv0 load.CPUTime
	if serverPID != 0 {
		if srv0, err = load.ProcCPU(serverPID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	due := time.Now()
	for range b.N {
		if paced {
			due = due.Add(pacedInterval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			} else {
				due = time.Now() // late: do not send a burst to catch up
			}
		}
		t0 := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		if len(samples) < cap(samples) {
			samples = append(samples, time.Since(t0))
		}
	}
	b.StopTimer()
	cpu1, err := load.SelfCPU()
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	total := cpu1 - cpu0
	b.ReportMetric(float64(total.Nanoseconds())/n, "client-cpu-ns/op")
	if serverPID != 0 {
		srv1, err := load.ProcCPU(serverPID)
		if err != nil {
			b.Fatal(err)
		}
		sc := srv1.Sub(srv0)
		b.ReportMetric(float64(sc.Nanoseconds())/n, "server-cpu-ns/op")
		total += sc
	}
	b.ReportMetric(float64(total.Nanoseconds())/n, "cpu-ns/op")
	reportLatency(b, slices.Clone(samples))
	if conns != nil {
		st := conns.stats()
		for _, m := range []struct {
			unit string
			v    uint64
		}{
			{"records/op", st.MsgsSent - st0.MsgsSent},
			{"wakeups/op", st.Wakeups - st0.Wakeups},
			{"parks/op", st.Parks - st0.Parks},
			{"spin-hits/op", st.SpinHits - st0.SpinHits},
			{"spin-misses/op", st.SpinMisses - st0.SpinMisses},
		} {
			b.ReportMetric(float64(m.v)/n, m.unit)
		}
	}
}

// shmConns keeps the client's shmring connections, for their Stats: the
// client side's records sent, doorbells rung, parks and spins per request.
type shmConns struct {
	mu    sync.Mutex
	conns []*shmring.Conn
}

// wrap records the *shmring.Conn dial makes; nil for other transports.
func (sc *shmConns) wrap(dial func(context.Context, string) (net.Conn, error)) func(context.Context, string) (net.Conn, error) {
	if sc == nil {
		return dial
	}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := dial(ctx, addr)
		if shm, ok := c.(*shmring.Conn); ok {
			sc.mu.Lock()
			sc.conns = append(sc.conns, shm)
			sc.mu.Unlock()
		}
		return c, err
	}
}

// stats sums the client connections' counters (zero for a nil sc).
func (sc *shmConns) stats() shmring.Stats {
	var sum shmring.Stats
	if sc == nil {
		return sum
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, c := range sc.conns {
		st := c.Stats()
		sum.MsgsSent += st.MsgsSent
		sum.Wakeups += st.Wakeups
		sum.Parks += st.Parks
		sum.SpinHits += st.SpinHits
		sum.SpinMisses += st.SpinMisses
	}
	return sum
}

// httpEcho returns a call that POSTs 64 bytes to the echo service and
// checks the answer.
func httpEcho(b *testing.B, cl *http.Client) func() error {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4)
	got := make([]byte, len(body)+1)
	return func() error {
		resp, err := cl.Post(realstack.EchoURL, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			return err
		}
		n, err := io.ReadFull(resp.Body, got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n != len(body) || err != io.ErrUnexpectedEOF || !bytes.Equal(got[:n], body) {
			return fmt.Errorf("echo: status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
		return nil
	}
}

func benchHTTP(b *testing.B, paced bool) {
	for _, tr := range realTransports {
		b.Run("transport="+tr, func(b *testing.B) {
			s := startRealServer(b, realstack.HTTP, tr)
			conns := shmConnsFor(tr)
			cl := realstack.NewHTTPClient(conns.wrap(s.dialer(b, tr)))
			defer cl.CloseIdleConnections()
			measureRequests(b, s.pid(), paced, httpEcho(b, cl), conns)
		})
	}
}

// BenchmarkHTTP: a 64-byte POST echoed by net/http in a child process,
// closed loop, over shmring and a Unix socket.
func BenchmarkHTTP(b *testing.B) { benchHTTP(b, false) }

// BenchmarkPacedHTTP is BenchmarkHTTP at one request per millisecond.
func BenchmarkPacedHTTP(b *testing.B) { benchHTTP(b, true) }

func grpcHealth(b *testing.B, cc *grpc.ClientConn) func() error {
	hc := healthpb.NewHealthClient(cc)
	ctx := context.Background()
	return func() error { return realstack.HealthCheck(ctx, hc) }
}

func benchGRPC(b *testing.B, paced bool) {
	for _, tr := range realTransports {
		b.Run("transport="+tr, func(b *testing.B) {
			s := startRealServer(b, realstack.GRPC, tr)
			conns := shmConnsFor(tr)
			cc, err := realstack.NewGRPCClient(conns.wrap(s.dialer(b, tr)))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			measureRequests(b, s.pid(), paced, grpcHealth(b, cc), conns)
		})
	}
	b.Run("transport=bufconn", func(b *testing.B) {
		ln := bufconn.Listen(1 << 20)
		srv := realstack.NewGRPCServer(realstack.Pauses{})
		go func() { _ = srv.Serve(ln) }()
		defer srv.Stop()
		cc, err := realstack.NewGRPCClient(func(ctx context.Context, _ string) (net.Conn, error) {
			return ln.DialContext(ctx)
		})
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		measureRequests(b, 0, paced, grpcHealth(b, cc), nil)
	})
}

// BenchmarkGRPC: a gRPC health check (grpc.health.v1.Health/Check) served
// by a child process, closed loop, over shmring and a Unix socket; and
// in-process over bufconn, the floor of gRPC's own cost.
func BenchmarkGRPC(b *testing.B) { benchGRPC(b, false) }

// BenchmarkPacedGRPC is BenchmarkGRPC at one request per millisecond.
func BenchmarkPacedGRPC(b *testing.B) { benchGRPC(b, true) }

// TestRealStacks: each stack answers correctly over each transport across
// processes (what the benchmarks measure works).
func TestRealStacks(t *testing.T) {
	for _, tr := range realTransports {
		t.Run("http/"+tr, func(t *testing.T) {
			s := startRealServer(t, realstack.HTTP, tr)
			cl := realstack.NewHTTPClient(s.dialer(t, tr))
			defer cl.CloseIdleConnections()
			body := bytes.Repeat([]byte{7}, 100<<10)
			resp, err := cl.Post(realstack.EchoURL, "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("echo of 100 KiB: %d bytes, %v", len(got), err)
			}
			resp, err = cl.Post(realstack.EchoURL, "application/octet-stream", io.LimitReader(neverEnding(1), 2<<20))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("2 MiB body: status %d, want 413", resp.StatusCode)
			}
		})
		t.Run("grpc/"+tr, func(t *testing.T) {
			s := startRealServer(t, realstack.GRPC, tr)
			cc, err := realstack.NewGRPCClient(s.dialer(t, tr))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := realstack.HealthCheck(ctx, healthpb.NewHealthClient(cc)); err != nil {
				t.Fatal(err)
			}
			res, err := realstack.RunStress(ctx, cc, 500, realstack.Pauses{})
			if err != nil || res.Received != 500 {
				t.Fatalf("stream: %+v, %v", res, err)
			}
		})
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
