// Command ringwire-soak measures ringwired's memory under load and gives
// a leak verdict: it starts the daemon as its own process, reads it idle,
// with -small then -sessions idle shared-memory sessions, after each of
// -cycles cycles of -sessions connecting and leaving, and across a
// sustained mixed load (-duration), from the daemon's own view (the
// Stats answer: live heap after its last GC, goroutines, open fds,
// shared mappings) and the kernel's (RssAnon, VmRSS from
// /proc/<pid>/status, with their least-squares slope after -warmup).
//
//	ringwire-soak -daemon ./ringwired
//	ringwire-soak -daemon ./ringwired -duration 1h -out soak.txt &
//
// It prints a table of the phases and the verdict with its reasons, and
// benchfmt lines (BenchmarkSoak/phase=...) on stdout or to -benchfmt
// FILE; -out FILE writes the same report to a file too (for a run in the
// background). It exits 0 when every check passes, 1 when one fails or
// the soak could not run, 2 on a bad command line. The rules are in
// package soak (integration/internal/soak) and integration/README.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/soak"
	"github.com/ringwire/ringwire/protocol"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringwire-soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		bin, out, benchOut string
		samplesOut         string
		cfg                soak.Config
		slopeMiBh          float64
	)
	fs.StringVar(&bin, "daemon", "", "the ringwired `binary` to start (required)")
	fs.IntVar(&cfg.Small, "small", 100, "the smaller level of idle sessions measured")
	fs.IntVar(&cfg.Sessions, "sessions", 1000, "sessions per cycle (the larger level)")
	fs.IntVar(&cfg.Cycles, "cycles", 3, "cycles of -sessions connecting and leaving")
	fs.DurationVar(&cfg.Sustained, "duration", 60*time.Second, "length of the sustained mixed run (0: none)")
	fs.Float64Var(&cfg.Rate, "rate", 200, "requests per second of the sustained run")
	fs.IntVar(&cfg.Conns, "conns", 16, "sessions of the sustained run")
	fs.DurationVar(&cfg.Sample, "sample", time.Second, "memory sampling interval of the sustained run")
	fs.DurationVar(&cfg.Rules.Warmup, "warmup", 0, "start of the sustained run left out of the slope (default: 20% of -duration, at least 10s when -duration allows)")
	fs.Float64Var(&slopeMiBh, "slope-bound", 0, "largest RssAnon slope that passes, in `MiB/h` (default: 4 MiB over the window after -warmup)")
	fs.DurationVar(&cfg.Settle, "settle", 60*time.Second, "longest wait for the levels to come back after clients leave")
	fs.StringVar(&out, "out", "", "write the report to this `file` too")
	fs.StringVar(&benchOut, "benchfmt", "", "write the benchfmt lines to this `file` instead of stdout")
	fs.StringVar(&samplesOut, "samples", "", "write the sustained run's memory samples to this `file` (CSV: seconds, RssAnon, VmRSS bytes)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || bin == "" {
		fmt.Fprintln(stderr, "ringwire-soak: give -daemon BINARY and no arguments")
		return 2
	}
	if cfg.Sessions <= 0 || cfg.Small < 0 || cfg.Cycles < 2 || cfg.Sustained < 0 || cfg.Rate <= 0 || cfg.Conns <= 0 || cfg.Sample <= 0 || slopeMiBh < 0 {
		fmt.Fprintln(stderr, "ringwire-soak: -sessions, -rate, -conns, -sample must be positive, -cycles at least 2, -small, -duration and -slope-bound not negative")
		return 2
	}
	if cfg.Sessions+1 > daemon.DefaultMaxConns {
		fmt.Fprintf(stderr, "ringwire-soak: -sessions %d: the daemon serves %d at most, the monitor's included\n", cfg.Sessions, daemon.DefaultMaxConns)
		return 2
	}
	if cfg.Rules.Warmup == 0 {
		cfg.Rules.Warmup = max(cfg.Sustained/5, min(10*time.Second, cfg.Sustained/2))
	}
	cfg.Rules.HeapGrowth = soak.DefaultHeapGrowth
	cfg.Rules.SlopeBound = slopeMiBh * (1 << 20) / 3600
	if slopeMiBh == 0 {
		cfg.Rules.SlopeBound = soak.SlopeBound(soak.DefaultGrowthBudget, cfg.Sustained-cfg.Rules.Warmup)
	}
	cfg.ReleaseWait = daemon.IdleReleaseDelay + time.Second
	cfg.Progress = stderr
	raiseNoFile()

	dir, err := os.MkdirTemp("", "rwsoak")
	if err != nil {
		fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfg.Socket = filepath.Join(dir, "d.sock")
	cfg.Workspace = filepath.Join(dir, "ws")
	if err := os.Mkdir(cfg.Workspace, 0o755); err != nil {
		fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
		return 1
	}
	d, err := startDaemon(ctx, bin, cfg.Socket, cfg.Workspace, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
		return 1
	}
	cfg.PID = d.Process.Pid
	rep, err := soak.Run(ctx, cfg)
	stopDaemon(d)
	if err != nil {
		fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
		return 1
	}
	var text strings.Builder
	if err := soak.WriteTable(&text, rep); err != nil {
		fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
		return 1
	}
	var bench strings.Builder
	_ = soak.WriteBenchfmt(&bench, rep)
	fmt.Fprint(stdout, text.String())
	if benchOut != "" {
		if err := os.WriteFile(benchOut, []byte(bench.String()), 0o644); err != nil {
			fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
			return 1
		}
	} else {
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, bench.String())
	}
	if samplesOut != "" {
		var b strings.Builder
		b.WriteString("seconds,rss_anon_bytes,vm_rss_bytes\n")
		for _, p := range rep.Input.Sustained {
			fmt.Fprintf(&b, "%.3f,%d,%d\n", p.At.Seconds(), p.RssAnon, p.VmRSS)
		}
		if err := os.WriteFile(samplesOut, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
			return 1
		}
	}
	if out != "" {
		if err := os.WriteFile(out, []byte(text.String()+"\n"+bench.String()), 0o644); err != nil {
			fmt.Fprintf(stderr, "ringwire-soak: %v\n", err)
			return 1
		}
	}
	if !soak.Passed(rep.Checks) {
		return 1
	}
	return 0
}

// startDaemon runs bin on socket, serving workspace, and waits until a
// client gets an answer from it.
func startDaemon(ctx context.Context, bin, socket, workspace string, stderr io.Writer) (*exec.Cmd, error) {
	cmd := exec.Command(bin, "-socket", socket, "-workspace", workspace, "-log-level", "warn", "-config", "")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			fmt.Fprintln(stderr, "ringwired:", sc.Text())
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		cl, err := client.Dial(dctx, socket, client.WithTransport(protocol.TransportSocket))
		if err == nil {
			_, err = cl.Ping(dctx)
			cl.Close()
		}
		cancel()
		if err == nil {
			return cmd, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stopDaemon(cmd)
			return nil, fmt.Errorf("%s does not answer on %s: %w", bin, socket, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopDaemon sends SIGTERM and waits (10 s, then SIGKILL).
func stopDaemon(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// raiseNoFile lifts this process's open-file limit to its hard limit: a
// shared-memory session holds several descriptors.
func raiseNoFile() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
