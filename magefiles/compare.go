//go:build mage

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Paths `go tool mage compare` writes, relative to the repository root.
const (
	// compareReadme is the Markdown file whose compare block is rewritten.
	compareReadme = "README.md"
	// compareChart is the SVG the README shows: tracked, beside the
	// README's other documentation rather than in bench/results, which
	// holds only the results files bench:save records.
	compareChart = "docs/perf/compare.svg"
	// compareRuns holds the benchfmt files of compare runs: machine-local
	// like bench/local/runs, not committed.
	compareRuns = "bench/local/compare"
)

// Default and full sweeps of Compare.
const (
	compareScenarios     = "ping,completion,tool"
	compareRates         = "1000,10000,max"
	compareFullScenarios = "ping,completion,tool,mixed,bursty,errors"
	compareFullRates     = "100,1000,10000,100000,max"
)

// Compare runs the five transports (Node NDJSON, Go encoding/json, gRPC, ringwire socket, ringwire shm) and the floors in one run, prints the table with ratios to shm, writes benchfmt, the chart and the README's compare block; then the paced benchmarks (net/http, gRPC, client Ping and the raw ring at 1 request/ms).
func Compare() error {
	// Mage targets take no flags: RINGWIRE_COMPARE_FULL=1 runs every
	// scenario at every rate; RINGWIRE_COMPARE_DURATION (default 3s) is
	// the measured time per cell; RINGWIRE_COMPARE_NOTE adds a sentence
	// to the README block (e.g. that the machine was shared).
	node, err := exec.LookPath("node")
	if err != nil {
		return errors.New("compare: node is not on PATH; transport 1 (Node.js, NDJSON over a Unix socket) needs it: install Node.js (e.g. apt-get install nodejs) and run again")
	}
	fmt.Printf("compare: node is %s\n", node)
	tmp, err := os.MkdirTemp("", "rwcompare")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	daemonBin := filepath.Join(tmp, "ringwired")
	loadBin := filepath.Join(tmp, "ringwire-load")
	if err := runIn(".", nil, "go", "build", "-o", daemonBin, "./daemon/cmd/ringwired"); err != nil {
		return err
	}
	if err := runIn(".", nil, "go", "build", "-o", loadBin, "./integration/cmd/ringwire-load"); err != nil {
		return err
	}
	scenarios, rates, command := compareScenarios, compareRates, "go tool mage compare"
	if os.Getenv("RINGWIRE_COMPARE_FULL") == "1" {
		scenarios, rates, command = compareFullScenarios, compareFullRates, "RINGWIRE_COMPARE_FULL=1 go tool mage compare"
	}
	if err := os.MkdirAll(compareRuns, 0o755); err != nil {
		return err
	}
	stamp := time.Now().UTC().Format("2006-01-02T150405Z")
	bench := filepath.Join(compareRuns, stamp+".txt")
	args := []string{
		"-daemon", daemonBin,
		"-transports", "shm,socket,json,grpc,node,eventfd,cacheline",
		"-scenarios", scenarios,
		"-rates", rates,
		"-duration", env("RINGWIRE_COMPARE_DURATION", "3s"),
		"-benchfmt", bench,
		"-chart", compareChart,
		"-readme", compareReadme,
		"-readme-command", command,
		"-readme-note", os.Getenv("RINGWIRE_COMPARE_NOTE"),
	}
	start := time.Now()
	err = runIn(".", nil, loadBin, args...)
	fmt.Printf("compare: ringwire-load took %v; benchfmt in %s\n", time.Since(start).Round(time.Second), bench)
	if err != nil {
		return err
	}
	fmt.Printf("compare: rewrote the compare block of %s and drew %s\n", compareReadme, compareChart)
	return comparePaced(filepath.Join(compareRuns, stamp+"-paced.txt"))
}

// comparePaced runs the paced benchmarks, which take wall time rather than
// CPU and so stay out of mage bench's default set: net/http, gRPC and the
// client's Ping at one request per ms over shmring and a Unix socket
// (integration), and the raw 64-byte ring round trip (shmring), each with
// p50, p99 and both processes' CPU per request. RINGWIRE_COMPARE_PACED
// sets -benchtime (default 2000x: 2 s a benchmark). The output goes to
// the terminal and to file (benchfmt).
func comparePaced(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	n := env("RINGWIRE_COMPARE_PACED", "2000x")
	start := time.Now()
	for _, r := range []struct{ dir, bench string }{
		{"integration", "^BenchmarkPaced(HTTP|GRPC|Ping)$"},
		{"shmring", "^BenchmarkPacedPingPong$"},
	} {
		args := []string{"test", "-run", "^$", "-bench", r.bench, "-benchtime", n, "-count", "1", "."}
		fmt.Printf("[%s] go %s\n", r.dir, strings.Join(args, " "))
		c := exec.Command("go", args...)
		c.Dir = r.dir
		c.Stdout = io.MultiWriter(os.Stdout, f)
		c.Stderr = os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("compare: paced benchmarks in %s: %w", r.dir, err)
		}
	}
	fmt.Printf("compare: paced benchmarks took %v; benchfmt in %s\n", time.Since(start).Round(time.Second), file)
	return nil
}

// Readme rewrites the README's microbenchmark block (ring, codec, pool vs puddle, JSON ratio) from the latest results files of bench/local/runs and bench/results.
func (Bench) Readme() error {
	return benchdash("readme", "-readme", compareReadme)
}
