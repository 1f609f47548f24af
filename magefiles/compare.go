//go:build mage

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// Compare runs the five transports (Node NDJSON, Go encoding/json, gRPC, ringwire socket, ringwire shm) and the floors in one run, prints the table with ratios to shm, writes benchfmt, the chart and the README's compare block.
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
	bench := filepath.Join(compareRuns, time.Now().UTC().Format("2006-01-02T150405Z")+".txt")
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
	return nil
}

// Readme rewrites the README's microbenchmark block (ring, codec, pool vs puddle, JSON ratio) from the latest results files of bench/local/runs and bench/results.
func (Bench) Readme() error {
	return benchdash("readme", "-readme", compareReadme)
}
