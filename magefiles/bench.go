//go:build mage

package main

import (
	"os"

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
	// benchmarks whose two halves of A differ by more are reported too noisy
	// here instead of failing. RINGWIRE_BASELINE picks the baseline commit
	// (default: this machine's saved baseline, else HEAD).
	args := []string{"bench", "-count", env("RINGWIRE_BENCH_COUNT", "8"), "-benchtime", env("RINGWIRE_BENCHTIME", "100ms"),
		"-threshold", env("RINGWIRE_BENCH_THRESHOLD", "10")}
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
	return benchdash("serve", "-addr", env("RINGWIRE_DASH_ADDR", "127.0.0.1:8080"))
}
