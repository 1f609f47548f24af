// Command ringwire-load measures ringwired, and the comparison peers, under
// the traffic an editor sends: scenarios of pings, streamed completions
// and tool calls over N connections, at target rates on an open-loop
// schedule (latency from each request's due time: no coordinated
// omission) and at full speed (closed loop).
//
//	ringwire-load -daemon ./ringwired -scenarios ping,completion -rates 100,1000,max
//	ringwire-load -socket $XDG_RUNTIME_DIR/ringwire/ringwired.sock -workspace ~/src/project
//
// It starts its own ringwired (-daemon, the binary's path) or connects to
// a running one (-socket, with -workspace naming the daemon's workspace
// for the tool scenarios) and records which. Each cell (scenario ×
// transport × rate) runs a warm-up, then -duration; progress goes to
// stderr. At the end it prints a table and benchfmt lines
// (BenchmarkLoad/scenario=ping/transport=shm/rate=1000 ...) for benchdash,
// on stdout or to -benchfmt FILE. When shm is in the run it prints every
// cell's figures (p50, p99, throughput, CPU per request, server RssAnon)
// as ratios to the shm cell of the same scenario and rate.
//
// With -chart FILE it draws the median latency against the achieved rate
// as SVG, a line per transport and a panel per scenario; with -readme
// FILE it rewrites the block between "<!-- compare:begin -->" and
// "<!-- compare:end -->" of that Markdown file with the machine, the date,
// the command, sentences computed from the table (what holds at the
// lowest paced rate, what at full speed, the full-speed targets
// met or not, which cells saturated), the chart and the Markdown table.
// Both are written only after a complete run (every cell, no unexpected
// outcome). `go tool mage compare` runs it so on the root README.
//
// It exits 1 if a request had an unexpected outcome (a transport error,
// a wrong answer), 2 on a bad command line.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/load"
	"github.com/ringwire/ringwire/integration/internal/loadpeers"
	"github.com/ringwire/ringwire/protocol"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Transports ringwire-load knows.
var allTransports = []string{"shm", "socket", "json", "grpc", "node", "eventfd", "cacheline"}

// isFloor reports whether transport t is a floor (loadpeers.Eventfd,
// loadpeers.CacheLine): it answers pings only, and the cache line only
// in a closed loop.
func isFloor(t string) bool { return t == "eventfd" || t == "cacheline" }

// applies reports whether the cell of scenario s, transport t and rate
// is measured: floors run the ping scenario only, the cache line only at
// max.
func applies(s, t string, rate float64) bool {
	if !isFloor(t) {
		return true
	}
	return s == "ping" && (t != "cacheline" || rate == 0)
}

// isPeer reports whether transport t is served by a comparison peer
// (ringwire-load -serve-peer t) rather than ringwired.
func isPeer(t string) bool { return t == "json" || t == "grpc" }

type config struct {
	daemonBin, daemonArgs string
	socket, workspace     string
	pid                   int
	transports, scenarios []string
	rates                 []float64
	conns, inflight       int
	duration, warmup      time.Duration
	burst                 load.Burst
	errorShare            float64
	tokenDelay            time.Duration
	benchOut              string
	chart, readme         string
	readmeCommand         string
	readmeNote            string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringwire-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c                            config
		transports, scenarios, rates string
		peer, peerSocket             string
	)
	fs.StringVar(&c.daemonBin, "daemon", "", "start this ringwired `binary` for the run (its socket and workspace in a temporary directory)")
	fs.StringVar(&c.daemonArgs, "daemon-args", "", "more `flags` for the started ringwired, space-separated")
	fs.StringVar(&c.socket, "socket", "", "connect to the ringwired running on this socket `path` instead of starting one")
	fs.StringVar(&c.workspace, "workspace", "", "with -socket: the running daemon's workspace `dir` (the tool scenarios write their files under "+load.WorkspaceDir+"/ in it)")
	fs.IntVar(&c.pid, "pid", 0, "with -socket: the daemon's `pid` for its CPU and memory (default: the socket's peer)")
	fs.StringVar(&transports, "transports", "shm,socket,json,grpc,node,eventfd,cacheline", "transports to compare, comma-separated: "+strings.Join(allTransports, ", "))
	fs.StringVar(&scenarios, "scenarios", "ping,completion,tool,mixed,bursty,errors", "scenarios, comma-separated")
	fs.StringVar(&rates, "rates", "100,1000,10000,100000,max", "target rates per second over all connections, comma-separated; max is a closed loop")
	fs.IntVar(&c.conns, "conns", 4, "connections per transport")
	fs.IntVar(&c.inflight, "inflight", 4, "requests in flight at most per connection")
	fs.DurationVar(&c.duration, "duration", 2*time.Second, "measured time per cell (p99 needs 2000 answers: 20s at 100/s)")
	fs.DurationVar(&c.warmup, "warmup", 300*time.Millisecond, "warm-up per cell at the same rate, not measured")
	fs.DurationVar(&c.burst.On, "burst-on", 100*time.Millisecond, "bursty: length of a burst")
	fs.DurationVar(&c.burst.Off, "burst-off", 400*time.Millisecond, "bursty: silence between bursts")
	fs.Float64Var(&c.errorShare, "error-share", load.DefaultErrorShare, "errors: share of requests failing in the handler (read_file of a missing file)")
	fs.DurationVar(&c.tokenDelay, "mock-token-delay", 0, "pause between streamed tokens of the mock provider (passed to the started ringwired and to the peers)")
	fs.StringVar(&c.benchOut, "benchfmt", "", "write the benchfmt lines to this `file` instead of stdout")
	fs.StringVar(&c.chart, "chart", "", "draw the median latency against the achieved rate, a line per transport, as SVG to this `file`")
	fs.StringVar(&c.readme, "readme", "", "rewrite the block between <!-- compare:begin --> and <!-- compare:end --> of this Markdown `file` with the findings, the chart (-chart) and the table, ratios to shm")
	fs.StringVar(&c.readmeCommand, "readme-command", "", "the command the -readme block names as its source (default: this command line)")
	fs.StringVar(&c.readmeNote, "readme-note", "", "a sentence for the -readme block, e.g. on the machine's load")
	fs.StringVar(&peer, "serve-peer", "", "internal: serve a comparison peer (json, grpc on -peer-socket; eventfd on inherited fds, -conns pairs)")
	fs.StringVar(&peerSocket, "peer-socket", "", "internal: the peer's socket path")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ringwire-load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if peer != "" {
		return servePeer(ctx, peer, peerSocket, c.workspace, c.tokenDelay, c.conns, stderr)
	}
	if err := c.parseLists(transports, scenarios, rates); err != nil {
		fmt.Fprintf(stderr, "ringwire-load: %v\n", err)
		return 2
	}
	if (c.daemonBin == "") == (c.socket == "") {
		fmt.Fprintln(stderr, "ringwire-load: give -daemon BINARY (start one) or -socket PATH (a running ringwired), not both")
		return 2
	}
	if c.conns <= 0 || c.inflight <= 0 || c.duration <= 0 || c.warmup < 0 {
		fmt.Fprintln(stderr, "ringwire-load: -conns, -inflight and -duration must be positive, -warmup not negative")
		return 2
	}
	results, cfg, err := c.sweep(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ringwire-load: %v\n", err)
		return 1
	}
	if err := load.WriteTable(stdout, results); err != nil {
		fmt.Fprintf(stderr, "ringwire-load: %v\n", err)
		return 1
	}
	if slices.Contains(c.transports, "shm") && len(c.transports) > 1 {
		fmt.Fprintln(stdout)
		if err := load.WriteRatios(stdout, "shm", results); err != nil {
			fmt.Fprintf(stderr, "ringwire-load: %v\n", err)
			return 1
		}
	}
	out := stdout
	if c.benchOut != "" {
		f, err := os.Create(c.benchOut)
		if err != nil {
			fmt.Fprintf(stderr, "ringwire-load: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	} else {
		fmt.Fprintln(stdout)
	}
	if err := load.WriteBenchfmt(out, cfg, results); err != nil {
		fmt.Fprintf(stderr, "ringwire-load: %v\n", err)
		return 1
	}
	code := 0
	for _, r := range results {
		if r.Unexpected > 0 {
			fmt.Fprintf(stderr, "ringwire-load: %s: %d unexpected outcomes, first: %v\n", r.Cell.Name(), r.Unexpected, r.FirstUnexpected)
			code = 1
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "ringwire-load: interrupted")
		code = 1
	}
	if c.chart == "" && c.readme == "" {
		return code
	}
	if code != 0 || len(results) != c.cellCount() {
		// A chart or README block from an incomplete run would pass a part
		// for the whole.
		fmt.Fprintf(stderr, "ringwire-load: the run is incomplete (%d of %d cells, or unexpected outcomes): -chart and -readme not written\n", len(results), c.cellCount())
		return 1
	}
	if err := c.writeReport(args, cfg, results); err != nil {
		fmt.Fprintf(stderr, "ringwire-load: %v\n", err)
		return 1
	}
	return code
}

// cellCount is the number of cells the sweep measures.
func (c *config) cellCount() int {
	n := 0
	for _, s := range c.scenarios {
		for _, rate := range c.rates {
			for _, t := range c.transports {
				if applies(s, t, rate) {
					n++
				}
			}
		}
	}
	return n
}

// writeReport writes the chart (-chart) and rewrites the compare block of
// the README (-readme): each to a temporary file renamed over the old
// one, so that a failure leaves the old file whole.
func (c *config) writeReport(args []string, cfg [][2]string, results []*load.Result) error {
	if c.chart != "" {
		var buf bytes.Buffer
		if err := load.WriteChart(&buf, results); err != nil {
			return err
		}
		if err := writeFileAtomic(c.chart, buf.Bytes()); err != nil {
			return err
		}
	}
	if c.readme == "" {
		return nil
	}
	doc, err := os.ReadFile(c.readme)
	if err != nil {
		return err
	}
	m := load.ReportMeta{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Command: c.readmeCommand, Note: c.readmeNote}
	if m.Command == "" {
		m.Command = "ringwire-load " + strings.Join(args, " ")
	}
	m.Machine = machine(cfg)
	rates := make([]string, len(c.rates))
	for i, r := range c.rates {
		rates[i] = (&load.Cell{Rate: r}).RateName()
	}
	m.Setup = fmt.Sprintf("Scenarios %s at %s requests/s (max: closed loop); %d connections per transport, at most %d requests in flight on each; %v measured per cell after a %v warm-up.",
		strings.Join(c.scenarios, ", "), strings.Join(rates, ", "), c.conns, c.inflight, c.duration, c.warmup)
	if c.chart != "" {
		if m.Chart, err = filepath.Rel(filepath.Dir(c.readme), c.chart); err != nil {
			return err
		}
		m.Chart = filepath.ToSlash(m.Chart)
	}
	if c.benchOut != "" {
		if rel, err := filepath.Rel(filepath.Dir(c.readme), c.benchOut); err == nil && !strings.HasPrefix(rel, "..") {
			m.Bench = filepath.ToSlash(rel)
		}
	}
	var body bytes.Buffer
	if err := load.WriteReport(&body, "shm", results, m); err != nil {
		return err
	}
	out, err := load.RewriteBlock(doc, "compare", body.Bytes())
	if err != nil {
		return fmt.Errorf("%s: %w", c.readme, err)
	}
	return writeFileAtomic(c.readme, out)
}

// machine describes the machine of cfg (its cpu line) for people: CPU
// model, CPUs, memory, OS and the Node version.
func machine(cfg [][2]string) string {
	get := func(k string) string {
		for _, kv := range cfg {
			if kv[0] == k {
				return kv[1]
			}
		}
		return ""
	}
	parts := []string{}
	if cpu := get("cpu"); cpu != "" {
		parts = append(parts, cpu)
	}
	parts = append(parts, fmt.Sprintf("%d CPUs", runtime.NumCPU()))
	if mem := memTotal(); mem > 0 {
		parts = append(parts, fmt.Sprintf("%.0f GiB", float64(mem)/(1<<30)))
	}
	parts = append(parts, runtime.GOOS+"/"+runtime.GOARCH, runtime.Version())
	if n := get("node"); n != "" {
		parts = append(parts, "Node "+n)
	}
	return strings.Join(parts, ", ")
}

// memTotal is MemTotal of /proc/meminfo in bytes, or 0.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// writeFileAtomic writes b to a temporary file beside path and renames it
// over path.
func writeFileAtomic(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

func (c *config) parseLists(transports, scenarios, rates string) error {
	for t := range strings.SplitSeq(transports, ",") {
		t = strings.TrimSpace(t)
		ok := false
		for _, a := range allTransports {
			ok = ok || a == t
		}
		if !ok {
			return fmt.Errorf("-transports: unknown transport %q (transports: %s)", t, strings.Join(allTransports, ", "))
		}
		c.transports = append(c.transports, t)
	}
	for s := range strings.SplitSeq(scenarios, ",") {
		s = strings.TrimSpace(s)
		if _, err := load.LookupScenario(s, c.errorShare); err != nil {
			return fmt.Errorf("-scenarios: %w", err)
		}
		c.scenarios = append(c.scenarios, s)
	}
	for r := range strings.SplitSeq(rates, ",") {
		r = strings.TrimSpace(r)
		if r == "max" {
			c.rates = append(c.rates, 0)
			continue
		}
		v, err := strconv.ParseFloat(r, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("-rates: %q is neither a positive rate nor max", r)
		}
		c.rates = append(c.rates, v)
	}
	if c.errorShare < 0 || c.errorShare > 1 {
		return fmt.Errorf("-error-share %v is not in [0, 1]", c.errorShare)
	}
	return nil
}

// server is a process serving one or more transports: the daemon, or a
// peer.
type server struct {
	pid    int
	socket string
	proc   *child // nil: not ours
}

// sweep runs every cell: for each scenario and rate, each transport in
// turn, so the machine's drift hits them alike.
func (c *config) sweep(ctx context.Context, stderr io.Writer) ([]*load.Result, [][2]string, error) {
	tmp, err := os.MkdirTemp("", "ringwire-load")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	cfg := [][2]string{{"goos", runtime.GOOS}, {"goarch", runtime.GOARCH}}
	if cpu := cpuModel(); cpu != "" {
		cfg = append(cfg, [2]string{"cpu", cpu})
	}
	cfg = append(cfg, [2]string{"pkg", "github.com/ringwire/ringwire/integration/cmd/ringwire-load"})
	var daemonSrv server
	if c.daemonBin != "" {
		if c.workspace == "" {
			c.workspace = filepath.Join(tmp, "ws")
			if err := os.Mkdir(c.workspace, 0o700); err != nil {
				return nil, nil, err
			}
		}
		sock := filepath.Join(tmp, "d.sock")
		args := []string{"-socket", sock, "-workspace", c.workspace, "-log-level", "info", "-mock-token-delay", c.tokenDelay.String()}
		args = append(args, strings.Fields(c.daemonArgs)...)
		p, err := startChild(ctx, c.daemonBin, args, "ringwired listening", nil)
		if err != nil {
			return nil, nil, fmt.Errorf("starting ringwired: %w", err)
		}
		defer p.stop(stderr)
		daemonSrv = server{pid: p.cmd.Process.Pid, socket: sock, proc: p}
		cfg = append(cfg, [2]string{"daemon", "started " + c.daemonBin})
		fmt.Fprintf(stderr, "ringwire-load: started %s (pid %d) on %s\n", c.daemonBin, daemonSrv.pid, sock)
	} else {
		daemonSrv = server{pid: c.pid, socket: c.socket}
		if daemonSrv.pid == 0 {
			daemonSrv.pid = peerPID(protocol.StreamPath(c.socket))
		}
		cfg = append(cfg, [2]string{"daemon", "connected " + c.socket})
		fmt.Fprintf(stderr, "ringwire-load: using the ringwired on %s (pid %d)\n", c.socket, daemonSrv.pid)
	}
	cfg = append(cfg, [2]string{"mock-token-delay", c.tokenDelay.String()})
	var files []load.ToolFile
	needWS := false
	for _, s := range c.scenarios {
		sc, _ := load.LookupScenario(s, c.errorShare)
		needWS = needWS || sc.NeedsWorkspace()
	}
	if needWS {
		if c.workspace == "" {
			return nil, nil, errors.New("the tool, mixed, bursty and errors scenarios need -workspace (the daemon's) with -socket")
		}
		if files, err = load.PrepareWorkspace(c.workspace); err != nil {
			return nil, nil, err
		}
		defer load.RemoveWorkspace(c.workspace)
	}
	// The peers, started once.
	servers := map[string]server{"shm": daemonSrv, "socket": daemonSrv}
	for _, t := range c.transports {
		if !isPeer(t) {
			continue
		}
		self, err := os.Executable()
		if err != nil {
			return nil, nil, err
		}
		sock := filepath.Join(tmp, t+".sock")
		p, err := startChild(ctx, self, []string{"-serve-peer", t, "-peer-socket", sock, "-workspace", c.workspace,
			"-mock-token-delay", c.tokenDelay.String()}, "peer listening", nil)
		if err != nil {
			return nil, nil, fmt.Errorf("starting the %s peer: %w", t, err)
		}
		defer p.stop(stderr)
		servers[t] = server{pid: p.cmd.Process.Pid, socket: sock, proc: p}
	}
	var node *loadpeers.Node
	if slices.Contains(c.transports, "node") {
		if node, err = loadpeers.NewNode(tmp); err != nil {
			if errors.Is(err, loadpeers.ErrNoNode) {
				return nil, nil, fmt.Errorf("%w: install Node.js, or leave node out of -transports", err)
			}
			return nil, nil, err
		}
		sock := filepath.Join(tmp, "node.sock")
		p, err := startChild(ctx, node.Bin, node.ServerArgs(sock, c.workspace, c.tokenDelay), "node peer listening", nil)
		if err != nil {
			return nil, nil, fmt.Errorf("starting the node peer: %w", err)
		}
		defer p.stop(stderr)
		servers["node"] = server{pid: p.cmd.Process.Pid, socket: sock, proc: p}
		if v, err := exec.Command(node.Bin, "--version").Output(); err == nil {
			cfg = append(cfg, [2]string{"node", strings.TrimSpace(string(v))})
		}
	}
	var efd *loadpeers.Eventfd
	if slices.Contains(c.transports, "eventfd") {
		self, err := os.Executable()
		if err != nil {
			return nil, nil, err
		}
		e, files, err := loadpeers.NewEventfdPairs(c.conns)
		if err != nil {
			return nil, nil, err
		}
		defer e.Close()
		p, err := startChild(ctx, self, []string{"-serve-peer", "eventfd", "-conns", strconv.Itoa(c.conns)}, "peer listening", files)
		for _, f := range files {
			f.Close()
		}
		if err == nil {
			err = e.Started()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("starting the eventfd floor: %w", err)
		}
		defer p.stop(stderr)
		servers["eventfd"] = server{pid: p.cmd.Process.Pid, proc: p}
		efd = e
	}
	targets := map[string]load.Target{}
	defer func() {
		for _, t := range targets {
			t.Close()
		}
	}()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, t := range c.transports {
		var tg load.Target
		var err error
		switch t {
		case "shm":
			tg, err = load.DialRingwire(dctx, daemonSrv.socket, protocol.TransportShm, c.conns)
		case "socket":
			tg, err = load.DialRingwire(dctx, daemonSrv.socket, protocol.TransportSocket, c.conns)
		case "json":
			tg, err = loadpeers.DialJSON(dctx, servers[t].socket, c.conns)
		case "grpc":
			tg, err = loadpeers.DialGRPC(dctx, servers[t].socket, c.conns)
		case "node", "cacheline":
			continue // the Node client runs each cell itself; the cache line spins only during its cell
		case "eventfd":
			tg = efd
		}
		if err != nil {
			return nil, nil, err
		}
		targets[t] = tg
	}
	var results []*load.Result
	total := 0
	for _, s := range c.scenarios {
		for _, rate := range c.rates {
			for _, t := range c.transports {
				if applies(s, t, rate) {
					total++
				}
			}
		}
	}
	i := 0
	start := time.Now()
	for _, s := range c.scenarios {
		sc, _ := load.LookupScenario(s, c.errorShare)
		w, err := load.NewWorkload(sc, files, 1)
		if err != nil {
			return nil, nil, err
		}
		opsFile := filepath.Join(tmp, s+".ops.json")
		if node != nil {
			if err := loadpeers.WriteOps(opsFile, w); err != nil {
				return nil, nil, err
			}
		}
		for _, rate := range c.rates {
			for _, t := range c.transports {
				if ctx.Err() != nil {
					return results, cfg, nil
				}
				if !applies(s, t, rate) {
					continue
				}
				i++
				cell := load.Cell{Scenario: sc, Transport: t, Rate: rate, Conns: c.conns, Workers: c.conns * c.inflight,
					Duration: c.duration, Warmup: c.warmup, Burst: c.burst}
				switch t {
				case "eventfd":
					cell.Workers = c.conns // one ping in flight per pair
				case "cacheline":
					cell.Conns, cell.Workers = 1, 1
				}
				fmt.Fprintf(stderr, "ringwire-load: [%d/%d, %v] %s\n", i, total, time.Since(start).Round(time.Second), cell.Name())
				var r *load.Result
				switch t {
				case "node":
					if r, err = node.Measure(ctx, cell, servers[t].socket, opsFile, servers[t].pid); err != nil {
						// Reported as the cell's unexpected outcome: the sweep goes on.
						r = &load.Result{Cell: cell, Sample: &load.Sample{Latency: load.NewHistogram(), Lag: load.NewHistogram()},
							ClientCPU: -1, ServerCPU: -1, MemoryErr: err, Unexpected: 1, FirstUnexpected: err}
					}
				case "cacheline":
					cl := loadpeers.NewCacheLine()
					r = load.Measure(ctx, cell, w, cl, 0, stderr) // the partner is a thread of ours: no server of its own
					cl.Close()
				default:
					r = load.Measure(ctx, cell, w, targets[t], servers[t].pid, stderr)
				}
				fmt.Fprintf(stderr, "  %.0f/s, %d answers, %d errors, p50 %s%s\n", r.Sample.Throughput(), r.Sample.Completed,
					r.Sample.Errors, load.FormatDuration(time.Duration(r.Sample.Latency.ValueAtQuantile(50))), satNote(r))
				results = append(results, r)
				if p := servers[t].proc; p != nil && p.exitedEarly() {
					return results, cfg, fmt.Errorf("the %s server exited: %s", t, p.logTail())
				}
			}
		}
	}
	return results, cfg, nil
}

func satNote(r *load.Result) string {
	if r.Saturated() {
		return fmt.Sprintf(" (saturated: target %s/s)", r.Cell.RateName())
	}
	return ""
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// peerPID returns the pid of the process listening on the Unix socket
// path (SO_PEERCRED), or 0. It connects and closes at once: the daemon
// sees a connection that ends before its handshake.
func peerPID(path string) int {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}

// child is a server process started by ringwire-load.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	tail   []string // its last stderr lines
}

// startChild starts bin with args (and files as its fds 3, 4, ...) and
// waits until a line of its stderr contains ready.
func startChild(ctx context.Context, bin string, args []string, ready string, files []*os.File) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = files
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &child{cmd: cmd, exited: make(chan struct{})}
	readyc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			if !seen && strings.Contains(line, ready) {
				seen = true
				close(readyc)
			}
			p.mu.Lock()
			if p.tail = append(p.tail, line); len(p.tail) > 20 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-readyc:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited: %s", bin, p.logTail())
	case <-time.After(20 * time.Second):
	case <-ctx.Done():
	}
	cmd.Process.Kill()
	<-p.exited
	return nil, fmt.Errorf("%s did not get ready: %s", bin, p.logTail())
}

func (p *child) exitedEarly() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *child) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// stop sends SIGTERM and waits (SIGKILL after 20 s).
func (p *child) stop(stderr io.Writer) {
	if p.exitedEarly() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		fmt.Fprintf(stderr, "ringwire-load: %s did not stop on SIGTERM; killing it\n", p.cmd.Path)
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// servePeer is the process of a comparison peer: it serves until
// SIGTERM.
func servePeer(ctx context.Context, kind, socket, workspace string, tokenDelay time.Duration, pairs int, stderr io.Writer) int {
	if kind == "eventfd" {
		fmt.Fprintf(stderr, "eventfd peer listening on %d pairs of fds\n", pairs)
		if err := loadpeers.ServeEventfd(ctx, pairs); err != nil {
			fmt.Fprintf(stderr, "ringwire-load: eventfd peer: %v\n", err)
			return 1
		}
		return 0
	}
	if socket == "" {
		fmt.Fprintln(stderr, "ringwire-load: -serve-peer needs -peer-socket")
		return 2
	}
	prov := &daemon.MockProvider{TokenDelay: tokenDelay}
	var srv interface {
		Listen(string) error
		Serve(context.Context) error
	}
	switch kind {
	case "json":
		srv = &loadpeers.JSONServer{Provider: prov, Workspace: workspace}
	case "grpc":
		srv = &loadpeers.GRPCServer{Provider: prov, Workspace: workspace}
	default:
		fmt.Fprintf(stderr, "ringwire-load: -serve-peer %q: unknown peer (json, grpc)\n", kind)
		return 2
	}
	if err := srv.Listen(socket); err != nil {
		fmt.Fprintf(stderr, "ringwire-load: %s peer: %v\n", kind, err)
		return 1
	}
	fmt.Fprintf(stderr, "%s peer listening on %s\n", kind, socket)
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintf(stderr, "ringwire-load: %s peer: %v\n", kind, err)
		return 1
	}
	return 0
}
