package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// abFixture is a store of A/B sessions on real commits of a git repository.
type abFixture struct {
	st      *store.Store
	repo    string
	commits []string // c0 … c3, oldest first
	ids     map[string]int64
	opID    int64 // benchmark Op's id
}

// gitRepo makes a repository with n empty commits and returns it and their
// hashes, oldest first.
func gitRepo(t testing.TB, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	var hashes []string
	for i := range n {
		git("commit", "-q", "--allow-empty", "-m", fmt.Sprintf("commit %d", i))
		hashes = append(hashes, git("rev-parse", "HEAD"))
	}
	return dir, hashes
}

// abRun is one results file as `benchdash bench` writes it (session and
// side empty for a plain run, paired benchmark by benchmark): 8 samples, a round each, of Op (ns/op and
// two counts), Steady and Drift. Op is scaled by slow; on side A, Drift's
// second half is 40% slower than its first, so the A/A check finds it too
// noisy here.
func abRun(commit, machine string, at time.Time, session, side, baseline string, slow float64) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "commit: %s\nbranch: main\nmachine: %s\ndate: %s\n", commit, machine, at.Format(time.RFC3339))
	if session != "" {
		fmt.Fprintf(&b, "session: %s\nside: %s\nbaseline: %s\nbenchtime: 100ms\ncount: 8\nsamples: 1\npairing: benchmark\nthreshold: 10\n", session, side, baseline)
	}
	b.WriteString("goos: linux\ngoarch: amd64\npkg: example.com/ab\n")
	for i := range 8 {
		jitter := float64(i%4) * 0.5
		drift := 120.0
		if side == "A" && i >= 4 {
			drift = 168
		} else if side == "A" {
			drift = 120
		}
		fmt.Fprintf(&b, "BenchmarkOp-2 \t1000\t%.1f ns/op\t3 allocs/op\t0.25 parks/op\n", (1000+jitter)*slow)
		fmt.Fprintf(&b, "BenchmarkSteady-2 \t1000\t%.1f ns/op\n", 2000+jitter)
		fmt.Fprintf(&b, "BenchmarkDrift-2 \t1000\t%.1f ns/op\n", drift+jitter)
	}
	return []byte(b.String())
}

// newABFixture stores, on machine "lab": a plain run of c2 measured first;
// session s1 (A c0, B c1, unchanged: passes); session s2 (A c1, B c3, Op
// 50% slower: fails); and on machine "solo" one run of c2, a series of a
// single point. Measured in this time order, c2 comes first and c1 is
// measured twice.
func newABFixture(t testing.TB) *abFixture {
	t.Helper()
	repo, commits := gitRepo(t, 4)
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "ab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &abFixture{st: st, repo: repo, commits: commits, ids: map[string]int64{}}
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for _, r := range []struct {
		name, commit, machine string
		at                    time.Duration
		session, side, base   string
		slow                  float64
	}{
		{"plain", commits[2], "lab", 0, "", "", "", 1},
		{"s1A", commits[0], "lab", time.Hour, "s1", "A", commits[0], 1},
		{"s1B", commits[1], "lab", time.Hour, "s1", "B", commits[0], 1},
		{"s2A", commits[1], "lab", 2 * time.Hour, "s2", "A", commits[1], 1},
		{"s2B", commits[3], "lab", 2 * time.Hour, "s2", "B", commits[1], 1.5},
		{"solo", commits[2], "solo", 3 * time.Hour, "", "", "", 1},
	} {
		run, err := store.ParseBytes(abRun(r.commit, r.machine, t0.Add(r.at), r.session, r.side, r.base, r.slow), r.name+".txt", store.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Ingest(t.Context(), run)
		if err != nil {
			t.Fatal(err)
		}
		f.ids[r.name] = res.RunID
	}
	bs, err := st.Benchmarks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Name == "Op-2" {
			f.opID = b.ID
		}
	}
	return f
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestSessionComparison: a session's B run is compared with its A by
// default, says which run is which side and how they were paired, gives
// the gate's verdict as the runs list does, marks the failing row and the
// too-noisy one (with A's spread), groups rows by unit, and filters to the
// changed rows.
func TestSessionComparison(t *testing.T) {
	f := newABFixture(t)
	h := New(f.st, Options{Logger: quiet()})
	code, page := get(t, h, fmt.Sprintf("/runs/%d", f.ids["s2B"]))
	if code != 200 {
		t.Fatalf("run page: %d %s", code, page)
	}
	for _, w := range []string{
		"A/B session s2",
		fmt.Sprintf(`side A is the baseline commit <code>%s</code> (<a href="/runs/%d">run #%d</a>)`, f.commits[1][:12], f.ids["s2A"], f.ids["s2A"]),
		fmt.Sprintf(`side B the working tree at <code>%s</code>`, f.commits[3][:12]),
		"8 rounds", "<code>-benchtime 100ms</code>", "up to 8 + 8 samples a benchmark, judged in pairs",
		`<span class="bad">FAIL: 1 beyond 10% (worst +50.0%)</span>`,
		"gated 4 benchmark×unit, 1 too noisy here; threshold 10%",
		"Against side A of its A/B session",
		"✗ fails the gate",
		"≈ too noisy here: A/A halves differ by &#43;39.75% (p=0.029); A 144.8n ± 17%, n=8; not gated",
		`data-unit="sec/op"`, `data-unit="allocs/op"`, `data-unit="parks/op"`,
		"Showing 5 of 5 rows",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("session page lacks %q", w)
		}
	}
	// The runs list's gate cell gives the same verdict.
	_, runs := get(t, h, "/")
	if !strings.Contains(runs, "FAIL: 1 beyond 10% (worst +50.0%)</span> · threshold 10% · 4 gated · 1 too noisy here") {
		t.Errorf("runs list gate cell disagrees:\n%s", runs)
	}
	if n := strings.Count(runs, `<span class="side-tag" title="A/B session s2">side `); n != 2 {
		t.Errorf("runs list tags %d runs as sides of s2, want 2", n)
	}
	// The fail mark is on Op's sec/op row, the noisy mark on Drift's.
	rowOf := func(page, name, unit string) string {
		re := regexp.MustCompile(`(?s)<tbody class="unit" data-unit="` + regexp.QuoteMeta(unit) + `">.*?</tbody>`)
		body := re.FindString(page)
		for _, tr := range strings.Split(body, "<tr") {
			if strings.Contains(tr, ">"+name+"<") {
				return tr
			}
		}
		return ""
	}
	if r := rowOf(page, "Op-2", "sec/op"); !strings.Contains(r, "gate-fail") || !strings.Contains(r, "&#43;50.00%") {
		t.Errorf("Op row %q", r)
	}
	if r := rowOf(page, "Drift-2", "sec/op"); !strings.Contains(r, "noisy") || !strings.Contains(r, "n=8; not gated") || strings.Contains(r, "gate-fail") {
		t.Errorf("Drift row %q", r)
	}
	// Counts are shown without SI prefixes.
	if r := rowOf(page, "Op-2", "allocs/op"); !strings.Contains(r, "<td>3 ± 0%</td>") {
		t.Errorf("allocs/op row %q", r)
	}
	if r := rowOf(page, "Op-2", "parks/op"); !strings.Contains(r, "<td>0.25 ± 0%</td>") {
		t.Errorf("parks/op row %q", r)
	}
	// Changed only: Op (failing) and Drift (noisy) in sec/op; the counts
	// and Steady are unchanged.
	_, changed := get(t, h, fmt.Sprintf("/runs/%d?changed=1", f.ids["s2B"]))
	for _, w := range []string{"Showing 2 of 5 rows", "show all rows", ">Op-2<", ">Drift-2<", "1 unchanged not shown"} {
		if !strings.Contains(changed, w) {
			t.Errorf("changed-only page lacks %q", w)
		}
	}
	if strings.Contains(changed, ">Steady-2<") {
		t.Error("changed-only page shows the unchanged Steady")
	}
	if code, _ := get(t, h, fmt.Sprintf("/runs/%d?changed=yes", f.ids["s2B"])); code != 400 {
		t.Errorf("changed=yes: %d", code)
	}
	// The runs list's link (against=run:A) leads to the same session view.
	_, viaLink := get(t, h, fmt.Sprintf("/runs/%d?against=run:%d", f.ids["s1B"], f.ids["s1A"]))
	for _, w := range []string{"A/B session s1", `<span class="ok">pass</span>, no significant regression beyond 10%`, "gated 4 benchmark×unit, 1 too noisy here"} {
		if !strings.Contains(viaLink, w) {
			t.Errorf("s1 page lacks %q", w)
		}
	}
	// Side A points to its side B; against=session elsewhere says why not.
	_, aPage := get(t, h, fmt.Sprintf("/runs/%d", f.ids["s1A"]))
	if !strings.Contains(aPage, fmt.Sprintf(`side A (the baseline commit) of A/B session s1; its side B, the working tree, is <a href="/runs/%d">`, f.ids["s1B"])) {
		t.Errorf("side A page lacks its B link")
	}
	_, plain := get(t, h, fmt.Sprintf("/runs/%d?against=session", f.ids["plain"]))
	if !strings.Contains(plain, "not side B of an A/B session") {
		t.Errorf("plain run against=session: no note")
	}
	// Against another run, a session's B is an ordinary comparison.
	_, other := get(t, h, fmt.Sprintf("/runs/%d?against=run:%d", f.ids["s2B"], f.ids["plain"]))
	if strings.Contains(other, "A/B session s2") || !strings.Contains(other, fmt.Sprintf("Against run #%d", f.ids["plain"])) {
		t.Errorf("against=run:plain shows the session")
	}
	// JSON carries the verdict.
	var v struct {
		Session struct {
			Name       string  `json:"name"`
			A          int64   `json:"a_run"`
			B          int64   `json:"b_run"`
			Pass       bool    `json:"pass"`
			Threshold  float64 `json:"threshold"`
			Gated      int     `json:"gated"`
			Family     int     `json:"family"`
			Noisy      []any   `json:"too_noisy"`
			Regression []any   `json:"regressions"`
		} `json:"session"`
	}
	// Family 1: in pairs, Steady's values and the counts are equal pair
	// by pair (ties no test can reject), so only Op's time is tested.
	if getJSON(t, h, fmt.Sprintf("/api/runs/%d", f.ids["s2B"]), &v); v.Session.Name != "s2" || v.Session.A != f.ids["s2A"] || v.Session.B != f.ids["s2B"] || v.Session.Pass || v.Session.Gated != 4 || v.Session.Family != 1 || len(v.Session.Noisy) != 1 || len(v.Session.Regression) != 1 || v.Session.Threshold != 10 {
		t.Errorf("api session %+v", v.Session)
	}
}

// commitLabels returns the data-commit attributes of a chart's commit
// labels, in document order.
func commitLabels(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<text class="commit-label" data-commit="([0-9a-f]+)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestChartCommitOrder: the history chart's x axis is the commits in the
// repository's order, not the order they were measured in; runs of one
// commit share its slot; every point, a single one too, has a marker and a
// title with its value and interval.
func TestChartCommitOrder(t *testing.T) {
	f := newABFixture(t)
	h := New(f.st, Options{Logger: quiet(), Commits: &GitHistory{Dir: f.repo}})
	code, page := get(t, h, fmt.Sprintf("/bench/%d?unit=sec/op", f.opID))
	if code != 200 {
		t.Fatalf("bench page: %d %s", code, page)
	}
	if got := commitLabels(page); !slices.Equal(got, f.commits) {
		t.Errorf("commit labels %v, want the git order %v", got, f.commits)
	}
	if !strings.Contains(page, "ordered by the git history of "+f.repo) {
		t.Errorf("caption does not say where the order came from")
	}
	for _, w := range []string{
		fmt.Sprintf(`<title>commit %s (in the commit order), runs #%d, #%d</title>`, f.commits[1], f.ids["s1B"], f.ids["s2A"]),
		fmt.Sprintf(`<a href="/runs/%d" class="commit-link">`, f.ids["s2A"]),
		fmt.Sprintf(`<g class="point" data-run="%d"`, f.ids["solo"]),
		fmt.Sprintf("run #%d, commit %s, solo, 2026-06-01 12:00: 1.001µ sec/op (95%% CI 1.000µ to 1.002µ, n=8)", f.ids["solo"], f.commits[2][:7]),
		`class="ci"`, "<circle", ">solo<", ">lab<",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("chart lacks %q", w)
		}
	}
	if n := strings.Count(page, `<g class="point"`); n != 6 {
		t.Errorf("%d point markers, want 6", n)
	}
	// The JSON gives the axis too.
	var hist struct {
		Commits []struct {
			Commit  string  `json:"commit"`
			Runs    []int64 `json:"runs"`
			InOrder bool    `json:"in_order"`
		} `json:"commits"`
		Order string `json:"commit_order"`
	}
	getJSON(t, h, fmt.Sprintf("/api/benchmarks/%d/history?unit=sec/op", f.opID), &hist)
	if len(hist.Commits) != 4 || hist.Commits[0].Commit != f.commits[0] || !hist.Commits[3].InOrder || len(hist.Commits[1].Runs) != 2 || !strings.Contains(hist.Order, "git history") {
		t.Errorf("history JSON axis %+v", hist)
	}
	// Without a repository: by when each commit was first measured.
	h2 := New(f.st, Options{Logger: quiet()})
	_, page = get(t, h2, fmt.Sprintf("/bench/%d/chart.svg?unit=sec/op", f.opID))
	if got, want := commitLabels(page), []string{f.commits[2], f.commits[0], f.commits[1], f.commits[3]}; !slices.Equal(got, want) {
		t.Errorf("commit labels without git %v, want %v", got, want)
	}
	// A directory that is no repository: the same, and the page says why.
	h3 := New(f.st, Options{Logger: quiet(), Commits: &GitHistory{Dir: t.TempDir()}})
	_, page = get(t, h3, fmt.Sprintf("/bench/%d?unit=sec/op", f.opID))
	if got := commitLabels(page); len(got) != 4 || got[0] != f.commits[2] {
		t.Errorf("commit labels with a broken repository %v", got)
	}
	if !strings.Contains(page, "when each commit was first measured (git rev-list in") {
		t.Errorf("page does not say git failed")
	}
}

// TestCommitAxisMerge: commits the order does not know are merged in by
// when they were first measured; short hashes match a unique prefix.
func TestCommitAxisMerge(t *testing.T) {
	order := map[string]int{"aaaaaaaa11": 0, "bbbbbbbb22": 1, "cccccccc33": 2, "bbbbbbbb99": 3}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pts := []store.Point{
		{RunID: 1, Commit: "cccccccc33", Time: t0},
		{RunID: 2, Commit: "zzzzzzzz", Time: t0.Add(time.Minute)},
		{RunID: 3, Commit: "aaaaaaa", Time: t0.Add(2 * time.Minute)},  // unique prefix of aaaaaaaa11
		{RunID: 4, Commit: "bbbbbbbb", Time: t0.Add(3 * time.Minute)}, // ambiguous: two match
		{RunID: 5, Commit: "bbbbbbbb22", Time: t0.Add(4 * time.Minute)},
		{RunID: 6, Commit: "cccccccc33", Time: t0.Add(5 * time.Minute)},
	}
	ax := newCommitAxis(t.Context(), fixedOrder(order), pts)
	var got []string
	for _, c := range ax.Commits {
		got = append(got, c.Commit)
	}
	// Known, in git order: aaaaaaa, bbbbbbbb22, cccccccc33; unknown by time:
	// zzzz (t+1), bbbbbbbb (t+3). Merged by first-measured time, known
	// order kept: aaaaaaa (t+2) is known[0]; zzzz (t+1) comes before it.
	want := []string{"zzzzzzzz", "aaaaaaa", "bbbbbbbb", "bbbbbbbb22", "cccccccc33"}
	if !slices.Equal(got, want) {
		t.Errorf("axis %v, want %v", got, want)
	}
	if c := ax.Commits[4]; !slices.Equal(c.Runs, []int64{1, 6}) || !c.Known {
		t.Errorf("cccccccc33: %+v", c)
	}
}

type fixedOrder map[string]int

func (f fixedOrder) Order(context.Context) (map[string]int, string, error) {
	return f, "a fixed order", nil
}

// TestRegressionsByUnit: the regressions page groups rows by unit (times
// first, counts apart) and shows both sides' intervals.
func TestRegressionsByUnit(t *testing.T) {
	st, _ := fixture(t)
	h := New(st, Options{Logger: quiet()})
	_, page := get(t, h, "/regressions?kind=baseline")
	secAt, bsAt := strings.Index(page, `data-unit="sec/op"`), strings.Index(page, `data-unit="B/s"`)
	if secAt < 0 || bsAt < 0 || secAt > bsAt {
		t.Errorf("units not grouped, sec/op first: %d %d", secAt, bsAt)
	}
	if !regexp.MustCompile(`<td class="ci">[0-9.]+n \[[0-9.]+n, [0-9.]+n\]</td>`).MatchString(page) {
		t.Errorf("no interval on the regressions page:\n%s", page)
	}
	if !strings.Contains(page, `B/s <span class="better">higher is better · `) {
		t.Errorf("B/s group head missing")
	}
}

// TestChartLegendBelow: a legend too wide to sit beside the plot (a long
// machine label) goes below it, and the chart grows to hold it.
func TestChartLegendBelow(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "legend.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		run, err := store.ParseBytes(abRun(fmt.Sprintf("%040x", i+1), "vm (Intel(R) Xeon(R) Processor) in the lab, second rack", t0.Add(time.Duration(i)*time.Hour), "", "", "", 1), fmt.Sprint(i), store.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Ingest(t.Context(), run); err != nil {
			t.Fatal(err)
		}
	}
	_, svg := get(t, New(st, Options{Logger: quiet()}), "/bench/1/chart.svg?unit=sec/op")
	m := regexp.MustCompile(`<svg width="720pt" height="([0-9.]+)pt"`).FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no svg size in %.300s", svg)
	}
	if h, _ := strconv.ParseFloat(m[1], 64); h <= chartH {
		t.Errorf("chart height %v: the legend below has no room", h)
	}
	if got := len(commitLabels(svg)); got != 3 {
		t.Errorf("%d commit labels, want 3", got)
	}
}

// TestChartHelpers: the y range of edge cases, interval formatting, and the
// default session threshold.
func TestChartHelpers(t *testing.T) {
	inf := math.Inf(1)
	pt := func(c, lo, hi float64) chartPoint {
		return chartPoint{Point: store.Point{Summary: compare.Summary{N: 6, Center: c, Lo: lo, Hi: hi}}}
	}
	for _, tt := range []struct {
		pts    []chartPoint
		lo, hi float64
	}{
		{nil, 0, 1},
		{[]chartPoint{pt(5, -inf, inf)}, 4.5, 5.5},
		{[]chartPoint{pt(0, 0, 0)}, -1e-9, 1e-9},
		{[]chartPoint{pt(10, 9, 11), pt(20, 19, 21)}, 9 - 12*0.08, 21 + 12*0.08},
		{[]chartPoint{pt(1, 0.5, 1.5), pt(20, 19, 21)}, 0, 21 + 20.5*0.08}, // not below 0 for positive values
		{[]chartPoint{pt(-10, -11, -9), pt(-5, -6, -4)}, -11 - 7*0.08, -4 + 7*0.08},
	} {
		lo, hi := valueRange(tt.pts, nil)
		if math.Abs(lo-tt.lo) > 1e-12 || math.Abs(hi-tt.hi) > 1e-12 {
			t.Errorf("valueRange(%v) = %v, %v, want %v, %v", tt.pts, lo, hi, tt.lo, tt.hi)
		}
	}
	for _, tt := range []struct {
		s    compare.Summary
		want string
	}{
		{compare.Summary{}, "-"},
		{compare.Summary{N: 2, Center: 3, Lo: -inf, Hi: inf}, "3 [unbounded: too few samples]"},
		{compare.Summary{N: 8, Center: 2e-6, Lo: 1.9e-6, Hi: 2.1e-6}, "2.000µ [1.900µ, 2.100µ]"},
	} {
		unit := "allocs/op"
		if tt.s.Center < 1 {
			unit = "sec/op"
		}
		if got := formatInterval(tt.s, unit); got != tt.want {
			t.Errorf("formatInterval(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
	if got := sessionThreshold(&store.RunInfo{}); got != compare.DefaultThreshold {
		t.Errorf("threshold without a label: %v", got)
	}
	if got := shortHash("abc"); got != "abc" {
		t.Errorf("shortHash(abc) = %q", got)
	}
}

// TestSessionUncorrected: a regression beyond the threshold that is
// significant alone but not once corrected for the session's comparisons
// does not fail the gate, and the page says so, as bench prints it.
func TestSessionUncorrected(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "unc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	border := map[string][]float64{
		"A": {100, 101, 102, 103, 104, 105, 106, 107},
		"B": {101.5, 115, 116, 117, 118, 119, 120, 121},
	}
	ids := map[string]int64{}
	for _, side := range []string{"A", "B"} {
		var b strings.Builder
		fmt.Fprintf(&b, "commit: %040x\nmachine: lab\nsession: s9\nside: %s\ncount: 8\nthreshold: 10\npkg: example.com/u\n", len(side)+len(ids), side)
		for i := range 8 {
			fmt.Fprintf(&b, "BenchmarkBorder-2 \t1000\t%.1f ns/op\n", border[side][i])
			for k := range 10 {
				fmt.Fprintf(&b, "BenchmarkFlat%d-2 \t1000\t%.1f ns/op\n", k, 500+float64(i%4))
			}
		}
		run, err := store.ParseBytes([]byte(b.String()), side+".txt", store.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Ingest(t.Context(), run)
		if err != nil {
			t.Fatal(err)
		}
		ids[side] = res.RunID
	}
	h := New(st, Options{Logger: quiet()})
	_, page := get(t, h, fmt.Sprintf("/runs/%d", ids["B"]))
	for _, w := range []string{
		`<span class="ok">pass</span>`,
		"significance corrected for 11 comparisons (Benjamini-Hochberg); 1 not failing once corrected",
		`<span class="mark uncorrected-mark">not failing: p=0.00`,
		"over 11 comparisons: not significant once corrected",
		// No pairing: line: a session recorded before pairing, judged
		// pooled as it was then.
		"judged as two pooled samples",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if strings.Contains(page, "gate-fail") {
		t.Error("a row is marked failing")
	}
	if _, runs := get(t, h, "/"); !strings.Contains(runs, "pass</span> · threshold 10% · 11 gated · 1 not failing once corrected") {
		t.Errorf("runs list gate cell lacks the uncorrected count")
	}
	_, changed := get(t, h, fmt.Sprintf("/runs/%d?changed=1", ids["B"]))
	if !strings.Contains(changed, "Showing 1 of 11 rows") {
		t.Errorf("changed only does not keep the uncorrected row alone")
	}
}
