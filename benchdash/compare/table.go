package compare

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchunit"
)

// FormatValue formats v in unit with an SI or binary prefix, as benchstat
// does ("1.234µ" for seconds, "2.000Ki" for bytes), except counts, which
// get no prefix: 6 allocs/op is "6", 0.0006 parks/op is "0.0006".
func FormatValue(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case IsCount(unit):
		if math.Abs(v) >= 10000 {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return benchunit.Scale(v, benchunit.ClassOf(unit))
}

// IsCount reports whether unit counts events per operation (allocs/op,
// parks/op) rather than measuring time (sec/op, p50-sec) or bytes (B/op):
// counts are shown without SI prefixes.
func IsCount(unit string) bool {
	if !strings.HasSuffix(unit, "/op") {
		return false
	}
	q := strings.TrimSuffix(unit, "/op")
	return !strings.HasSuffix(q, "sec") && !strings.HasSuffix(q, "B")
}

// FormatSummary formats a summary as "center ± pct%", the half-width of the
// confidence interval relative to the center; "± ∞" when the sample is too
// small for an interval.
func FormatSummary(s Summary, unit string) string {
	if s.N == 0 {
		return "-"
	}
	return FormatValue(s.Center, unit) + " ± " + RangePct(s)
}

// RangePct formats the half-width of the confidence interval in percent of
// the center.
func RangePct(s Summary) string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return "∞"
	}
	if s.Center == 0 {
		if s.Lo == 0 && s.Hi == 0 {
			return "0%"
		}
		return "?"
	}
	w := math.Max(s.Hi-s.Center, s.Center-s.Lo) / math.Abs(s.Center) * 100
	return fmt.Sprintf("%.0f%%", w)
}

// FormatDelta formats a row's delta: "~" when not significant, "+12.34%"
// otherwise, "?" when not comparable.
func FormatDelta(r Row) string {
	if r.Old.N == 0 || r.New.N == 0 {
		return "?"
	}
	if !r.Significant {
		return "~"
	}
	if math.IsNaN(r.DeltaPct) {
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", r.DeltaPct)
}

// FormatP formats a row's p-value and sample sizes as "(p=0.002 n=6+6)",
// or "(p=0.002 paired n=16)" for a row tested on its pairs.
func FormatP(r Row) string {
	if r.Old.N == 0 || r.New.N == 0 {
		return fmt.Sprintf("(n=%d+%d)", r.Old.N, r.New.N)
	}
	if r.Paired {
		return fmt.Sprintf("(p=%.3f paired n=%d)", r.P, r.Old.N)
	}
	return fmt.Sprintf("(p=%.3f n=%d+%d)", r.P, r.Old.N, r.New.N)
}

// WriteTable writes res as a benchstat-style text table, one section per
// unit, each ending with the geomean of that unit. Regressions are marked
// with "⚠" in the last column.
func WriteTable(w io.Writer, res Result, oldLabel, newLabel string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	unit := ""
	flushGeomean := func(u string) {
		for _, g := range res.Geomeans {
			if g.Unit == u {
				fmt.Fprintf(tw, "geomean\t%s\t%s\t%+.2f%%\t\t\n", FormatValue(g.Old, u), FormatValue(g.New, u), g.DeltaPct)
			}
		}
	}
	for i, r := range res.Rows {
		if r.Unit != unit {
			if i > 0 {
				flushGeomean(unit)
				fmt.Fprintln(tw, "\t\t\t\t\t")
			}
			unit = r.Unit
			better := "lower is better"
			if HigherIsBetter(unit) {
				better = "higher is better"
			}
			fmt.Fprintf(tw, "%s (%s)\t%s\t%s\tvs base\t\t\n", unit, better, oldLabel, newLabel)
		}
		mark := ""
		switch r.Change {
		case Regression:
			mark = "⚠ regression"
		case Improvement:
			mark = "improvement"
		}
		name := r.Name
		if r.Pkg != "" {
			name = r.Pkg + "." + r.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t\n", name, FormatSummary(r.Old, r.Unit), FormatSummary(r.New, r.Unit), FormatDelta(r), FormatP(r), mark)
	}
	if unit != "" {
		flushGeomean(unit)
	}
	return tw.Flush()
}
