package loadpeers

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/load"
	"github.com/ringwire/ringwire/protocol"
)

// eventfdChildEnv makes the test binary the eventfd floor's echo process.
const eventfdChildEnv = "LOADPEERS_EVENTFD_CHILD"

func TestMain(m *testing.M) {
	if n := os.Getenv(eventfdChildEnv); n != "" {
		pairs, _ := strconv.Atoi(n)
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		err := ServeEventfd(ctx, pairs)
		stop()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

type peerServer interface {
	Listen(string) error
	Serve(context.Context) error
}

type peer struct {
	name   string
	server func(prov daemon.Provider, ws string) peerServer
	dial   func(ctx context.Context, path string, conns int) (load.Target, error)
}

var peers = []peer{
	{"json", func(p daemon.Provider, ws string) peerServer { return &JSONServer{Provider: p, Workspace: ws} },
		func(ctx context.Context, path string, n int) (load.Target, error) { return DialJSON(ctx, path, n) }},
	{"grpc", func(p daemon.Provider, ws string) peerServer { return &GRPCServer{Provider: p, Workspace: ws} },
		func(ctx context.Context, path string, n int) (load.Target, error) { return DialGRPC(ctx, path, n) }},
}

// startPeer serves p on a fresh socket until the test ends.
func startPeer(t *testing.T, p peer, prov daemon.Provider, ws string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), p.name+".sock")
	srv := p.server(prov, ws)
	if err := srv.Listen(sock); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

// TestPeers: every op of every scenario gets the answer it must over
// each peer, the failures of the errors scenario included.
func TestPeers(t *testing.T) {
	ws := t.TempDir()
	files, err := load.PrepareWorkspace(ws)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := load.LookupScenario("errors", 0.2)
	w, err := load.NewWorkload(s, files, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			sock := startPeer(t, p, &daemon.MockProvider{}, ws)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tg, err := p.dial(ctx, sock, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			kinds := map[load.OpKind]int{}
			for i := range w.Ops {
				op := &w.Ops[i]
				err := tg.Do(ctx, i, op)
				if !load.Expected(op, err) {
					t.Fatalf("op %d (%v, want error %v): %v", i, op.Kind, op.WantError, err)
				}
				kinds[op.Kind]++
			}
			if len(kinds) != 3 {
				t.Errorf("kinds %v", kinds)
			}
			// An unknown tool and a missing workspace fail in the handler.
			bad := &load.Op{Kind: load.OpTool, Tool: &protocol.ToolCall{Name: "rm_rf", Arguments: "{}"}}
			if err := tg.Do(ctx, 0, bad); !errors.Is(err, load.ErrHandler) {
				t.Errorf("unknown tool: %v", err)
			}
			bad.Tool = &protocol.ToolCall{Name: "read_file", Arguments: "not json"}
			if err := tg.Do(ctx, 0, bad); !errors.Is(err, load.ErrHandler) {
				t.Errorf("bad arguments: %v", err)
			}
		})
	}
}

// TestPeersCancelMidStream: a completion canceled while it streams
// returns at once, and the connection goes on serving.
func TestPeersCancelMidStream(t *testing.T) {
	w, err := load.NewWorkload(load.Scenarios(0)[1], nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	op := &w.Ops[0]
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			sock := startPeer(t, p, &daemon.MockProvider{TokenDelay: 2 * time.Millisecond}, "")
			ctx := context.Background()
			tg, err := p.dial(ctx, sock, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			start := time.Now()
			err = tg.Do(cctx, 0, op)
			cancel()
			if err == nil || time.Since(start) > time.Second {
				t.Fatalf("canceled stream: %v after %v", err, time.Since(start))
			}
			for range 3 {
				if err := tg.Do(ctx, 0, &load.Op{Kind: load.OpPing}); err != nil {
					t.Fatalf("ping after a canceled stream: %v", err)
				}
			}
			if err := tg.Do(ctx, 0, op); err != nil {
				t.Fatalf("completion after a canceled stream: %v", err)
			}
		})
	}
}

// TestJSONServerBadInput: garbage is answered with an error and the
// connection closed; a line past maxLine ends the connection; the
// server carries on for others.
func TestJSONServerBadInput(t *testing.T) {
	sock := startPeer(t, peers[0], &daemon.MockProvider{}, "")
	for _, in := range []string{"{not json\n", strings.Repeat("x", maxLine+10) + "\n"} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		go func() { c.Write([]byte(in)) }()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		sc := bufio.NewScanner(c)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		c.Close()
		if len(in) < 100 && (len(lines) != 1 || !strings.Contains(lines[0], "malformed")) {
			t.Errorf("answer to %q: %q", in, lines)
		}
		// Closed: EOF, or a reset when it closed with our bytes unread.
		if err := sc.Err(); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("connection not closed: %v", err)
		}
	}
	ctx := context.Background()
	tg, err := DialJSON(ctx, sock, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Do(ctx, 0, &load.Op{Kind: load.OpPing}); err != nil {
		t.Fatal(err)
	}
	// Unknown ops are handler errors.
	if err := tg.Do(ctx, 0, &load.Op{Kind: 99}); err == nil {
		t.Error("op 99 succeeded")
	}
}

// TestDialRefused: no server, no target.
func TestDialRefused(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, p := range peers {
		if tg, err := p.dial(ctx, sock, 1); err == nil {
			tg.Close()
			t.Errorf("%s: dial of a missing socket succeeded", p.name)
		}
	}
}

func TestFlatCodec(t *testing.T) {
	var c flatCodec
	b, err := c.Marshal(&rawMsg{b: []byte("abc")})
	if err != nil || string(b) != "abc" {
		t.Fatalf("Marshal = %q, %v", b, err)
	}
	var m rawMsg
	buf := []byte("xyz")
	if err := c.Unmarshal(buf, &m); err != nil || string(m.b) != "xyz" {
		t.Fatalf("Unmarshal = %q, %v", m.b, err)
	}
	buf[0] = 'Q'
	if string(m.b) != "xyz" {
		t.Error("Unmarshal kept gRPC's buffer")
	}
	if _, err := c.Marshal("s"); err == nil {
		t.Error("Marshal(string)")
	}
	if err := c.Unmarshal(nil, new(int)); err == nil {
		t.Error("Unmarshal into *int")
	}
}

// TestNodePeer runs a short cell of the errors scenario with the Node
// client against the Node server (both real node processes), paced and
// closed-loop, and checks every answer was the one it must be.
func TestNodePeer(t *testing.T) {
	n, err := NewNode(t.TempDir())
	if errors.Is(err, ErrNoNode) {
		if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	files, err := load.PrepareWorkspace(ws)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "node.sock")
	cmd := exec.Command(n.Bin, n.ServerArgs(sock, ws, 0)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("node server: %v", err)
		}
	}()
	if line, err := bufio.NewReader(stderr).ReadString('\n'); err != nil || !strings.Contains(line, "listening") {
		t.Fatalf("node server: %q, %v", line, err)
	}
	go io.Copy(io.Discard, stderr)
	s, _ := load.LookupScenario("errors", 0.2)
	w, err := load.NewWorkload(s, files, 5)
	if err != nil {
		t.Fatal(err)
	}
	ops := filepath.Join(t.TempDir(), "ops.json")
	if err := WriteOps(ops, w); err != nil {
		t.Fatal(err)
	}
	for _, rate := range []float64{500, 0} {
		c := load.Cell{Scenario: s, Transport: "node", Rate: rate, Conns: 2, Workers: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond}
		r, err := n.Measure(context.Background(), c, sock, ops, cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if r.Unexpected != 0 || r.Sample.Completed == 0 || r.Sample.Errors == 0 {
			t.Errorf("rate %v: %d answers, %d errors, %d unexpected (%v)", rate, r.Sample.Completed, r.Sample.Errors, r.Unexpected, r.FirstUnexpected)
		}
		if rate > 0 && r.Sample.Due != 150 {
			t.Errorf("%v due at 500/s for 300 ms, want 150", r.Sample.Due)
		}
		if r.Sample.Latency.TotalCount() != r.Sample.Completed || r.ClientCPU <= 0 || r.ServerCPU < 0 || r.MemoryErr != nil {
			t.Errorf("rate %v: %d latencies of %d, cpu %v/%v, memory %v", rate, r.Sample.Latency.TotalCount(), r.Sample.Completed, r.ClientCPU, r.ServerCPU, r.MemoryErr)
		}
	}
	pingOps := filepath.Join(t.TempDir(), "ping.json")
	pw, _ := load.NewWorkload(load.Scenarios(0)[0], nil, 1)
	if err := WriteOps(pingOps, pw); err != nil {
		t.Fatal(err)
	}
	nodeDrainCheck(t, n, sock, pingOps, cmd.Process.Pid)
}

// nodeDrainCheck: a rate the Node client cannot reach ends at the drain
// deadline, saturated, with what was not answered by then dropped.
func nodeDrainCheck(t *testing.T, n *Node, sock, ops string, pid int) {
	s, _ := load.LookupScenario("ping", 0)
	c := load.Cell{Scenario: s, Transport: "node", Rate: 1e6, Conns: 1, Workers: 1, Duration: 300 * time.Millisecond}
	start := time.Now()
	r, err := n.Measure(context.Background(), c, sock, ops, pid)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("a saturated cell took %v (drain deadline 1 s)", el)
	}
	if !r.Saturated() || r.Sample.Completed >= r.Sample.Due || r.Sample.Due != 300000 {
		t.Errorf("1M/s: %d of %d answered, saturated %v", r.Sample.Completed, r.Sample.Due, r.Saturated())
	}
}

func TestParseNodeOutput(t *testing.T) {
	in := "L 1000 10 0 0\nL 2000 20 1 0\nL 3000 30 1 1\nE handler: boom\nR 3 5000000 1234\n"
	s := &load.Sample{Latency: load.NewHistogram(), Lag: load.NewHistogram()}
	res := &load.Result{}
	end := false
	if err := parseNodeOutput(strings.NewReader(in), s, res, &end); err != nil || !end {
		t.Fatal(err, end)
	}
	if s.Completed != 3 || s.Errors != 2 || res.Unexpected != 1 || s.Due != 3 || s.Elapsed != 5*time.Millisecond ||
		res.ClientCPU != 1234*time.Microsecond || res.FirstUnexpected == nil || s.Latency.Max() < 2990 {
		t.Errorf("sample %+v, result %+v", s, res)
	}
	for _, bad := range []string{"L 1 2\n", "X 1\n", "L a b c d\n", "R 1 2\n"} {
		end = false
		if err := parseNodeOutput(strings.NewReader(bad), s, res, &end); err == nil {
			t.Errorf("parseNodeOutput(%q) succeeded", bad)
		}
	}
}

func TestCacheLine(t *testing.T) {
	c := NewCacheLine()
	defer c.Close()
	ctx := context.Background()
	for range 1000 {
		if err := c.Do(ctx, 0, &load.Op{Kind: load.OpPing}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Do(ctx, 0, &load.Op{Kind: load.OpTool}); !errors.Is(err, ErrFloorOp) {
		t.Errorf("tool on the cache line: %v", err)
	}
}

// TestEventfdFloor: a re-executed test binary echoes over inherited
// eventfds; pings go round trip on every pair, honour a context, and the
// echo process stops on SIGTERM.
func TestEventfdFloor(t *testing.T) {
	e, files, err := NewEventfdPairs(2)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), eventfdChildEnv+"=2")
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	if err := e.Started(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 200 {
		if err := e.Do(ctx, i, &load.Op{Kind: load.OpPing}); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
	if err := e.Do(ctx, 0, &load.Op{Kind: load.OpComplete}); !errors.Is(err, ErrFloorOp) {
		t.Errorf("completion on the eventfd floor: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("echo process: %v", err)
	}
	// No echo any more: a ping ends with its context.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := e.Do(short, 0, &load.Op{Kind: load.OpPing}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ping without an echo: %v", err)
	}
	if err := ServeEventfd(context.Background(), 0); err == nil {
		t.Error("ServeEventfd with no pairs")
	}
}

// TestEventfdOwed: the answer of a ping canceled before it came is read
// by the next ping with its own, so later pings are not answered by
// their predecessors' echoes.
func TestEventfdOwed(t *testing.T) {
	e, files, err := NewEventfdPairs(1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, f := range files {
		defer f.Close()
	}
	if err := e.Started(); err != nil {
		t.Fatal(err)
	}
	// This process plays the echo, by hand, on its copies (files[0] req, files[1] resp).
	for _, f := range files {
		if err := syscall.SetNonblock(int(f.Fd()), true); err != nil {
			t.Fatal(err)
		}
	}
	req, resp := files[0], files[1]
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if err := e.Do(short, 0, &load.Op{Kind: load.OpPing}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered ping: %v", err)
	}
	cancel()
	var buf [8]byte
	echo := func() {
		if _, err := req.Read(buf[:]); err != nil {
			t.Error(err)
			return
		}
		resp.Write(buf[:])
	}
	echo() // the late answer of the canceled ping
	done := make(chan error, 1)
	go func() { done <- e.Do(context.Background(), 0, &load.Op{Kind: load.OpPing}) }()
	select {
	case err := <-done:
		t.Fatalf("ping answered by its predecessor's echo (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	echo()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
