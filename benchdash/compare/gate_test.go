package compare

import (
	"fmt"
	"math"
	"testing"
)

// TestAdjustKnownAnswers checks the Benjamini-Hochberg adjustment against
// values worked by hand: p = 0.01, 0.04, 0.03, 0.005 over m = 4 sort to
// 0.005, 0.01, 0.03, 0.04; p·m/k is 0.02, 0.02, 0.04, 0.04, and the running
// minimum from the top leaves them so. NaN and Tied rows are not in the
// family.
func TestAdjustKnownAnswers(t *testing.T) {
	rows := []Row{{P: 0.01}, {P: 0.04}, {P: math.NaN()}, {P: 0.03}, {P: 1, Tied: true}, {P: 0.005}}
	if m := adjust(rows); m != 4 {
		t.Fatalf("family = %d, want 4", m)
	}
	want := []float64{0.02, 0.04, math.NaN(), 0.04, math.NaN(), 0.02}
	for i, r := range rows {
		if math.IsNaN(want[i]) != math.IsNaN(r.Q) || (!math.IsNaN(want[i]) && math.Abs(r.Q-want[i]) > 1e-12) {
			t.Errorf("row %d (p=%v): q = %v, want %v", i, r.P, r.Q, want[i])
		}
	}
	// The running minimum: 0.5·3/1 and 0.8·3/2 exceed the largest p, 0.9,
	// so every q is 0.9 (never above 1, never out of the p-values' order).
	rows = []Row{{P: 0.9}, {P: 0.8}, {P: 0.5}}
	adjust(rows)
	for i, r := range rows {
		if r.Q != 0.9 {
			t.Errorf("row %d (p=%v): q = %v, want 0.9", i, r.P, r.Q)
		}
	}
}

func regressionRow(name string, p, worse float64) Row {
	return Row{Key: Key{Name: name, Unit: "sec/op"}, Old: Summary{N: 8, Center: 1}, New: Summary{N: 8, Center: 1 + worse/100},
		DeltaPct: worse, Worse: worse, P: p, Significant: p < DefaultAlpha, Change: map[bool]Change{true: Regression}[p < DefaultAlpha], Q: math.NaN()}
}

// TestJudgeFamily: among 100 gated rows, a +30% row at p = 0.015 (what an
// unchanged cross-process benchmark showed in a busy session here) does not
// fail once corrected for the family, and is reported as Uncorrected; a row
// whose 8 samples all lie beyond the other side's (p = 0.00016) fails; a
// +5% row at any p never fails (threshold 10%).
func TestJudgeFamily(t *testing.T) {
	var res Result
	for i := range 97 {
		res.Rows = append(res.Rows, regressionRow(fmt.Sprintf("Quiet%d", i), 0.2+0.008*float64(i), 1))
	}
	res.Rows = append(res.Rows, regressionRow("Noisy", 0.015, 30), regressionRow("Slow", 0.000155, 15), regressionRow("Small", 0.000155, 5))
	v := Judge(res, Result{}, 10)
	if v.Family != 100 || v.Gated != 100 {
		t.Fatalf("family %d gated %d, want 100 100", v.Family, v.Gated)
	}
	if len(v.Regressions) != 1 || v.Regressions[0].Name != "Slow" {
		t.Fatalf("regressions = %+v, want only Slow", v.Regressions)
	}
	if q := v.Regressions[0].Q; math.Abs(q-0.000155*100/2) > 1e-9 {
		t.Errorf("Slow q = %v, want %v (rank 2 of 100)", q, 0.000155*100/2)
	}
	if len(v.Uncorrected) != 1 || v.Uncorrected[0].Name != "Noisy" {
		t.Fatalf("uncorrected = %+v, want only Noisy", v.Uncorrected)
	}
	// Alone, the same Noisy row is a failure: the family is what excuses it.
	v = Judge(Result{Rows: []Row{regressionRow("Noisy", 0.015, 30)}}, Result{}, 10)
	if len(v.Regressions) != 1 {
		t.Fatalf("a lone p=0.015 +30%% row: regressions %+v, want it to fail", v.Regressions)
	}
}
