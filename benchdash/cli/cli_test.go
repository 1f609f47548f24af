package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
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
		{"serve", "-x"}, {"rebuild", "-x"}, {"bench", "-x"}, {"bench", "-count", "0", "."},
		{"rebuild", "-db", "postgres://u:secret@127.0.0.1:1/x"}} {
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
	runsDir := filepath.Join(t.TempDir(), "runs")
	mustRun(t, ExitOK, "ingest", "-db", db, "-machine", "m1", "../testdata/gotest-count6.txt")
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "-db", db, "-addr", "127.0.0.1:0", "-results", dir, "-runs", runsDir}, out, io.Discard)
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
	// An upload is saved in the machine-local runs directory, never in the
	// committed results directory (it would dirty the checkout).
	txt := func(d string) (n int) {
		es, _ := os.ReadDir(d)
		for _, e := range es {
			if strings.HasSuffix(e.Name(), ".txt") {
				n++
			}
		}
		return n
	}
	before := txt(dir)
	resp, err = http.Post(url+"api/runs?machine=ci&commit=0123456789abcdef0123456789abcdef01234567", "text/plain",
		strings.NewReader("BenchmarkUpload-2 100 12.5 ns/op\nBenchmarkUpload-2 100 12.7 ns/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST api/runs: %d %s", resp.StatusCode, body)
	}
	if n := txt(runsDir); n != 1 {
		t.Errorf("runs directory after an upload: %d results files, want the one uploaded", n)
	}
	if after := txt(dir); after != before {
		t.Errorf("the results directory changed on upload: %d results files, then %d", before, after)
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

// TestBenchPipeline runs bench on a fixture repository (a git repository
// holding testdata/slowfixture, whose benchmark sleeps 5 ms per op, and a
// committed record of another machine): a clean tree at its baseline is
// measured once; an A/B session against a docs-only parent commit passes; two
// sessions leave the tree clean and every committed record in place; save
// records the baseline beside the other machine's; and a working tree that
// doubles the benchmark's cost fails, naming it, against the saved baseline.
func TestBenchPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a fixture module's benchmarks")
	}
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache")) // the baseline worktrees and binaries
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-buildvcs=false")
	t.Setenv("BENCHDASH_FIXTURE_SLOW", "")
	// Wall-clock timings on a shared machine are noisy: a busy moment can
	// spoil one session. The whole sequence is retried in a fresh
	// repository; an implementation that always passes or always fails
	// never succeeds.
	for attempt := 1; ; attempt++ {
		problem := benchSequence(t, filepath.Join(dir, fmt.Sprintf("attempt%d", attempt)))
		if problem == "" {
			t.Logf("bench sequence passed on attempt %d", attempt)
			break
		}
		if attempt == 3 {
			t.Fatalf("attempt %d: %s", attempt, problem)
		}
		t.Logf("attempt %d: %s; retrying", attempt, problem)
	}
}

// gitT runs git in dir and fails the test on error.
func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// fixtureRepo makes a git repository at repo with the fixture module, a
// .gitignore for bench/local/ and another machine's committed baseline.
func fixtureRepo(t *testing.T, repo string) {
	t.Helper()
	if err := os.CopyFS(filepath.Join(repo, "slowfixture"), os.DirFS("../testdata/slowfixture")); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(repo, "bench", "results")
	os.MkdirAll(results, 0o755)
	other := must(os.ReadFile("../testdata/gotest-count6.txt"))
	writeFile(t, results, "2026-01-01T000000Z-other.txt", other)
	run := must(store.ParseBytes(other, "2026-01-01T000000Z-other.txt", store.Overrides{}))
	writeFile(t, results, BaselinesFile, fmt.Appendf(nil, `{"baselines": [{"machine": "other-box", "name": "default", "source": %q, "hash": %q, "commit": "0123"}]}`+"\n", run.Source, run.Hash))
	writeFile(t, repo, ".gitignore", []byte("/bench/local/\n"))
	gitT(t, repo, "init", "-q", "-b", "main")
	gitT(t, repo, "config", "user.email", "t@example.com")
	gitT(t, repo, "config", "user.name", "t")
	gitT(t, repo, "add", ".")
	gitT(t, repo, "commit", "-q", "-m", "fixture")
}

// benchSequence runs the sequence of TestBenchPipeline in a new fixture
// repository and returns what went wrong with a timing-dependent verdict,
// if anything.
func benchSequence(t *testing.T, repo string) string {
	t.Helper()
	fixtureRepo(t, repo)
	t.Chdir(repo)
	clean := func(when string) {
		t.Helper()
		if st := gitT(t, repo, "status", "--porcelain"); st != "" {
			t.Fatalf("git status after %s:\n%s", when, st)
		}
	}
	args := []string{"bench", "-count", "8", "-benchtime", "10x", "-machine", "fixture-box", "slowfixture"}

	out := mustRun(t, ExitOK, args...)
	for _, w := range []string{"building the working tree's benchmarks", "round 8 of 8, sides B B: example.com/slowfixture BenchmarkWork", "nothing to compare; recorded as run 1", "no saved baseline: HEAD"} {
		if !strings.Contains(out, w) {
			t.Errorf("first bench lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "side A") {
		t.Errorf("first bench measured a baseline side:\n%s", out)
	}
	clean("the first bench")

	// A docs-only commit: the A/B pairing runs on the same code.
	writeFile(t, repo, "README.md", []byte("docs\n"))
	gitT(t, repo, "add", "README.md")
	gitT(t, repo, "commit", "-q", "-m", "docs")
	parent := gitT(t, repo, "rev-parse", "HEAD~1")
	code, out, errs := run(t, append(args, "-baseline", "HEAD~1")...)
	if code != ExitOK || !strings.Contains(out, "no significant regression beyond 10%") || !strings.Contains(out, "gated 3 benchmark×unit, 0 too noisy here; threshold 10%") {
		return fmt.Sprintf("unchanged A/B session exited %d:\n%s%s", code, out, errs)
	}
	for _, w := range []string{"A:       baseline " + parent[:12] + " (-baseline)", "paired n=16", "8 rounds, leaf by leaf"} {
		if !strings.Contains(out, w) {
			t.Errorf("A/B session lacks %q:\n%s", w, out)
		}
	}
	// Rounds alternate which side goes first, in ABBA order: A B B A, B A A B, ...
	if !strings.Contains(errs, "round 1 of 8, sides A B B A: example.com/slowfixture BenchmarkWork") ||
		!strings.Contains(errs, "round 2 of 8, sides B A A B: example.com/slowfixture BenchmarkWork") {
		t.Errorf("rounds not in alternating ABBA order:\n%s", errs)
	}
	clean("an A/B session")
	if other := must(os.ReadFile(filepath.Join(repo, "bench", "results", BaselinesFile))); !strings.Contains(string(other), "other-box") {
		t.Errorf("the other machine's baseline is gone: %s", other)
	}

	// save records the latest run (B of the session, at HEAD) beside the
	// other machine's baseline: the one command that changes committed files.
	out = mustRun(t, ExitOK, "save")
	if !strings.Contains(out, "is now baseline \"default\" of machine \"fixture-box\"") {
		t.Errorf("save: %s", out)
	}
	recs := must(readBaselines(filepath.Join(repo, "bench", "results")))
	head := gitT(t, repo, "rev-parse", "HEAD")
	if len(recs) != 2 || recs[0].Machine != "other-box" || recs[1].Machine != "fixture-box" || recs[1].Commit != head {
		t.Errorf("baselines after save: %+v", recs)
	}
	if _, err := os.Stat(filepath.Join(repo, "bench", "results", recs[1].Source)); err != nil {
		t.Errorf("saved run's file not in the committed results: %v", err)
	}
	gitT(t, repo, "add", "bench/results")
	gitT(t, repo, "commit", "-q", "-m", "baseline")

	// The working tree doubles the cost: B fails against the saved baseline.
	src := filepath.Join(repo, "slowfixture", "slow_test.go")
	data := must(os.ReadFile(src))
	writeFile(t, filepath.Dir(src), "slow_test.go", []byte(strings.Replace(string(data), "d := 5 * time.Millisecond", "d := 10 * time.Millisecond", 1)))
	code, out, errs = run(t, args...)
	if code != ExitFailure || !strings.Contains(out, "⚠ regression") || !strings.Contains(out, "Work-2 sec/op") || !strings.Contains(out, "FAIL") ||
		!strings.Contains(out, "A:       baseline "+head[:12]+" (this machine's saved baseline)") {
		return fmt.Sprintf("slowed session exited %d:\n%s%s", code, out, errs)
	}
	t.Logf("slowed session:\n%s", out)
	if out := mustRun(t, ExitOK, "save", "-results", filepath.Join(repo, "nowhere")); !strings.Contains(out, "measured uncommitted changes") {
		t.Errorf("save of a dirty run: %s", out)
	}
	os.WriteFile(src, data, 0o644)

	out = mustRun(t, ExitFailure, "bench", "-count", "1", "-bench", "NoSuch", "-machine", "x", "slowfixture")
	if !strings.Contains(out, "no benchmark matched") {
		t.Errorf("no match:\n%s", out)
	}
	mustRun(t, ExitFailure, "bench", "-count", "1", "nowhere")
	mustRun(t, ExitUsage, "bench", "-count", "1", "..")
	mustRun(t, ExitFailure, "bench", "-count", "1", "-baseline", "nosuchcommit", "slowfixture")
	// A benchmark that fails: in the listing run, and in a round.
	for _, c := range []struct{ fail, want string }{
		{"always", "bench: side B, example.com/slowfixture: "},
		{"rounds", "bench: round 1, side B, example.com/slowfixture BenchmarkWork: "},
	} {
		t.Setenv("BENCHDASH_FIXTURE_FAIL", c.fail)
		if out := mustRun(t, ExitFailure, "bench", "-count", "1", "-benchtime", "10x", "-machine", "x", "slowfixture"); !strings.Contains(out, c.want) ||
			!strings.Contains(out, "failing as BENCHDASH_FIXTURE_FAIL asks") {
			t.Errorf("BENCHDASH_FIXTURE_FAIL=%s:\n%s", c.fail, out)
		}
	}
	t.Setenv("BENCHDASH_FIXTURE_FAIL", "")
	// A working tree whose benchmarks do not build; a baseline commit whose
	// benchmarks do not build; a results directory that cannot be made.
	broken := filepath.Join(repo, "slowfixture", "broken_test.go")
	writeFile(t, filepath.Dir(broken), "broken_test.go", []byte("package slowfixture\n\nfunc broken( {\n"))
	if out := mustRun(t, ExitFailure, "bench", "-count", "1", "-benchtime", "1x", "-machine", "x", "slowfixture"); !strings.Contains(out, "bench: side B: go test -c") {
		t.Errorf("broken working tree:\n%s", out)
	}
	gitT(t, repo, "add", "slowfixture/broken_test.go")
	gitT(t, repo, "commit", "-q", "-m", "broken")
	os.Remove(broken)
	if out := mustRun(t, ExitFailure, "bench", "-count", "1", "-benchtime", "1x", "-machine", "x", "slowfixture"); !strings.Contains(out, "bench: baseline: side A: go test -c") {
		t.Errorf("broken baseline:\n%s", out)
	}
	gitT(t, repo, "reset", "-q", "--hard", "HEAD~1")
	if out := mustRun(t, ExitFailure, "bench", "-count", "1", "-benchtime", "1x", "-machine", "x", "-runs", filepath.Join(repo, "README.md", "runs"), "slowfixture"); !strings.Contains(out, "bench: side B: ") {
		t.Errorf("results directory inside a file:\n%s", out)
	}
	// One value a side and round: the A/A check has nothing to pair.
	writeFile(t, repo, "README.md", []byte("docs again\n"))
	if out := mustRun(t, ExitOK, "bench", "-count", "8", "-samples", "1", "-benchtime", "10x", "-machine", "x", "-baseline", "HEAD", "slowfixture"); !strings.Contains(out, "A/A:     the first against the second half of A's values, unpaired") ||
		!strings.Contains(out, "paired n=8") {
		t.Errorf("-samples 1:\n%s", out)
	}
	gitT(t, repo, "checkout", "-q", "README.md")
	clean("the whole sequence")
	return ""
}

func TestBenchOutsideGit(t *testing.T) {
	t.Chdir(t.TempDir())
	if out := mustRun(t, ExitFailure, "bench", "-count", "1", "."); !strings.Contains(out, "bench: not in a git work tree") {
		t.Errorf("outside git:\n%s", out)
	}
}
