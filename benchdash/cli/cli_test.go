package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs the CLI in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, errs := run(t, args...)
	if code != want {
		t.Fatalf("benchdash %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out + errs
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsage(t *testing.T) {
	if code, _, errs := run(t); code != ExitUsage || !strings.Contains(errs, "usage") {
		t.Errorf("no args: %d %q", code, errs)
	}
	if code, out, _ := run(t, "help"); code != ExitOK || !strings.Contains(out, "rebuild") {
		t.Errorf("help: %d", code)
	}
	for _, args := range [][]string{{"frobnicate"}, {"ingest"}, {"bench"}, {"ingest", "-nope"}, {"save", "-x"}, {"compare", "-x"},
		{"serve", "-x"}, {"rebuild", "-x"}, {"bench", "-x"}, {"bench", "-count", "0", "."}} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

func TestIngestCompareSave(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "b.db")
	first, rerun := "../testdata/gotest-count6.txt", "../testdata/gotest-count6-rerun.txt"

	out := mustRun(t, ExitOK, "ingest", "-db", db, "-machine", "m1", "-branch", "main", "-commit", "c1", first)
	if !strings.Contains(out, "run 1 (12 benchmark×unit") {
		t.Errorf("ingest output: %s", out)
	}
	out = mustRun(t, ExitOK, "ingest", "-db", db, first, "-machine", "m1")
	if !strings.Contains(out, "already ingested as run 1") {
		t.Errorf("duplicate: %s", out)
	}
	// No baseline yet.
	out = mustRun(t, ExitFailure, "compare", "-db", db)
	if !strings.Contains(out, "benchdash save marks one") {
		t.Errorf("compare without baseline: %s", out)
	}
	mustRun(t, ExitFailure, "compare", "-db", db, "-against", "previous")
	mustRun(t, ExitFailure, "compare", "-db", db, "-against", "sideways")
	mustRun(t, ExitFailure, "compare", "-db", db, "-run", "77")
	out = mustRun(t, ExitOK, "save", "-db", db, "-results", filepath.Join(dir, "none"))
	if !strings.Contains(out, `run 1 (commit c1) is now baseline "default" of machine "m1"`) {
		t.Errorf("save: %s", out)
	}
	mustRun(t, ExitFailure, "save", "-db", db, "-run", "9")

	// Copy the rerun with a later mtime so it sorts after the first run.
	later := writeFile(t, dir, "rerun.txt", must(os.ReadFile(rerun)))
	os.Chtimes(later, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	out = mustRun(t, ExitOK, "ingest", "-db", db, "-machine", "m1", "-branch", "main", "-commit", "c2", later)
	if !strings.Contains(out, "vs baseline run 1") || !strings.Contains(out, "vs previous run 1") {
		t.Errorf("ingest comparisons: %s", out)
	}
	for _, against := range []string{"baseline", "previous", "commit:c1", "run:1"} {
		code, out, errs := run(t, "compare", "-db", db, "-against", against, "-threshold", "1000")
		if code != ExitOK || !strings.Contains(out, "sec/op (lower is better)") || !strings.Contains(out, "B/s (higher is better)") || !strings.Contains(out, "geomean") {
			t.Errorf("compare -against %s: %d\n%s%s", against, code, out, errs)
		}
	}
	mustRun(t, ExitFailure, "compare", "-db", db, "-against", "commit:ffff")

	// A run 40% slower everywhere is a regression beyond 10%.
	slow := rescale(t, must(os.ReadFile(first)), 1.4)
	writeFile(t, dir, "slow.txt", slow)
	os.Chtimes(filepath.Join(dir, "slow.txt"), time.Now().Add(2*time.Hour), time.Now().Add(2*time.Hour))
	mustRun(t, ExitOK, "ingest", "-db", db, "-machine", "m1", "-branch", "main", "-commit", "c3", filepath.Join(dir, "slow.txt"))
	out = mustRun(t, ExitFailure, "compare", "-db", db, "-run", "latest", "-against", "baseline")
	if !strings.Contains(out, "⚠ regression") || !strings.Contains(out, "significant regressions beyond 10%") {
		t.Errorf("slow compare: %s", out)
	}
	mustRun(t, ExitOK, "compare", "-db", db, "-against", "baseline", "-threshold", "50")

	// Malformed input is refused with its line number, nothing stored.
	bad := writeFile(t, dir, "bad.txt", append(must(os.ReadFile(first)), "BenchmarkX-2 5 5 ns/op 3\n"...))
	out = mustRun(t, ExitFailure, "ingest", "-db", db, "-commit", "zz", bad, filepath.Join(dir, "missing.txt"))
	if !strings.Contains(out, "bad.txt:25:") || !strings.Contains(out, "nothing stored") || !strings.Contains(out, "missing.txt") {
		t.Errorf("bad ingest: %s", out)
	}
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, n, _ := st.ListRuns(t.Context(), store.RunFilter{}); n != 3 {
		t.Errorf("%d runs stored, want 3", n)
	}
	mustRun(t, ExitFailure, "ingest", "-db", filepath.Join(dir, "x?.db"), first)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// rescale multiplies every ns/op value of a results file by f and removes
// the MB/s column's dependence by scaling it by 1/f.
func rescale(t *testing.T, data []byte, f float64) []byte {
	t.Helper()
	re := regexp.MustCompile(`([0-9.]+) (ns/op|MB/s)`)
	return re.ReplaceAllFunc(data, func(m []byte) []byte {
		parts := strings.Fields(string(m))
		var v float64
		if _, err := fmtSscan(parts[0], &v); err != nil {
			t.Fatal(err)
		}
		if parts[1] == "ns/op" {
			v *= f
		} else {
			v /= f
		}
		return []byte(strings.TrimRight(strings.TrimRight(fmtFloat(v), "0"), ".") + " " + parts[1])
	})
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	mustRun(t, ExitOK, "ingest", "-db", db, "-machine", "m1", "../testdata/gotest-count6.txt")
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "-db", db, "-addr", "127.0.0.1:0", "-results", dir}, out, io.Discard)
	}()
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := regexp.MustCompile(`http://\S+/`).FindString(out.String()); m != "" {
			url = m
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("no URL printed: %q", out.String())
	}
	if !strings.Contains(out.String(), "(database "+db+")") {
		t.Errorf("serve banner lacks the db path: %q", out.String())
	}
	resp, err := http.Get(url + "api/runs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"total": 1`) {
		t.Errorf("GET api/runs: %d %s", resp.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("serve exit %d", code)
	}
	if code, _, _ := run(t, "serve", "-db", db, "-addr", "256.0.0.1:1"); code != ExitFailure {
		t.Errorf("bad addr: %d", code)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRebuild(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	os.MkdirAll(results, 0o755)
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		writeFile(t, results, t0.Add(time.Duration(i)*time.Hour).Format("2006-01-02T150405Z")+"-c.txt",
			benchgen.File(benchgen.Spec{Commit: "c" + string(rune('0'+i)), Branch: "main", Machine: "m", Date: t0.Add(time.Duration(i) * time.Hour), Pkg: "p", Benchmarks: 2, Samples: 6, Seed: uint64(i), Noise: 0.01}))
	}
	db := filepath.Join(dir, "db", "b.db")
	out := mustRun(t, ExitOK, "rebuild", "-db", db, "-results", results)
	if !strings.Contains(out, "3 runs from 3 files") {
		t.Errorf("rebuild: %s", out)
	}
	mustRun(t, ExitOK, "save", "-db", db, "-results", results, "-run", "2")
	if _, err := os.Stat(filepath.Join(results, BaselinesFile)); err != nil {
		t.Fatal(err)
	}
	// A copy and a malformed file: the copy is skipped, the bad one refused.
	writeFile(t, results, "zz-copy.txt", must(os.ReadFile(filepath.Join(results, t0.Format("2006-01-02T150405Z")+"-c.txt"))))
	writeFile(t, results, "zz-bad.txt", []byte("BenchmarkX 1 x ns/op\n"))
	out = mustRun(t, ExitFailure, "rebuild", "-db", db, "-results", results)
	if !strings.Contains(out, "zz-bad.txt") || !strings.Contains(out, "same content as run 1") || !strings.Contains(out, "1 baselines") {
		t.Errorf("rebuild with bad file: %s", out)
	}
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := st.GetBaseline(t.Context(), "m", ""); err != nil || id != 2 {
		t.Errorf("baseline after rebuild: %d %v", id, err)
	}
	// Run 3 was compared against the restored baseline at ingest.
	if r, err := st.GetRun(t.Context(), 3); err != nil || r.VsBaseline == nil || r.VsBaseline.BaseID != 2 {
		t.Errorf("run 3 after rebuild: %+v %v", r, err)
	}
	st.Close()
	os.Remove(filepath.Join(results, "zz-bad.txt"))
	os.Remove(filepath.Join(results, "zz-copy.txt"))
	// A baseline naming a file that is gone is reported.
	os.Remove(filepath.Join(results, t0.Add(time.Hour).Format("2006-01-02T150405Z")+"-c.txt"))
	out = mustRun(t, ExitFailure, "rebuild", "-db", db, "-results", results)
	if !strings.Contains(out, "not found") {
		t.Errorf("missing baseline file: %s", out)
	}
	writeFile(t, results, BaselinesFile, []byte("{"))
	mustRun(t, ExitFailure, "rebuild", "-db", db, "-results", results)
	mustRun(t, ExitFailure, "rebuild", "-db", db, "-results", filepath.Join(dir, "nope"))
}

// TestBenchPipeline runs the bench command on a fixture module whose
// benchmark doubles its cost when BENCHDASH_FIXTURE_SLOW=1: the first run
// becomes the baseline, an unchanged rerun passes, a slowed one fails.
func TestBenchPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a fixture module")
	}
	dir := t.TempDir()
	mod := filepath.Join(dir, "slowfixture")
	if err := os.CopyFS(mod, os.DirFS("../testdata/slowfixture")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-buildvcs=false")
	t.Setenv("BENCHDASH_FIXTURE_SLOW", "")
	// Wall-clock timings on a shared machine are noisy: a busy moment can
	// spoil one run. The whole sequence is retried with a fresh database;
	// an implementation that always passes or always fails never succeeds.
	var db, results string
	for attempt := 1; ; attempt++ {
		base := filepath.Join(dir, fmt.Sprintf("attempt%d", attempt))
		db, results = filepath.Join(base, "benchdash.db"), filepath.Join(base, "results")
		problem := benchSequence(t, mod, db, results)
		if problem == "" {
			t.Logf("bench sequence passed on attempt %d", attempt)
			break
		}
		if attempt == 3 {
			t.Fatalf("attempt %d: %s", attempt, problem)
		}
		t.Logf("attempt %d: %s; retrying", attempt, problem)
	}
	files, _ := listResults(results)
	if len(files) != 3 {
		t.Errorf("results files: %v", files)
	}
	data := must(os.ReadFile(files[0]))
	for _, w := range []string{"commit: ", "branch: ", "machine: fixture-box", "date: ", "BenchmarkWork-2"} {
		if !strings.Contains(string(data), w) {
			t.Errorf("results file lacks %q", w)
		}
	}
	// Nothing matched, and a directory that is not a module.
	out := mustRun(t, ExitFailure, "bench", "-db", db, "-results", results, "-count", "1", "-bench", "NoSuch", "-machine", "x", mod)
	if !strings.Contains(out, "no benchmark matched") {
		t.Errorf("no match:\n%s", out)
	}
	mustRun(t, ExitFailure, "bench", "-db", db, "-results", results, "-count", "1", filepath.Join(dir, "nowhere"))
}

// benchSequence runs bench (which makes the baseline), save, an unchanged
// bench (must pass) and a slowed bench (must fail), and returns what went
// wrong, if anything.
func benchSequence(t *testing.T, mod, db, results string) string {
	t.Helper()
	t.Setenv("BENCHDASH_FIXTURE_SLOW", "")
	args := []string{"bench", "-db", db, "-results", results, "-count", "6", "-benchtime", "10x", "-machine", "fixture-box", mod}
	out := mustRun(t, ExitOK, args...)
	for _, w := range []string{"running example.com/slowfixture", "results written to", `no baseline for machine "fixture-box" yet: run 1 becomes it`} {
		if !strings.Contains(out, w) {
			t.Errorf("first bench lacks %q:\n%s", w, out)
		}
	}
	mustRun(t, ExitOK, "save", "-db", db, "-results", results, "-run", "1")
	code, out, errs := run(t, args...)
	if code != ExitOK || !strings.Contains(out, "no significant regression beyond 10%") {
		return fmt.Sprintf("unchanged rerun exited %d:\n%s%s", code, out, errs)
	}
	t.Setenv("BENCHDASH_FIXTURE_SLOW", "1")
	code, out, errs = run(t, args...)
	if code != ExitFailure || !strings.Contains(out, "⚠ regression") || !strings.Contains(out, "Work-2 sec/op") {
		return fmt.Sprintf("slowed run exited %d:\n%s%s", code, out, errs)
	}
	t.Logf("slowed run:\n%s", out)
	return ""
}
