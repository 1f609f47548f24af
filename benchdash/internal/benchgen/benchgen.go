// Package benchgen writes synthetic Go benchmark results files for tests
// and benchmarks: deterministic samples around chosen centers.
package benchgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"
)

// Spec describes one synthetic run.
type Spec struct {
	Commit, Branch, Machine string
	Date                    time.Time
	Pkg                     string
	Benchmarks              int     // number of benchmarks, named BenchmarkOp000...
	Samples                 int     // samples per benchmark
	Seed                    uint64  // noise seed
	Noise                   float64 // relative noise, e.g. 0.01
	// Slow maps a benchmark index to a factor applied to its ns/op.
	Slow map[int]float64
	// Units adds B/op, allocs/op and MB/s columns when true.
	Units bool
}

// File renders spec in the Go benchmark format.
func File(s Spec) []byte {
	var b bytes.Buffer
	if s.Commit != "" {
		fmt.Fprintf(&b, "commit: %s\n", s.Commit)
	}
	if s.Branch != "" {
		fmt.Fprintf(&b, "branch: %s\n", s.Branch)
	}
	if s.Machine != "" {
		fmt.Fprintf(&b, "machine: %s\n", s.Machine)
	}
	if !s.Date.IsZero() {
		fmt.Fprintf(&b, "date: %s\n", s.Date.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "goos: linux\ngoarch: amd64\npkg: %s\ncpu: Synthetic CPU @ 1.00GHz\n", s.Pkg)
	r := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))
	for i := 0; i < s.Benchmarks; i++ {
		base := float64(100 * (i + 1))
		if f, ok := s.Slow[i]; ok {
			base *= f
		}
		for j := 0; j < s.Samples; j++ {
			v := base * (1 + s.Noise*(r.Float64()*2-1))
			if s.Units {
				fmt.Fprintf(&b, "BenchmarkOp%03d-2\t1000000\t%.2f ns/op\t%.2f MB/s\t%d B/op\t%d allocs/op\n", i, v, 1000/v*64, 64*(i%4), i%4)
			} else {
				fmt.Fprintf(&b, "BenchmarkOp%03d-2\t1000000\t%.2f ns/op\n", i, v)
			}
		}
	}
	return b.Bytes()
}
