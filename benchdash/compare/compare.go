// Package compare computes benchstat-style comparisons between two sets of
// benchmark samples with golang.org/x/perf/benchmath: per benchmark and unit
// the median, its 95% confidence interval, the delta of the medians, the
// Mann-Whitney U-test p-value, and the geometric mean of the medians per unit.
//
//	res := compare.Compare(baseSamples, newSamples, compare.Options{})
//	compare.WriteTable(os.Stdout, res, "baseline", "run 42")
//	if regs := res.Regressions(10); len(regs) > 0 { os.Exit(1) }
package compare

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
)

// DefaultAlpha is the significance level used when Options.Alpha is zero.
const DefaultAlpha = 0.05

// DefaultConfidence is the confidence level of the intervals when
// Options.Confidence is zero.
const DefaultConfidence = 0.95

// Key identifies one measured quantity: a benchmark in a package, in a unit.
type Key struct {
	Pkg  string `json:"pkg"`
	Name string `json:"name"`
	Unit string `json:"unit"`
}

// Less orders keys by unit, then package, then name, the order of the table.
func (k Key) Less(o Key) bool { return CompareKeys(k, o) < 0 }

// CompareKeys orders keys by unit rank (time first), package and name.
func CompareKeys(a, b Key) int {
	if c := cmp.Compare(unitRank(a.Unit), unitRank(b.Unit)); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Unit, b.Unit), cmp.Compare(a.Pkg, b.Pkg), cmp.Compare(a.Name, b.Name))
}

func unitRank(u string) int {
	switch u {
	case "sec/op":
		return 0
	case "B/s":
		return 1
	case "B/op":
		return 2
	case "allocs/op":
		return 3
	}
	return 4
}

// Sample is every measurement of one Key in one run.
type Sample struct {
	Key
	Values []float64 `json:"values"`
}

// Summary is the center of a sample and its confidence interval. Lo and Hi
// are infinite when the sample is too small for the requested confidence.
type Summary struct {
	N      int     `json:"n"`
	Center float64 `json:"center"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
}

// Summarize computes the median and its confidence interval (at
// DefaultConfidence) of values, which need not be sorted.
func Summarize(values []float64) Summary {
	if len(values) == 0 {
		return Summary{Center: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	s := benchmath.NewSample(slices.Clone(values), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, DefaultConfidence)
	return Summary{N: len(values), Center: sum.Center, Lo: sum.Lo, Hi: sum.Hi}
}

// Change classifies a row of a comparison.
type Change int

// The kinds of change. A change is significant only when the U-test rejects
// the hypothesis that both samples come from one distribution.
const (
	Unchanged   Change = 0  // not significant, or equal centers
	Improvement Change = 1  // significantly better
	Regression  Change = -1 // significantly worse
)

// String returns "regression", "improvement" or "unchanged".
func (c Change) String() string {
	switch c {
	case Improvement:
		return "improvement"
	case Regression:
		return "regression"
	}
	return "unchanged"
}

// Row is the comparison of one Key. Old or New is absent (N == 0) when the
// benchmark ran on one side only; then DeltaPct and P are NaN.
type Row struct {
	Key
	Old, New    Summary
	DeltaPct    float64 // (new/old - 1) × 100 of the medians (Paired: the median per-pair ratio); NaN when not comparable
	P           float64 // Mann-Whitney U-test p-value (Paired: signed-rank); NaN when not comparable
	Significant bool    // P < alpha
	Change      Change
	// Worse is how much worse, in percent, new is than old in the unit's
	// direction (positive is worse); NaN when not comparable.
	Worse float64
	// Gap is how far apart, in percent and in the unit's direction, the two
	// confidence intervals lie: the best end of the new interval against
	// the worst end of the old one (positive: even the new run's best is
	// worse than the old run's worst). Negative when the intervals overlap;
	// NaN when not comparable or an interval is unbounded.
	Gap float64
	// Tied is true when every value on both sides is the same (a count
	// that never moves, like 0 allocs/op): no test can find a change, so
	// the gate leaves the row out of the family it corrects for.
	Tied bool
	// Paired is true when P and DeltaPct come from the per-pair ratios
	// (Options.Paired): P from SignedRankTest, DeltaPct the median ratio.
	Paired bool
	// Q is the row's p-value adjusted for the number of comparisons the
	// gate judged together (Benjamini-Hochberg); set by Judge on gated
	// rows, NaN elsewhere.
	Q float64
}

// Geomean is the geometric mean of the centers of the rows in one unit that
// ran on both sides.
type Geomean struct {
	Unit     string  `json:"unit"`
	Old      float64 `json:"old"`
	New      float64 `json:"new"`
	DeltaPct float64 `json:"delta_pct"`
	N        int     `json:"n"`
}

// Result is a full comparison: rows in table order and one geomean per unit.
type Result struct {
	Rows     []Row
	Geomeans []Geomean
	Alpha    float64
}

// Options tune a comparison; the zero value uses DefaultAlpha.
type Options struct {
	// Alpha is the significance level of the U-test (default 0.05).
	Alpha float64
	// Paired says the i-th value of a key on one side was measured next
	// to the i-th value on the other (`benchdash bench` runs A and B
	// leaf by leaf in ABBA order): a key with as many values on
	// both sides is then tested on its per-pair ratios (SignedRankTest)
	// instead of the U-test, and its delta is the median of those ratios.
	// Keys whose counts differ fall back to the unpaired comparison.
	Paired bool
}

// HigherIsBetter reports whether larger values of unit are improvements:
// rates (units ending in "/s") and speed-up ratios (units starting with
// "x-faster-than") are; everything else (time, bytes and counts per op,
// other custom metrics) is lower-is-better.
func HigherIsBetter(unit string) bool {
	return strings.HasSuffix(unit, "/s") || strings.HasPrefix(unit, "x-faster-than")
}

// Compare compares the samples of a new run against those of a base run.
// Samples with the same Key on one side are merged.
func Compare(old, new []Sample, opts Options) Result {
	alpha := opts.Alpha
	if alpha <= 0 {
		alpha = DefaultAlpha
	}
	th := benchmath.Thresholds{CompareAlpha: alpha}
	oldm, newm := merge(old), merge(new)
	keys := make([]Key, 0, len(oldm)+len(newm))
	for k := range oldm {
		keys = append(keys, k)
	}
	for k := range newm {
		if _, ok := oldm[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, CompareKeys)
	res := Result{Alpha: alpha, Rows: make([]Row, 0, len(keys))}
	for _, k := range keys {
		res.Rows = append(res.Rows, compareOne(k, oldm[k], newm[k], &th, opts.Paired))
	}
	res.Geomeans = geomeans(res.Rows)
	return res
}

func merge(samples []Sample) map[Key][]float64 {
	m := make(map[Key][]float64, len(samples))
	for _, s := range samples {
		m[s.Key] = append(m[s.Key], s.Values...)
	}
	return m
}

func compareOne(k Key, old, new []float64, th *benchmath.Thresholds, paired bool) Row {
	row := Row{Key: k, DeltaPct: math.NaN(), P: math.NaN(), Worse: math.NaN(), Gap: math.NaN(), Q: math.NaN()}
	row.Old = Summarize(old)
	row.New = Summarize(new)
	if len(old) == 0 || len(new) == 0 {
		return row
	}
	row.Tied = allEqual(old, new[0]) && allEqual(new, new[0])
	if paired && len(old) == len(new) {
		row.Paired = true
		var n int
		row.P, n, row.DeltaPct = pairedChange(old, new)
		// Every pair equal: no sign to test, like a tie.
		row.Tied = row.Tied || n == 0
		row.Significant = row.P < th.CompareAlpha
	} else {
		s1 := benchmath.NewSample(slices.Clone(old), th)
		s2 := benchmath.NewSample(slices.Clone(new), th)
		c := benchmath.AssumeNothing.Compare(s1, s2)
		row.P = c.P
		row.Significant = c.P < c.Alpha
		switch {
		case row.Old.Center == row.New.Center:
			row.DeltaPct = 0
		case row.Old.Center != 0:
			row.DeltaPct = (row.New.Center/row.Old.Center - 1) * 100
		}
	}
	if !math.IsNaN(row.DeltaPct) {
		row.Worse = row.DeltaPct
		if HigherIsBetter(k.Unit) {
			row.Worse = -row.DeltaPct
		}
		row.Gap = intervalGap(row.Old, row.New, HigherIsBetter(k.Unit))
		if row.Significant && row.Worse > 0 {
			row.Change = Regression
		} else if row.Significant && row.Worse < 0 {
			row.Change = Improvement
		}
	}
	return row
}

// pairedChange tests the pairs (old[i], new[i]) and estimates the change.
// When every value is positive it works on the log ratios: the p-value of
// SignedRankTest on log(new/old), and the median ratio as the delta in
// percent, so that a 1.4x swing of the machine that hits both members of a
// pair cancels. Otherwise (a zero or negative value, like 0 allocs/op) it
// uses the differences new-old, and the delta of the medians.
func pairedChange(old, new []float64) (p float64, n int, deltaPct float64) {
	d := make([]float64, len(old))
	logs := true
	for i := range old {
		if !(old[i] > 0 && new[i] > 0) {
			logs = false
		}
	}
	for i := range old {
		if logs {
			d[i] = math.Log(new[i] / old[i])
		} else {
			d[i] = new[i] - old[i]
		}
	}
	p, n = SignedRankTest(d)
	if logs {
		return p, n, (math.Exp(median(d)) - 1) * 100
	}
	mo, mn := median(old), median(new)
	switch {
	case mo == mn:
		return p, n, 0
	case mo != 0:
		return p, n, (mn/mo - 1) * 100
	}
	return p, n, math.NaN()
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is not modified.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	h := len(s) / 2
	if len(s)%2 == 1 {
		return s[h]
	}
	return (s[h-1] + s[h]) / 2
}

func allEqual(xs []float64, v float64) bool {
	for _, x := range xs {
		if x != v {
			return false
		}
	}
	return true
}

func geomeans(rows []Row) []Geomean {
	type acc struct {
		logOld, logNew float64
		n              int
	}
	byUnit := map[string]*acc{}
	var units []string
	for _, r := range rows {
		if r.Old.N == 0 || r.New.N == 0 || !(r.Old.Center > 0) || !(r.New.Center > 0) {
			continue
		}
		a := byUnit[r.Unit]
		if a == nil {
			a = &acc{}
			byUnit[r.Unit] = a
			units = append(units, r.Unit)
		}
		a.logOld += math.Log(r.Old.Center)
		a.logNew += math.Log(r.New.Center)
		a.n++
	}
	out := make([]Geomean, 0, len(units))
	for _, u := range units {
		a := byUnit[u]
		g := Geomean{Unit: u, N: a.n, Old: math.Exp(a.logOld / float64(a.n)), New: math.Exp(a.logNew / float64(a.n))}
		g.DeltaPct = (g.New/g.Old - 1) * 100
		out = append(out, g)
	}
	return out
}

// intervalGap returns Row.Gap for the summaries old and new.
func intervalGap(old, new Summary, higherIsBetter bool) float64 {
	bounded := func(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }
	if !bounded(old.Lo) || !bounded(old.Hi) || !bounded(new.Lo) || !bounded(new.Hi) {
		return math.NaN()
	}
	if higherIsBetter {
		// Worse means lower: compare the new run's highest with the old run's lowest.
		if new.Hi <= 0 {
			return math.NaN()
		}
		return (old.Lo/new.Hi - 1) * 100
	}
	if old.Hi <= 0 {
		return math.NaN()
	}
	return (new.Lo/old.Hi - 1) * 100
}

// Failures returns the regressions that fail a gate at thresholdPct: the
// change is significant (U-test), and the confidence intervals are more than
// thresholdPct apart, so that even the new run's best is that much worse than
// the old run's worst. A shared machine drifts between runs by more than one
// run's own spread shows (tens of percent on cross-process latencies), and
// this is what keeps an unchanged re-run from failing while a real slowdown
// of more than the threshold still does. Worst first.
func (r Result) Failures(thresholdPct float64) []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Change == Regression && row.Gap > thresholdPct {
			out = append(out, row)
		}
	}
	slices.SortStableFunc(out, func(a, b Row) int { return cmp.Compare(b.Worse, a.Worse) })
	return out
}

// Regressions returns the rows that are significant regressions worse than
// thresholdPct percent, worst first.
func (r Result) Regressions(thresholdPct float64) []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Change == Regression && row.Worse > thresholdPct {
			out = append(out, row)
		}
	}
	slices.SortStableFunc(out, func(a, b Row) int { return cmp.Compare(b.Worse, a.Worse) })
	return out
}
