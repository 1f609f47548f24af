package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// benchText returns benchfmt text with one line per value for each
// benchmark, in the order given, as rounds of an A/B session produce them.
func benchText(benchmarks map[string][]float64, order ...string) string {
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\npkg: example.com/p\n")
	n := len(benchmarks[order[0]])
	for i := 0; i < n; i++ {
		for _, name := range order {
			fmt.Fprintf(&b, "Benchmark%s-2 \t 1000 \t %g ns/op\n", name, benchmarks[name][i])
		}
	}
	return b.String()
}

func samplesOf(t *testing.T, text string) []compare.Sample {
	t.Helper()
	run, err := store.ParseBytes([]byte(text), "fixture.txt", store.Overrides{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	return run.Samples
}

// judge runs the comparison, the A/A check and the gate as bench does.
func judge(t *testing.T, a, b string, threshold float64) compare.Verdict {
	as, bs := samplesOf(t, a), samplesOf(t, b)
	first, second := compare.Halves(as)
	return compare.Judge(compare.Compare(as, bs, compare.Options{}), compare.Compare(first, second, compare.Options{}), threshold)
}

func TestGate(t *testing.T) {
	steady := []float64{100, 101, 99, 100, 102, 98, 100, 101}
	// Unchanged code on a machine that slowed down half-way through the
	// session: its two halves differ by 50%.
	drifting := []float64{100, 101, 99, 100, 150, 151, 149, 150}
	a := benchText(map[string][]float64{"Steady": steady, "Drifting": drifting}, "Steady", "Drifting")
	scale := func(v []float64, f float64) []float64 {
		out := make([]float64, len(v))
		for i := range v {
			out[i] = v[i] * f
		}
		return out
	}
	for _, tc := range []struct {
		name                string
		steady, drifting    float64 // B's factor on A's values
		threshold           float64
		wantFail, wantNoisy []string
		wantGated           int
	}{
		{name: "unchanged", steady: 1, drifting: 1, threshold: 10, wantNoisy: []string{"Drifting-2"}, wantGated: 1},
		{name: "steady 2x slower fails", steady: 2, drifting: 1, threshold: 10, wantFail: []string{"Steady-2"}, wantNoisy: []string{"Drifting-2"}, wantGated: 1},
		{name: "steady 15% slower fails at 10%", steady: 1.15, drifting: 1, threshold: 10, wantFail: []string{"Steady-2"}, wantNoisy: []string{"Drifting-2"}, wantGated: 1},
		{name: "steady 15% slower passes at 20%", steady: 1.15, drifting: 1, threshold: 20, wantNoisy: []string{"Drifting-2"}, wantGated: 1},
		{name: "noisy 2x slower does not fail", steady: 1, drifting: 2, threshold: 10, wantNoisy: []string{"Drifting-2"}, wantGated: 1},
		// At a threshold above its drift the drifting benchmark is gated.
		// and its 2x regression fails, although its wide interval (100 to
		// 150) keeps the gap to B's (200 to 300) at +32%: paired sides are
		// gated on the change of the medians.
		{name: "drift within threshold", steady: 1, drifting: 2, threshold: 60, wantFail: []string{"Drifting-2"}, wantGated: 2},
		// Significant but within the threshold: passes.
		{name: "steady 5% slower passes", steady: 1.05, drifting: 1, threshold: 10, wantNoisy: []string{"Drifting-2"}, wantGated: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := benchText(map[string][]float64{"Steady": scale(steady, tc.steady), "Drifting": scale(drifting, tc.drifting)}, "Steady", "Drifting")
			v := judge(t, a, b, tc.threshold)
			names := func(rows []compare.Row) (out []string) {
				for _, r := range rows {
					out = append(out, r.Name)
				}
				return out
			}
			var noisy []compare.Row
			for _, n := range v.Noisy {
				noisy = append(noisy, n.AA)
			}
			if !v.AAChecked || v.Gated != tc.wantGated ||
				fmt.Sprint(names(v.Regressions)) != fmt.Sprint(tc.wantFail) || fmt.Sprint(names(noisy)) != fmt.Sprint(tc.wantNoisy) {
				t.Errorf("verdict: checked %v, gated %d, failures %v, noisy %v; want gated %d, failures %v, noisy %v",
					v.AAChecked, v.Gated, names(v.Regressions), names(noisy), tc.wantGated, tc.wantFail, tc.wantNoisy)
			}
		})
	}
}

func TestGateReport(t *testing.T) {
	steady := []float64{100, 101, 99, 100, 102, 98, 100, 101}
	drifting := []float64{100, 101, 99, 100, 150, 151, 149, 150}
	a := benchText(map[string][]float64{"Steady": steady, "Drifting": drifting}, "Steady", "Drifting")
	b := benchText(map[string][]float64{"Steady": {200, 202, 198, 200, 204, 196, 200, 202}, "Drifting": drifting}, "Steady", "Drifting")
	var out strings.Builder
	e := &env{ctx: t.Context(), stdout: &out, stderr: &out}
	if fails := e.report(judge(t, a, b, 10)); len(fails) != 1 {
		t.Errorf("failures: %v", fails)
	}
	for _, w := range []string{"gated 1 benchmark×unit, 1 too noisy here; threshold 10%",
		"too noisy here: Drifting-2 sec/op: A/A halves differ by +50.00% (p=0.029; A 125.0n ± 21%, n=8): not gated",
		"Steady-2 sec/op: +100.00%", "FAIL"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	// With 3 samples a half there is no A/A check: the gate says so and
	// gates everything.
	out.Reset()
	six := benchText(map[string][]float64{"Steady": steady[:6]}, "Steady")
	v := judge(t, six, six, 10)
	e.report(v)
	if v.AAChecked || v.Gated != 1 || !strings.Contains(out.String(), "no A/A check: fewer than 4 baseline samples a half") ||
		!strings.Contains(out.String(), "no significant regression beyond 10%") {
		t.Errorf("6 samples: %+v\n%s", v, out.String())
	}
}

func TestHalvesAndRounds(t *testing.T) {
	first, second := compare.Halves([]compare.Sample{{Key: compare.Key{Name: "X"}, Values: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}}})
	if fmt.Sprint(first[0].Values, second[0].Values) != "[1 2 3 4] [6 7 8 9]" {
		t.Errorf("halves of 9: %v %v", first[0].Values, second[0].Values)
	}
	a, b := &tree{name: "A"}, &tree{name: "B"}
	// Leaf by leaf, a package's leaves together, packages in the order
	// the sides list them; each leaf twice a side in ABBA order, A first
	// in round 0 and B first in round 1; a leaf or package only one side
	// has (Y dropped from the working tree, Z and package new added) runs
	// on that side alone, in its place.
	a.pkgs = []benchPkg{{importPath: "p", leaves: []string{"X/1", "X/2", "Y"}}, {importPath: "q", leaves: []string{"W"}}}
	b.pkgs = []benchPkg{{importPath: "p", leaves: []string{"X/1", "X/2", "Z"}}, {importPath: "new", leaves: []string{"N"}}, {importPath: "q", leaves: []string{"W"}}}
	for i, want := range []string{
		"A:p.X/1 B:p.X/1 B:p.X/1 A:p.X/1 A:p.X/2 B:p.X/2 B:p.X/2 A:p.X/2 A:p.Y A:p.Y B:p.Z B:p.Z A:q.W B:q.W B:q.W A:q.W B:new.N B:new.N",
		"B:p.X/1 A:p.X/1 A:p.X/1 B:p.X/1 B:p.X/2 A:p.X/2 A:p.X/2 B:p.X/2 A:p.Y A:p.Y B:p.Z B:p.Z B:q.W A:q.W A:q.W B:q.W B:new.N B:new.N",
	} {
		var steps []string
		firsts := 0
		for _, st := range roundSteps(i, []*tree{a, b}, 2) {
			steps = append(steps, st.side.name+":"+st.pkg.importPath+"."+st.leaf)
			if st.first {
				firsts++
			}
		}
		if got := strings.Join(steps, " "); got != want {
			t.Errorf("round %d steps\n got %s\nwant %s", i, got, want)
		}
		if firsts != 6 {
			t.Errorf("round %d: %d leaves marked first, want 6", i, firsts)
		}
	}
	if got := len(roundSteps(0, []*tree{b}, 1)); got != 5 {
		t.Errorf("one side, one value: %d steps, want 5", got)
	}
	for _, c := range []struct{ name, want string }{
		{"BenchmarkFrame/size=64B", "^BenchmarkFrame$/^size=64B$"},
		{"BenchmarkPing", "^BenchmarkPing$"},
		{"BenchmarkX/a.b/c+d", `^BenchmarkX$/^a\.b$/^c\+d$`},
	} {
		if got := leafPattern(c.name); got != c.want {
			t.Errorf("leafPattern(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	for _, c := range []struct{ expr, name, want string }{
		{".", "BenchmarkFrame", "^BenchmarkFrame$"},
		{"^(BenchmarkPing|BenchmarkBatch)$", "BenchmarkPing", "^BenchmarkPing$"},
		{"Frame/size=64B", "BenchmarkFrame", "^BenchmarkFrame$/size=64B"},
		{".", "Benchmark.Odd", `^Benchmark\.Odd$`},
	} {
		if got := benchPattern(c.expr, c.name); got != c.want {
			t.Errorf("benchPattern(%q, %q) = %q, want %q", c.expr, c.name, got, c.want)
		}
	}
}

// TestReportUncorrected: a row significant only before the correction is
// printed as not failing, with its p and q, and does not fail.
func TestReportUncorrected(t *testing.T) {
	var out strings.Builder
	e := &env{ctx: t.Context(), stdout: &out, stderr: &out}
	r := compare.Row{Key: compare.Key{Name: "Ping-2", Unit: "sec/op"}, DeltaPct: 17.4, P: 0.034, Q: 0.997}
	if fails := e.report(compare.Verdict{Threshold: 10, Gated: 129, Family: 129, AAChecked: true, Uncorrected: []compare.Row{r}}); len(fails) != 0 {
		t.Errorf("failures: %v", fails)
	}
	for _, w := range []string{"not failing: Ping-2 sec/op: +17.40% (p=0.034, but q=0.997 over 129 comparisons): not significant once corrected",
		"no significant regression beyond 10%"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
}
