package compare

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func near(a, b, eps float64) bool { return math.Abs(a-b) <= eps }

func seq(from, to float64) []float64 {
	var v []float64
	for x := from; x <= to; x++ {
		v = append(v, x)
	}
	return v
}

// Fully separated samples of sizes n+n give the smallest possible
// two-sided U-test p-value, 2/C(2n, n): 2/924 for 6+6 and 2/70 for 4+4.
func TestKnownAnswers(t *testing.T) {
	tests := []struct {
		name      string
		unit      string
		old, new  []float64
		wantP     float64
		wantDelta float64
		wantSig   bool
		change    Change
		formatted string
	}{
		{"6+6 separated, time", "sec/op", seq(1, 6), seq(7, 12), 2.0 / 924, (9.5/3.5 - 1) * 100, true, Regression, "+171.43%"},
		{"6+6 separated, rate", "B/s", seq(1, 6), seq(7, 12), 2.0 / 924, (9.5/3.5 - 1) * 100, true, Improvement, "+171.43%"},
		{"6+6 faster", "sec/op", seq(7, 12), seq(1, 6), 2.0 / 924, (3.5/9.5 - 1) * 100, true, Improvement, "-63.16%"},
		{"4+4 separated", "allocs/op", seq(1, 4), seq(5, 8), 2.0 / 70, (6.5/2.5 - 1) * 100, true, Regression, "+160.00%"},
		{"3+3 can never be significant", "sec/op", seq(1, 3), seq(4, 6), 0.1, 150, false, Unchanged, "~"},
		{"identical", "sec/op", seq(1, 6), seq(1, 6), 1, 0, false, Unchanged, "~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Compare([]Sample{{Key{"p", "B", tt.unit}, tt.old}}, []Sample{{Key{"p", "B", tt.unit}, tt.new}}, Options{})
			if len(res.Rows) != 1 {
				t.Fatalf("rows = %d", len(res.Rows))
			}
			r := res.Rows[0]
			if !near(r.P, tt.wantP, 1e-9) {
				t.Errorf("p = %v, want %v", r.P, tt.wantP)
			}
			if !near(r.DeltaPct, tt.wantDelta, 1e-9) {
				t.Errorf("delta = %v, want %v", r.DeltaPct, tt.wantDelta)
			}
			if r.Significant != tt.wantSig || r.Change != tt.change {
				t.Errorf("significant=%v change=%v, want %v %v", r.Significant, r.Change, tt.wantSig, tt.change)
			}
			if got := FormatDelta(r); got != tt.formatted {
				t.Errorf("FormatDelta = %q, want %q", got, tt.formatted)
			}
		})
	}
}

func TestSummaryInterval(t *testing.T) {
	s := Summarize([]float64{6, 1, 5, 2, 4, 3})
	if s.N != 6 || s.Center != 3.5 || s.Lo != 1 || s.Hi != 6 {
		t.Errorf("Summarize(1..6) = %+v, want median 3.5 in [1, 6]", s)
	}
	small := Summarize([]float64{1, 2, 3})
	if !math.IsInf(small.Lo, -1) || !math.IsInf(small.Hi, 1) {
		t.Errorf("3 samples: interval [%v, %v], want infinite", small.Lo, small.Hi)
	}
	if got := RangePct(small); got != "∞" {
		t.Errorf("RangePct = %q", got)
	}
	if e := Summarize(nil); e.N != 0 || !math.IsNaN(e.Center) {
		t.Errorf("empty summary = %+v", e)
	}
	if got := FormatSummary(Summarize(seq(1, 6)), "sec/op"); got != "3.500 ± 71%" {
		t.Errorf("FormatSummary = %q", got)
	}
	if got := RangePct(Summary{N: 6}); got != "0%" {
		t.Errorf("zero RangePct = %q", got)
	}
	if got := RangePct(Summary{N: 6, Lo: -1, Hi: 1}); got != "?" {
		t.Errorf("zero-center RangePct = %q", got)
	}
}

func TestGeomeanAndRegressions(t *testing.T) {
	old := []Sample{
		{Key{"p", "A", "sec/op"}, []float64{10, 10, 10, 10, 10, 10}},
		{Key{"p", "B", "sec/op"}, []float64{10, 10, 10, 10, 10, 10}},
		{Key{"p", "Gone", "sec/op"}, []float64{1, 1, 1, 1, 1, 1}},
	}
	new := []Sample{
		{Key{"p", "A", "sec/op"}, []float64{20, 20, 20, 20, 20, 20}},
		{Key{"p", "B", "sec/op"}, []float64{5, 5, 5, 5, 5, 5}},
		{Key{"p", "New", "sec/op"}, []float64{1, 1, 1, 1, 1, 1}},
		{Key{"p", "A", "B/op"}, []float64{1, 1, 1, 1, 1, 1}},
	}
	res := Compare(old, new, Options{Alpha: 0.05})
	if len(res.Rows) != 5 {
		t.Fatalf("rows = %d", len(res.Rows))
	}
	if len(res.Geomeans) != 1 || !near(res.Geomeans[0].DeltaPct, 0, 1e-9) || res.Geomeans[0].N != 2 {
		t.Errorf("geomeans = %+v, want one with delta 0 over 2 rows", res.Geomeans)
	}
	regs := res.Regressions(10)
	if len(regs) != 1 || regs[0].Name != "A" || !near(regs[0].Worse, 100, 1e-9) {
		t.Errorf("regressions = %+v", regs)
	}
	if regs := res.Regressions(150); len(regs) != 0 {
		t.Errorf("threshold 150: %d regressions", len(regs))
	}
	var one Row
	for _, r := range res.Rows {
		if r.Name == "Gone" {
			one = r
		}
	}
	if FormatDelta(one) != "?" || FormatP(one) != "(n=6+0)" || FormatSummary(one.New, "sec/op") != "-" {
		t.Errorf("one-sided row formats as %q %q", FormatDelta(one), FormatP(one))
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, res, "old", "new"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"sec/op (lower is better)", "p.A", "+100.00% (p=0.002 n=6+6)", "⚠ regression", "improvement", "geomean", "B/op"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	t.Log("\n" + out)
}

func TestOrderingAndFormatting(t *testing.T) {
	keys := []Key{{Unit: "custom/op"}, {Unit: "allocs/op"}, {Unit: "B/op"}, {Unit: "B/s"}, {Unit: "sec/op", Name: "b"}, {Unit: "sec/op", Name: "a"}}
	for i := 1; i < len(keys); i++ {
		if !keys[i].Less(keys[i-1]) {
			t.Errorf("%v should sort before %v", keys[i], keys[i-1])
		}
	}
	if !HigherIsBetter("B/s") || HigherIsBetter("sec/op") || !HigherIsBetter("ops/s") {
		t.Error("HigherIsBetter")
	}
	if got := FormatValue(0.000001234, "sec/op"); got != "1.234µ" {
		t.Errorf("FormatValue = %q", got)
	}
	if FormatValue(math.NaN(), "x") != "-" {
		t.Error("NaN value")
	}
	for c, s := range map[Change]string{Regression: "regression", Improvement: "improvement", Unchanged: "unchanged"} {
		if c.String() != s {
			t.Errorf("%d.String() = %q", c, c.String())
		}
	}
	// Zero old center: not comparable in percent.
	res := Compare([]Sample{{Key{"", "Z", "B/op"}, []float64{0, 0, 0, 0, 0, 0}}}, []Sample{{Key{"", "Z", "B/op"}, seq(1, 6)}}, Options{})
	if r := res.Rows[0]; !math.IsNaN(r.DeltaPct) || r.Change != Unchanged || FormatDelta(r) != "?" {
		t.Errorf("zero base: %+v %q", r, FormatDelta(r))
	}
	same := Compare([]Sample{{Key{"", "Z", "B/op"}, []float64{0, 0, 0, 0, 0, 0}}}, []Sample{{Key{"", "Z", "B/op"}, []float64{0, 0, 0, 0, 0, 0}}}, Options{})
	if r := same.Rows[0]; r.DeltaPct != 0 {
		t.Errorf("equal zeros delta = %v", r.DeltaPct)
	}
}

func TestFailuresNeedSeparatedIntervals(t *testing.T) {
	old := []Sample{
		// A clear slowdown: every new sample is twice the old ones.
		{Key{"p", "Slow", "sec/op"}, []float64{10, 10.1, 10.2, 9.9, 10, 10.1}},
		// Drift: significant (no overlap of samples) and 14% worse, but the
		// intervals touch, as an unchanged re-run on a shared machine does.
		{Key{"p", "Drift", "sec/op"}, []float64{40, 41, 42, 43, 44, 47}},
		// A rate that halved.
		{Key{"p", "Rate", "B/s"}, []float64{100, 101, 102, 99, 100, 101}},
	}
	new := []Sample{
		{Key{"p", "Slow", "sec/op"}, []float64{20, 20.1, 20.2, 19.9, 20, 20.1}},
		{Key{"p", "Drift", "sec/op"}, []float64{47.5, 48, 49, 50, 51, 52}},
		{Key{"p", "Rate", "B/s"}, []float64{50, 51, 52, 49, 50, 51}},
	}
	res := Compare(old, new, Options{Alpha: 0.05})
	if regs := res.Regressions(10); len(regs) != 3 {
		t.Fatalf("regressions = %d, want 3 (all significant and beyond 10%%)", len(regs))
	}
	fails := res.Failures(10)
	names := map[string]bool{}
	for _, r := range fails {
		names[r.Name] = true
	}
	if len(fails) != 2 || !names["Slow"] || !names["Rate"] {
		t.Fatalf("failures = %+v, want Slow and Rate only", fails)
	}
	for _, r := range res.Rows {
		if r.Name == "Drift" && !(r.Gap < 10) {
			t.Errorf("Drift gap = %v, want < 10", r.Gap)
		}
		if r.Name == "Slow" && !(r.Gap > 90) {
			t.Errorf("Slow gap = %v, want > 90", r.Gap)
		}
	}
	if fails := res.Failures(120); len(fails) != 0 {
		t.Errorf("threshold 120: %d failures", len(fails))
	}
	// An unbounded interval (too few samples) never fails the gate.
	res = Compare([]Sample{{Key{"p", "X", "sec/op"}, []float64{1}}}, []Sample{{Key{"p", "X", "sec/op"}, []float64{9}}}, Options{})
	if fails := res.Failures(10); len(fails) != 0 {
		t.Errorf("one-sample failures = %+v", fails)
	}
}

func TestUnitDirectionAndCounts(t *testing.T) {
	for unit, higher := range map[string]bool{
		"B/s": true, "calls/s": true, "frames/s": true, "x-faster-than-json": true, "x-faster-than-json-struct": true,
		"sec/op": false, "p50-sec": false, "B/op": false, "allocs/op": false, "parks/op": false,
		"time-vs-puddle": false, "slower-than-puddle": false,
	} {
		if HigherIsBetter(unit) != higher {
			t.Errorf("HigherIsBetter(%q) = %v", unit, !higher)
		}
	}
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{6, "allocs/op", "6"},
		{0.000593, "parks/op", "0.000593"},
		{1.5, "unstacks/op", "1.5"},
		{123456, "allocs/op", "123456"},
		{0.000006, "sec/op", "6.000µ"},
		{2048, "B/op", "2.000Ki"},
		{0.000000962, "p50-sec", "962.0n"},
	} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}
