//go:build mage

package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
)

// benchModules are the modules whose benchmarks `mage bench` runs.
var benchModules = []string{"protocol", "shmring", "pool", "client", "daemon", "integration"}

// Aliases lets `go tool mage bench` run the default bench target.
var Aliases = map[string]interface{}{
	"bench": Bench.Run,
}

// Bench is the namespace of benchmark targets (results go to the benchdash store).
type Bench mg.Namespace

// benchdash runs the benchdash CLI from source.
func benchdash(args ...string) error {
	return sh.RunV("go", append([]string{"run", "./benchdash/cmd/benchdash"}, args...)...)
}

// hotPath is the default run: the protocol and pool benchmarks, and the
// hot-path benchmarks of shmring and integration (ring ping-pong; client
// Ping, AppendComplete, Batch across processes). Each entry is DIR=RE.
var hotPath = []string{
	"protocol",
	"pool",
	"shmring=^BenchmarkPingPong$",
	"integration=^(BenchmarkPing|BenchmarkAppendComplete1KiB|BenchmarkBatch)$",
}

// Run measures the baseline commit and the working tree alternately and gates the change (also `mage bench`).
func (Bench) Run() error {
	// A and B run in the same session, round after round, so the machine's
	// drift is paired away and the gate can be 10% (RINGWIRE_BENCH_THRESHOLD);
	// benchmarks whose first and second values of A in a round differ by more (in pairs) are reported too noisy
	// here instead of failing. RINGWIRE_BASELINE picks the baseline commit
	// (default: this machine's saved baseline, else HEAD).
	// They run leaf by leaf in ABBA order, A and B next to each other, and the
	// gate tests the pairs: RINGWIRE_BENCH_SAMPLES values a side and round.
	args := []string{"bench", "-count", env("RINGWIRE_BENCH_COUNT", "8"), "-samples", env("RINGWIRE_BENCH_SAMPLES", "2"),
		"-benchtime", env("RINGWIRE_BENCHTIME", "50ms"), "-threshold", env("RINGWIRE_BENCH_THRESHOLD", "10")}
	if c := os.Getenv("RINGWIRE_BASELINE"); c != "" {
		args = append(args, "-baseline", c)
	}
	re := os.Getenv("RINGWIRE_BENCH")
	if re == "" {
		return benchdash(append(args, hotPath...)...)
	}
	args = append(args, "-bench", re)
	for _, m := range benchModules {
		if hasGoFiles(m) {
			args = append(args, m)
		}
	}
	return benchdash(args...)
}

// Save makes the latest run (B of the latest session) this machine's baseline and records it in bench/results.
func (Bench) Save() error {
	return benchdash("save", "-run", env("RINGWIRE_BENCH_RUN", "latest"))
}

// Dash serves the benchmark dashboard (default http://127.0.0.1:8080).
func Dash() error {
	dir, err := os.MkdirTemp("", "rwdash")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "benchdash")
	if err := sh.RunV("go", "build", "-o", bin, "./benchdash/cmd/benchdash"); err != nil {
		return err
	}
	return runServer(exec.Command(bin, "serve", "-addr", env("RINGWIRE_DASH_ADDR", "127.0.0.1:8080")), 200*time.Millisecond)
}

// runServer runs a long-lived child until it exits, and stops it (SIGTERM,
// then SIGKILL after 5 s) when this process gets SIGINT or SIGTERM or its
// parent goes away: `go tool mage` is a chain of processes (go tool, mage,
// this compiled build), and a signal to the first reaches mage but not this
// one, so without the parent check the server would outlive the command.
func runServer(cmd *exec.Cmd, poll time.Duration) error {
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	parent := os.Getppid()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return err
		case sig := <-sigs:
			return stopServer(cmd, exited, sig.String())
		case <-tick.C:
			if os.Getppid() != parent {
				return stopServer(cmd, exited, "parent exited")
			}
		}
	}
}

// stopServer ends a child started by runServer and waits for it.
func stopServer(cmd *exec.Cmd, exited <-chan error, why string) error {
	fmt.Fprintf(os.Stderr, "stopping %s (%s)\n", filepath.Base(cmd.Path), why)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return nil
}
