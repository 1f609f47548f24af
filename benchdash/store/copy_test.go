package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/internal/pgtest"
)

// fillStore stores a history: two machines, a baseline, a regression, a
// labelled run and an ad-hoc comparison. It returns the number of samples.
func fillStore(t *testing.T, st *Store) int {
	t.Helper()
	ctx := t.Context()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	samples := 0
	var first int64
	for i := range 6 {
		machine := []string{"m1", "m2"}[i%2]
		var slow map[int]float64
		if i == 4 {
			slow = map[int]float64{1: 1.4}
		}
		spec := benchgen.Spec{Commit: fmt.Sprintf("c%d", i), Branch: "main", Machine: machine, Date: t0.Add(time.Duration(i) * time.Hour),
			Pkg: "example.com/p", Benchmarks: 3, Samples: 5, Seed: uint64(i), Noise: 0.01, Units: i%3 == 0, Slow: slow}
		run, err := ParseBytes(benchgen.File(spec), spec.Commit+".txt", Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			run.Labels["session"], run.Labels["side"] = "s1", "A"
		}
		res, err := st.Ingest(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range run.Samples {
			samples += len(s.Values)
		}
		if i == 0 {
			first = res.RunID
			if err := st.SetBaseline(ctx, machine, "", res.RunID); err != nil {
				t.Fatal(err)
			}
			if err := st.SetBaseline(ctx, machine, "release", res.RunID); err != nil {
				t.Fatal(err)
			}
		}
		if i == 5 {
			if _, _, err := st.Comparison(ctx, res.RunID, first, KindAdhoc); err != nil {
				t.Fatal(err)
			}
		}
	}
	return samples
}

// snapshot renders what a store holds with runs named by hash, not id, so
// that two stores holding the same history render alike.
func snapshot(t *testing.T, st *Store) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	runs, _, err := st.ListRuns(ctx, RunFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	hash := map[int64]string{}
	for _, r := range runs {
		hash[r.ID] = r.Hash[:8]
	}
	cmpInfo := func(c *ComparisonInfo) string {
		if c == nil {
			return "-"
		}
		return fmt.Sprintf("%s vs %s: %d/%d worst %.6f", c.Kind, hash[c.BaseID], c.Regressions, c.Improvements, c.Worst)
	}
	for _, r := range runs {
		fmt.Fprintf(&b, "run %s %s %s %s %s %s %s/%s/%s labels %v metrics %d baseline of %v; %s; %s\n", hash[r.ID], r.Commit, r.Branch, r.Time.Format(time.RFC3339Nano),
			r.Machine, r.Source, r.GOOS, r.GOARCH, r.CPU, r.Labels, r.Metrics, r.BaselineOf, cmpInfo(r.VsBaseline), cmpInfo(r.VsPrevious))
		samples, err := st.Samples(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			fmt.Fprintf(&b, "  %s %s %s %v\n", s.Pkg, s.Name, s.Unit, s.Values)
		}
	}
	bases, err := st.Baselines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bl := range bases {
		fmt.Fprintf(&b, "baseline %s/%s = %s saved %s\n", bl.Machine, bl.Name, hash[bl.RunID], bl.Saved.Format(time.RFC3339Nano))
	}
	regs, err := st.Regressions(ctx, RegressionFilter{Kind: KindBaseline})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		fmt.Fprintf(&b, "regression %s vs %s %s %s %.6f\n", hash[r.RunID], hash[r.BaseID], r.Name, r.Unit, r.Worse)
	}
	var adhoc int
	if err := st.DB().QueryRow(`SELECT count(*) FROM comparisons WHERE kind = 'adhoc'`).Scan(&adhoc); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "adhoc comparisons %d\n", adhoc)
	return b.String()
}

// Copy moves a whole history SQLite -> PostgreSQL -> SQLite unchanged,
// and copying again moves nothing.
func TestCopyBothWays(t *testing.T) {
	ctx := t.Context()
	src := openTemp(t)
	samples := fillStore(t, src)
	want := snapshot(t, src)
	pg := openDSN(t, pgtest.DSN(t))

	got, err := Copy(ctx, pg, src)
	if err != nil {
		t.Fatal(err)
	}
	// 6 runs; 2 comparisons vs previous, 4 vs the baseline, 1 ad hoc; m1's default and release baselines.
	if want := (CopyStats{Runs: 6, Samples: samples, Comparisons: 7, Baselines: 2}); got != want {
		t.Errorf("sqlite -> postgres: %+v, want %+v", got, want)
	}
	if s := snapshot(t, pg); s != want {
		t.Errorf("postgres copy differs:\n%s\nwant:\n%s", s, want)
	}
	again, err := Copy(ctx, pg, src)
	if err != nil {
		t.Fatal(err)
	}
	if want := (CopyStats{Present: 6}); again != want {
		t.Errorf("second copy: %+v, want %+v", again, want)
	}
	if s := snapshot(t, pg); s != want {
		t.Errorf("postgres after second copy differs:\n%s", s)
	}

	back := openDSN(t, filepath.Join(t.TempDir(), "back.db"))
	got, err = Copy(ctx, back, pg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Runs != 6 || got.Samples != samples {
		t.Errorf("postgres -> sqlite: %+v", got)
	}
	if s := snapshot(t, back); s != want {
		t.Errorf("sqlite copy of the postgres copy differs:\n%s\nwant:\n%s", s, want)
	}
	// New runs are stored after the copied ones, and compare against the
	// copied baseline.
	res := ingestSpec(t, pg, benchgen.Spec{Commit: "new", Branch: "main", Machine: "m1", Date: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		Pkg: "example.com/p", Benchmarks: 3, Samples: 5})
	if len(res.Comparisons) != 2 {
		t.Errorf("ingest after copy: %+v", res.Comparisons)
	}
	if _, err := Copy(ctx, src, src); err == nil {
		t.Error("copy of a store onto itself accepted")
	}
}

// A destination that already holds some of the runs keeps them, and a
// moved baseline is counted.
func TestCopyMerges(t *testing.T) {
	eachStore(t, func(t *testing.T, dst *Store) {
		ctx := t.Context()
		src := openTemp(t)
		fillStore(t, src)
		spec := benchgen.Spec{Commit: "c0", Branch: "main", Machine: "m1", Date: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
			Pkg: "example.com/p", Benchmarks: 3, Samples: 5, Seed: 0, Noise: 0.01, Units: true}
		res := ingestSpec(t, dst, spec) // the same content as src's first run
		extra := ingestSpec(t, dst, benchgen.Spec{Commit: "x", Machine: "m1", Pkg: "q", Benchmarks: 1, Samples: 2})
		if err := dst.SetBaseline(ctx, "m1", "", extra.RunID); err != nil {
			t.Fatal(err)
		}
		got, err := Copy(ctx, dst, src)
		if err != nil {
			t.Fatal(err)
		}
		if got.Runs != 5 || got.Present != 1 || got.Baselines != 2 {
			t.Errorf("merge: %+v", got)
		}
		if id, err := dst.GetBaseline(ctx, "m1", ""); err != nil || id != res.RunID {
			t.Errorf("m1 default baseline = %d %v, want the copied one, run %d", id, err, res.RunID)
		}
		if n := countRows(t, dst, "runs"); n != 7 {
			t.Errorf("runs = %d, want 7", n)
		}
	})
}
