package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/internal/pgtest"
)

// TestMain runs the tests with one throwaway PostgreSQL server for the
// PostgreSQL variants, and checks that no goroutine outlives them.
func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// backends are the databases every store test runs against: dsn names a
// new empty database for t.
var backends = []struct {
	name string
	dsn  func(t *testing.T) string
	dsnB func(b *testing.B) string
}{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sub", "bench.db") },
		func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.DSN(t) }, func(b *testing.B) string { return pgtest.DSN(b) }},
}

// eachStore runs fn as a subtest per backend, each with a new empty store.
func eachStore(t *testing.T, fn func(t *testing.T, st *Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, openDSN(t, b.dsn(t))) })
	}
}

func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	st, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	return openDSN(t, backends[0].dsn(t))
}

func countRows(t *testing.T, st *Store, table string) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func parseFile(t *testing.T, path string, o Overrides) *Run {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := Parse(f, filepath.Base(path), o)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// The testdata file is real output of go test -bench -benchmem -count=6
// with b.SetBytes (MB/s) and b.ReportMetric (parts/op).
func TestParseRealOutput(t *testing.T) {
	run := parseFile(t, "../testdata/gotest-count6.txt", Overrides{Machine: "m1", Commit: "abc", Branch: "main"})
	if run.GOOS != "linux" || run.GOARCH != "amd64" || run.CPU != "Intel(R) Xeon(R) Processor" {
		t.Errorf("platform %q %q %q", run.GOOS, run.GOARCH, run.CPU)
	}
	if run.Machine != "m1" || run.Commit != "abc" || run.Branch != "main" {
		t.Errorf("overrides not applied: %+v", run)
	}
	got := map[string]int{}
	for _, s := range run.Samples {
		if s.Pkg != "example.com/capbench" {
			t.Errorf("pkg %q", s.Pkg)
		}
		got[s.Name+" "+s.Unit] = len(s.Values)
	}
	want := map[string]int{
		"SHA256/size=64-2 sec/op": 6, "SHA256/size=64-2 B/s": 6, "SHA256/size=64-2 B/op": 6, "SHA256/size=64-2 allocs/op": 6,
		"SHA256/size=4096-2 sec/op": 6, "SHA256/size=4096-2 B/s": 6, "SHA256/size=4096-2 B/op": 6, "SHA256/size=4096-2 allocs/op": 6,
		"Join-2 sec/op": 6, "Join-2 parts/op": 6, "Join-2 B/op": 6, "Join-2 allocs/op": 6,
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d samples, want %d", k, got[k], n)
		}
	}
	// ns/op is tidied to seconds: 192.7 ns/op is the first SHA256/size=64 sample.
	if v := run.Samples[0].Values[0]; v < 192.6e-9 || v > 192.8e-9 {
		t.Errorf("first sample %v, want 192.7e-9 s", v)
	}
}

func TestParseConfigAndDefaults(t *testing.T) {
	data := "commit: 0123abc\nbranch: feature\nmachine: lab-1\ndate: 2026-01-02T03:04:05Z\nnote: hello\npkg: p\nBenchmarkX-2 10 5 ns/op\n"
	run, err := ParseBytes([]byte(data), "f", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Commit != "0123abc" || run.Branch != "feature" || run.Machine != "lab-1" || !run.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("run = %+v", run)
	}
	if run.Labels["note"] != "hello" || len(run.Labels) != 1 {
		t.Errorf("labels = %v", run.Labels)
	}
	run2, err := ParseBytes([]byte("BenchmarkX 10 5 ns/op\n"), "f", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if !strings.HasPrefix(run2.Machine, host) {
		t.Errorf("default machine %q lacks host name %q", run2.Machine, host)
	}
	if time.Since(run2.Time) > time.Minute {
		t.Errorf("default time %v", run2.Time)
	}
	if DefaultMachine("Some CPU") != host+" (Some CPU)" {
		t.Errorf("DefaultMachine = %q", DefaultMachine("Some CPU"))
	}
}

func TestParseRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, data string
		line       int
		target     error
	}{
		{"missing units", "pkg: p\nBenchmarkA-2 10 5 ns/op\nBenchmarkA-2 10 5\n", 3, ErrMalformed},
		{"bad iteration count", "BenchmarkA-2 ten 5 ns/op\n", 1, ErrMalformed},
		{"bad number", "\n\nBenchmarkA-2 10 fast ns/op\n", 3, ErrMalformed},
		{"not finite", "BenchmarkA-2 10 NaN ns/op\n", 1, ErrMalformed},
		{"infinite", "BenchmarkA-2 10 +Inf ns/op\n", 1, ErrMalformed},
		{"two commits", "commit: a\nBenchmarkA-2 10 5 ns/op\ncommit: b\nBenchmarkA-2 10 5 ns/op\n", 4, ErrMalformed},
		{"bad date", "date: yesterday\nBenchmarkA-2 10 5 ns/op\n", 2, ErrMalformed},
		{"empty", "", 0, ErrNoResults},
		{"only text", "hello\nPASS\nok x 1s\n", 0, ErrNoResults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(tt.data), "in.txt", Overrides{})
			if !errors.Is(err, tt.target) {
				t.Fatalf("err = %v, want %v", err, tt.target)
			}
			if tt.line > 0 {
				var le *LineError
				if !errors.As(err, &le) || le.Line != tt.line {
					t.Fatalf("err = %v, want line %d", err, tt.line)
				}
				if !strings.Contains(err.Error(), "in.txt:") {
					t.Errorf("error %q lacks file:line", err)
				}
			}
		})
	}
	_, err := Parse(strings.NewReader(strings.Repeat("x", MaxFileSize+1)), "big", Overrides{})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("big: %v", err)
	}
	_, err = Parse(strings.NewReader("Benchmark"+strings.Repeat("x", 70000)+" 1 2 ns/op\n"), "long", Overrides{})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("long line: %v", err)
	}
	_, err = Parse(errReader{}, "broken", Overrides{})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("read error: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestIngestStoresEverySampleOnce(t *testing.T) { eachStore(t, testIngestStoresEverySampleOnce) }

func testIngestStoresEverySampleOnce(t *testing.T, st *Store) {
	ctx := t.Context()
	run := parseFile(t, "../testdata/gotest-count6.txt", Overrides{Machine: "m1"})
	res, err := st.Ingest(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != 1 || len(res.Comparisons) != 0 {
		t.Errorf("first ingest: %+v", res)
	}
	if n := countRows(t, st, "samples"); n != 12*6 {
		t.Errorf("samples = %d, want 72", n)
	}
	again := parseFile(t, "../testdata/gotest-count6.txt", Overrides{Machine: "m1"})
	res, err = st.Ingest(ctx, again)
	if !errors.Is(err, ErrDuplicate) || res.RunID != 1 {
		t.Fatalf("re-ingest: %v %+v", err, res)
	}
	if n := countRows(t, st, "runs"); n != 1 {
		t.Errorf("runs = %d after duplicate", n)
	}
	got, err := st.Samples(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Fatalf("samples groups = %d", len(got))
	}
	for i, s := range got {
		if s.Key != run.Samples[i].Key || len(s.Values) != len(run.Samples[i].Values) {
			t.Errorf("round trip %d: %v vs %v", i, s.Key, run.Samples[i].Key)
		}
		for j := range s.Values {
			if s.Values[j] != run.Samples[i].Values[j] {
				t.Errorf("value %d/%d: %v != %v", i, j, s.Values[j], run.Samples[i].Values[j])
			}
		}
	}

	// A rerun compares against the previous run at ingest.
	rerun := parseFile(t, "../testdata/gotest-count6-rerun.txt", Overrides{Machine: "m1", Time: run.Time.Add(time.Minute)})
	res, err = st.Ingest(ctx, rerun)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Comparisons) != 1 || res.Comparisons[0].Kind != KindPrevious || res.Comparisons[0].BaseID != 1 {
		t.Errorf("comparisons at ingest: %+v", res.Comparisons)
	}
	if n := countRows(t, st, "deltas"); n != 12 {
		t.Errorf("deltas = %d, want 12", n)
	}
}

// Bad input anywhere in a file stores nothing of it, even when the bad line
// comes after good ones; a failure inside a batch rolls back only that run.
func TestBadInputStoresNothing(t *testing.T) { eachStore(t, testBadInputStoresNothing) }

func testBadInputStoresNothing(t *testing.T, st *Store) {
	good, err := os.ReadFile("../testdata/gotest-count6.txt")
	if err != nil {
		t.Fatal(err)
	}
	bad := append(append([]byte{}, good...), []byte("BenchmarkBroken-2 10 12 ns/op 7\n")...)
	if _, err := ParseBytes(bad, "bad.txt", Overrides{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v", err)
	} else if !strings.Contains(err.Error(), "bad.txt:25:") {
		t.Errorf("error lacks line 25: %v", err)
	}
	for _, tbl := range []string{"runs", "results", "samples", "benchmarks"} {
		if n := countRows(t, st, tbl); n != 0 {
			t.Errorf("%s has %d rows", tbl, n)
		}
	}
	// A run that fails while being stored (here: a closed context midway
	// is simulated by a sample key the schema refuses) is rolled back.
	err = st.Bulk(t.Context(), func(b *Batch) error {
		r1, _ := ParseBytes(benchgen.File(benchgen.Spec{Pkg: "p", Benchmarks: 2, Samples: 3, Machine: "m"}), "ok.txt", Overrides{})
		if _, err := b.Add(r1); err != nil {
			return err
		}
		r2 := &Run{Hash: "h2", Machine: "", Samples: []compare.Sample{{Key: compare.Key{Pkg: "p", Name: "X", Unit: "u"}, Values: []float64{1}}}}
		r2.Machine = "m"
		r2.Hash = r1.Hash + "-other"
		// Force a constraint failure: a run id that already exists.
		if _, err := b.tx.Exec(`INSERT INTO runs(id, hash, time, machine, ingested) VALUES (2, 'x', 0, 'm', 0)`); err != nil {
			return err
		}
		if _, err := b.Add(&Run{Hash: "x", Machine: "m"}); !errors.Is(err, ErrDuplicate) {
			t.Errorf("duplicate in batch: %v", err)
		}
		if _, err := b.tx.Exec(`DROP TABLE samples`); err != nil {
			return err
		}
		if _, err := b.Add(r2); err == nil {
			t.Error("Add with a broken schema succeeded")
		}
		var n int
		b.tx.QueryRow(st.Rebind(`SELECT count(*) FROM runs WHERE hash = ?`), r2.Hash).Scan(&n)
		if n != 0 {
			t.Errorf("failed run left %d rows", n)
		}
		return errors.New("abandon")
	})
	if err == nil || err.Error() != "abandon" {
		t.Fatalf("bulk: %v", err)
	}
	if n := countRows(t, st, "runs"); n != 0 {
		t.Errorf("runs = %d after rollback", n)
	}
}

func ingestSpec(t *testing.T, st *Store, s benchgen.Spec) *IngestResult {
	t.Helper()
	run, err := ParseBytes(benchgen.File(s), s.Commit+".txt", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Ingest(t.Context(), run)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestHistoryBaselinesRegressions(t *testing.T) { eachStore(t, testHistoryBaselinesRegressions) }

func testHistoryBaselinesRegressions(t *testing.T, st *Store) {
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	spec := func(i int, machine string, slow map[int]float64) benchgen.Spec {
		return benchgen.Spec{Commit: "c" + string(rune('a'+i)) + machine, Branch: "main", Machine: machine, Date: t0.Add(time.Duration(i) * time.Hour),
			Pkg: "example.com/p", Benchmarks: 3, Samples: 6, Seed: uint64(i), Noise: 0.01, Units: true, Slow: slow}
	}
	r1 := ingestSpec(t, st, spec(0, "m1", nil))
	if err := st.SetBaseline(ctx, "m1", "", r1.RunID); err != nil {
		t.Fatal(err)
	}
	ingestSpec(t, st, spec(0, "m2", nil))
	r2 := ingestSpec(t, st, spec(1, "m1", nil))
	if len(r2.Comparisons) != 2 || r2.Comparisons[0].Regressions != 0 {
		t.Errorf("unchanged run comparisons: %+v", r2.Comparisons)
	}
	r3 := ingestSpec(t, st, spec(2, "m1", map[int]float64{1: 1.5}))
	if len(r3.Comparisons) != 2 {
		t.Fatalf("comparisons: %+v", r3.Comparisons)
	}
	for _, c := range r3.Comparisons {
		// ns/op of Op001 is 50% worse, and its MB/s 33% worse.
		if c.Regressions != 2 || c.Worst < 49 || c.Worst > 51 {
			t.Errorf("%s comparison: %+v", c.Kind, c)
		}
	}

	runs, total, err := st.ListRuns(ctx, RunFilter{Machine: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(runs) != 3 || runs[0].ID != r3.RunID || runs[0].VsBaseline == nil || runs[0].VsBaseline.Regressions != 2 {
		t.Errorf("ListRuns: total %d, %+v", total, runs)
	}
	if runs[2].BaselineOf[0] != "m1/default" || runs[2].Metrics != 12 {
		t.Errorf("baseline run: %+v", runs[2])
	}
	if _, total, _ := st.ListRuns(ctx, RunFilter{Branch: "nope"}); total != 0 {
		t.Errorf("branch filter: %d", total)
	}

	bs, err := st.Benchmarks(ctx)
	if err != nil || len(bs) != 3 {
		t.Fatalf("benchmarks: %v %v", bs, err)
	}
	if want := []string{"sec/op", "B/s", "B/op", "allocs/op"}; strings.Join(bs[1].Units, ",") != strings.Join(want, ",") {
		t.Errorf("units = %v", bs[1].Units)
	}
	b1, err := st.GetBenchmark(ctx, bs[1].ID)
	if err != nil || b1.Name != "Op001-2" {
		t.Fatalf("GetBenchmark: %+v %v", b1, err)
	}
	h, err := st.History(ctx, HistoryFilter{BenchID: b1.ID, Unit: "sec/op"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Points) != 4 || len(h.Baselines) != 1 || h.Baselines[0].RunID != r1.RunID {
		t.Fatalf("history: %+v", h)
	}
	last := h.Points[len(h.Points)-1]
	if last.RunID != r3.RunID || last.Regression < 49 || !h.Points[0].Baseline {
		t.Errorf("history points: %+v", h.Points)
	}
	if h, _ := st.History(ctx, HistoryFilter{BenchID: b1.ID, Unit: "sec/op", Machine: "m2", Branch: "main"}); len(h.Points) != 1 {
		t.Errorf("filtered history: %+v", h.Points)
	}
	if _, err := st.History(ctx, HistoryFilter{BenchID: b1.ID, Unit: "furlongs"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown unit: %v", err)
	}

	regs, err := st.Regressions(ctx, RegressionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 2 || regs[0].Unit != "sec/op" || regs[0].Worse < regs[1].Worse || regs[0].RunID != r3.RunID {
		t.Errorf("regressions: %+v", regs)
	}
	if regs, _ := st.Regressions(ctx, RegressionFilter{Kind: KindBaseline, Machine: "m1", Branch: "main", Unit: "B/s"}); len(regs) != 1 || regs[0].BaseID != r1.RunID {
		t.Errorf("filtered regressions: %+v", regs)
	}

	info, rows, err := st.Comparison(ctx, r3.RunID, r1.RunID, KindBaseline)
	if err != nil || info.Regressions != 2 || len(rows) != 12 {
		t.Fatalf("stored comparison: %+v, %d rows, %v", info, len(rows), err)
	}
	// An ad-hoc pair is computed and stored on first request.
	info, rows, err = st.Comparison(ctx, r3.RunID, 2, KindAdhoc)
	if err != nil || info.Kind != KindAdhoc || len(rows) != 12 || rows[0].Unit != "sec/op" {
		t.Fatalf("adhoc comparison: %+v %v", info, err)
	}
	if _, _, err := st.Comparison(ctx, r3.RunID, 999, KindAdhoc); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing base: %v", err)
	}
	if _, _, err := st.Comparison(ctx, 999, 1, KindAdhoc); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing run: %v", err)
	}

	if id, err := st.ResolveRun(ctx, "latest", ""); err != nil || id != r3.RunID {
		t.Errorf("latest = %d %v", id, err)
	}
	if id, err := st.ResolveRun(ctx, "latest", "m2"); err != nil || id != 2 {
		t.Errorf("latest on m2 = %d %v", id, err)
	}
	if _, err := st.ResolveRun(ctx, "x", ""); err == nil {
		t.Error("ResolveRun(x) succeeded")
	}
	if _, err := st.ResolveRun(ctx, "99", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("ResolveRun(99): %v", err)
	}
	if id, err := st.RunByCommit(ctx, "cbm", "m1"); err != nil || id != r2.RunID {
		t.Errorf("RunByCommit = %d %v", id, err)
	}
	if _, err := st.RunByCommit(ctx, "zzz", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("RunByCommit(zzz): %v", err)
	}
	if _, err := st.RunByCommit(ctx, "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("RunByCommit(''): %v", err)
	}
	if id, err := st.Previous(ctx, r3.RunID); err != nil || id != r2.RunID {
		t.Errorf("Previous = %d %v", id, err)
	}
	if _, err := st.Previous(ctx, r1.RunID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Previous of first: %v", err)
	}
	if _, err := st.GetBaseline(ctx, "m2", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBaseline(m2): %v", err)
	}
	if bl, err := st.Baselines(ctx); err != nil || len(bl) != 1 || bl[0].Machine != "m1" {
		t.Errorf("Baselines: %+v %v", bl, err)
	}
	for col, want := range map[string]int{"machine": 2, "branch": 1, "unit": 4} {
		if v, err := st.Distinct(ctx, col); err != nil || len(v) != want {
			t.Errorf("Distinct(%s) = %v %v", col, v, err)
		}
	}
	if _, err := st.Distinct(ctx, "hash"); err == nil {
		t.Error("Distinct(hash) allowed")
	}
	if _, err := st.GetBenchmark(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBenchmark(99): %v", err)
	}
	if _, err := st.GetRun(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun(99): %v", err)
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := st.Version(t.Context()); err != nil || v != SchemaVersion {
		t.Errorf("version %d %v", v, err)
	}
	if st.Path() != path {
		t.Errorf("Path = %q", st.Path())
	}
	st.Close()
	// Reopening applies nothing twice.
	st, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	// A database from a newer benchdash is refused.
	st.DB().Exec(`UPDATE schema_version SET version = 99`)
	st.Close()
	if _, err := Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("newer schema: %v", err)
	}
	if _, err := Open(t.Context(), "x?y.db"); err == nil {
		t.Error("path with ? accepted")
	}
	if _, err := Open(t.Context(), "/proc/no/such/dir/x.db"); err == nil {
		t.Error("unwritable path accepted")
	}
}

// The page queries must use indexes, not scan the big tables.
func TestQueryPlansUseIndexes(t *testing.T) {
	st := openTemp(t)
	plans := map[string]string{
		"history": `SELECT r.id FROM results x JOIN runs r ON r.id = x.run_id WHERE x.metric_id = 1 ORDER BY r.time DESC, r.id DESC LIMIT 200`,
		"regressions": `SELECT r.id FROM deltas d INDEXED BY deltas_regressions JOIN comparisons c ON c.id = d.comparison_id JOIN runs r ON r.id = c.run_id
			WHERE d.change = -1 AND c.kind = 'previous' ORDER BY d.worse DESC LIMIT 50`,
		"runs":    `SELECT id FROM runs r WHERE r.machine = 'x' ORDER BY r.time DESC, r.id DESC LIMIT 50`,
		"deltas":  `SELECT * FROM deltas WHERE comparison_id = 1`,
		"marks":   `SELECT c.run_id FROM deltas d JOIN comparisons c ON c.id = d.comparison_id WHERE d.metric_id = 1 AND d.change = -1`,
		"samples": strings.Replace(sampleSQL, "?", "1", 1),
	}
	for name, q := range plans {
		rows, err := st.DB().QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			rows.Scan(&id, &parent, &unused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "USING") {
				t.Errorf("%s: full scan %q in plan %q", name, step, plan)
			}
		}
	}
}
