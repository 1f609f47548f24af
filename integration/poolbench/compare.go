// Package poolbench benchmarks ringwire's pool side by side with
// github.com/jackc/puddle/v2 on the same grid of pool sizes and client
// counts, and judges from samples taken in the same run whether ringwire is
// significantly slower anywhere.
//
//	go test -run '^$' -bench . ./poolbench/
//
// BenchmarkAcquireRelease/impl=ringwire/... and impl=puddle/... feed
// benchstat; BenchmarkVersusPuddle alternates the two in rounds and reports
// the ratio of medians and a Mann-Whitney U test for each grid point (see
// Compare).
package poolbench

import (
	"fmt"

	"golang.org/x/perf/benchmath"
)

// Verdict is the comparison of ringwire's samples with puddle's at one grid
// point, lower values being better (ns/op).
type Verdict struct {
	// Ringwire and Puddle are the medians with their 95% confidence
	// intervals.
	Ringwire, Puddle benchmath.Summary
	// Ratio is Ringwire.Center / Puddle.Center: above 1, ringwire is slower.
	Ratio float64
	// Comparison is the Mann-Whitney U test of the two samples.
	Comparison benchmath.Comparison
	// Slower reports whether ringwire is significantly slower: the U test
	// rejects "same distribution" (P < Alpha) and Ratio > 1.
	Slower bool
}

// Compare judges ringwire's samples against puddle's with no assumption on
// their distribution (benchmath.AssumeNothing: medians and Mann-Whitney U),
// at benchmath.DefaultThresholds (alpha 0.05). It sorts both slices.
func Compare(ringwire, puddle []float64) Verdict {
	thresholds := benchmath.DefaultThresholds
	a := benchmath.NewSample(ringwire, &thresholds)
	b := benchmath.NewSample(puddle, &thresholds)
	v := Verdict{
		Ringwire:   benchmath.AssumeNothing.Summary(a, 0.95),
		Puddle:     benchmath.AssumeNothing.Summary(b, 0.95),
		Comparison: benchmath.AssumeNothing.Compare(a, b),
	}
	if v.Puddle.Center != 0 {
		v.Ratio = v.Ringwire.Center / v.Puddle.Center
	}
	v.Slower = v.Comparison.P < v.Comparison.Alpha && v.Ratio > 1
	return v
}

// String formats the verdict as one line, e.g.
// "ringwire 52.1 ns/op vs puddle 75.3 ns/op: ratio 0.69, p=0.000 n=10+10, significantly faster".
func (v Verdict) String() string {
	judgement := "no significant difference"
	switch {
	case v.Slower:
		judgement = "significantly slower"
	case v.Comparison.P < v.Comparison.Alpha:
		judgement = "significantly faster"
	}
	return fmt.Sprintf("ringwire %.1f ns/op vs puddle %.1f ns/op: ratio %.2f, %v, %s",
		v.Ringwire.Center, v.Puddle.Center, v.Ratio, v.Comparison, judgement)
}
