package store

import (
	"math"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
)

// TestRegressionIntervals: each regression row gets both sides' medians
// and intervals as its stored comparison recorded them; a row whose
// comparison is not stored gets empty summaries.
func TestRegressionIntervals(t *testing.T) { eachStore(t, testRegressionIntervals) }

func testRegressionIntervals(t *testing.T, st *Store) {
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i, slow := range []map[int]float64{nil, {1: 1.5}} {
		ingestSpec(t, st, benchgen.Spec{Commit: "c" + string(rune('a'+i)), Branch: "main", Machine: "m", Date: t0.Add(time.Duration(i) * time.Hour),
			Pkg: "p", Benchmarks: 2, Samples: 6, Seed: uint64(i), Noise: 0.01, Slow: slow})
	}
	rows, err := st.Regressions(t.Context(), RegressionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Name != "Op001-2" {
		t.Fatalf("regressions %+v", rows)
	}
	missing := rows[0]
	missing.RunID = 999
	sums, err := st.RegressionIntervals(t.Context(), append(rows, missing))
	if err != nil {
		t.Fatal(err)
	}
	old, new := sums[0][0], sums[0][1]
	if old.N != 6 || new.N != 6 || old.Center != rows[0].Old || new.Center != rows[0].New {
		t.Errorf("summaries %+v %+v, row %+v", old, new, rows[0])
	}
	for _, s := range sums[0] {
		if !(s.Lo < s.Center && s.Center < s.Hi) || math.IsInf(s.Lo, 0) {
			t.Errorf("interval %+v does not hold its median", s)
		}
	}
	if sums[1][0].N != 0 || sums[1][1].N != 0 {
		t.Errorf("missing comparison: %+v", sums[1])
	}
	if out, err := st.RegressionIntervals(t.Context(), nil); err != nil || len(out) != 0 {
		t.Errorf("no rows: %v %v", out, err)
	}
}
