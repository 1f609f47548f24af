package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// artifactsDir is $RINGWIRE_ARTIFACTS, or testdata/artifacts (ignored by git).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("RINGWIRE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// chromiumProcesses lists the pids whose command line mentions dir.
func chromiumProcesses(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// browser starts a headless Chromium for the test (skipping without one
// unless RINGWIRE_REQUIRE_ALL is set) and returns a chromedp context; the
// test's cleanup stops it and checks that no Chromium process is left.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
			t.Fatalf("RINGWIRE_REQUIRE_ALL is set and %s is missing (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s not installed", chromiumPath)
	}
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
		deadline := time.Now().Add(10 * time.Second)
		for len(chromiumProcesses(profile)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if left := chromiumProcesses(profile); len(left) > 0 {
			t.Errorf("chromium processes still running: %v", left)
		}
	})
	return ctx
}

// saveShots writes the screenshots to the artifacts directory.
func saveShots(t *testing.T, shots map[string][]byte) {
	t.Helper()
	dir := artifactsDir(t)
	for name, img := range shots {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(img))
	}
}

// TestBrowser walks the dashboard in a real headless Chromium: the runs
// list, a run's comparison against the baseline with its regression marked,
// and the regressed benchmark's history chart.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	st, ids := fixture(t)
	srv := httptest.NewServer(New(st, Options{}))
	defer srv.Close()

	runLink := chromedp.CSS(fmt.Sprintf(`a.run-link[href="/runs/%d"]`, ids["last"]))
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		step("text of "+sel, err)
		return s
	}
	shot := func() []byte {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		step("screenshot", err)
		return b
	}
	step("open runs list", chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(runLink)))
	title, err := chromedp.Run(ctx, chromedp.Title())
	step("title", err)
	step("follow run", chromedp.Do(ctx, chromedp.Click(runLink), chromedp.WaitVisible(chromedp.CSS("#comparison"))))
	regRow := text("table.cmp tr.regression")
	runShot := shot()
	step("follow benchmark", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("table.cmp tr.regression a.bench-link")),
		chromedp.WaitVisible(chromedp.CSS("figure.chart svg"))))
	url, err := chromedp.Run(ctx, chromedp.Location())
	step("location", err)
	mark := text("table.history tr.regression .regression-mark")
	chartText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("figure.chart svg").textContent`))
	step("chart text", err)
	chartShot := shot()
	if title != "Runs · benchdash" {
		t.Errorf("title %q", title)
	}
	if !strings.Contains(regRow, "Op002-2") || !strings.Contains(regRow, "regression") {
		t.Errorf("regression row %q", regRow)
	}
	if !strings.Contains(url, "/bench/") {
		t.Errorf("benchmark link led to %s", url)
	}
	if !strings.Contains(mark, "regression +") {
		t.Errorf("history mark %q", mark)
	}
	for _, w := range []string{"regression", "baseline lab-a", "Op002-2"} {
		if !strings.Contains(chartText, w) {
			t.Errorf("chart lacks %q", w)
		}
	}
	// Regressions: grouped by unit, each side's interval shown.
	step("open regressions", chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/regressions?kind=baseline"), chromedp.WaitVisible(chromedp.CSS("table.regressions"))))
	units, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("table.regressions tbody.unit")).map(b => b.dataset.unit).join(" ")`))
	step("regression units", err)
	if units != "sec/op B/s" {
		t.Errorf("regression unit groups %q, want sec/op B/s", units)
	}
	if ci := text(`table.regressions tbody.unit[data-unit="sec/op"] td.ci`); !regexp.MustCompile(`^[0-9.]+n \[[0-9.]+n, [0-9.]+n\]$`).MatchString(ci) {
		t.Errorf("regression interval %q", ci)
	}
	regShot := shot()
	saveShots(t, map[string][]byte{"benchdash-run.png": runShot, "benchdash-chart.png": chartShot, "benchdash-regressions.png": regShot})
}

// TestBrowserAB walks an A/B session in headless Chromium: the runs
// list's A/B gate column, its link to the session's comparison with the
// pairing, the verdict and the fail and too-noisy marks, counts shown
// without SI prefixes, the changed-only filter, and a history chart whose
// commit labels are in the repository's commit order (not the order the
// commits were measured in) with a single-run series visible.
func TestBrowserAB(t *testing.T) {
	ctx := browser(t)
	f := newABFixture(t)
	srv := httptest.NewServer(New(f.st, Options{Commits: &GitHistory{Dir: f.repo}}))
	defer srv.Close()
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		step("text of "+sel, err)
		return s
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		step("evaluate "+js, err)
		return s
	}
	shot := func() []byte {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		step("screenshot", err)
		return b
	}
	shots := map[string][]byte{}
	defer func() { saveShots(t, shots) }()

	// Runs list: the gate's verdict on each session's B run.
	failGate := chromedp.CSS(fmt.Sprintf(`a.gate[href="/runs/%d?against=run:%d"]`, f.ids["s2B"], f.ids["s2A"]))
	passGate := fmt.Sprintf(`a.gate[href="/runs/%d?against=run:%d"]`, f.ids["s1B"], f.ids["s1A"])
	step("open runs list", chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(failGate)))
	if got := text(fmt.Sprintf(`a.gate[href="/runs/%d?against=run:%d"]`, f.ids["s2B"], f.ids["s2A"])); got != "FAIL: 1 beyond 10% (worst +50.0%) · threshold 10% · 4 gated · 1 too noisy here" {
		t.Errorf("failing gate cell %q", got)
	}
	if got := text(passGate); got != "pass · threshold 10% · 4 gated · 1 too noisy here" {
		t.Errorf("passing gate cell %q", got)
	}
	shots["benchdash-ab-runs.png"] = shot()

	// The gate's link: the session's comparison.
	step("follow gate", chromedp.Do(ctx, chromedp.Click(failGate), chromedp.WaitVisible(chromedp.CSS("#session"))))
	pairing, verdict := text("#session .pairing"), text("#session .verdict")
	for _, w := range []string{"side A is the baseline commit " + f.commits[1][:12], fmt.Sprintf("run #%d", f.ids["s2A"]),
		"side B the working tree at " + f.commits[3][:12], "8 rounds", "8 + 8 samples a benchmark, judged in pairs"} {
		if !strings.Contains(pairing, w) {
			t.Errorf("pairing %q lacks %q", pairing, w)
		}
	}
	for _, w := range []string{"FAIL: 1 beyond 10% (worst +50.0%)", "gated 4 benchmark×unit, 1 too noisy here; threshold 10%"} {
		if !strings.Contains(verdict, w) {
			t.Errorf("verdict %q lacks %q", verdict, w)
		}
	}
	if got := text("table.cmp tr.gate-fail"); !strings.Contains(got, "Op-2") || !strings.Contains(got, "fails the gate") || !strings.Contains(got, "+50.00%") {
		t.Errorf("failing row %q", got)
	}
	if got := text("table.cmp tr.noisy"); !strings.Contains(got, "Drift-2") || !strings.Contains(got, "too noisy here: A/A halves differ by +39.75% (p=0.029); A 144.8n ± 17%, n=8; not gated") {
		t.Errorf("noisy row %q", got)
	}
	units := eval(`Array.from(document.querySelectorAll("table.cmp tbody.unit")).map(b => b.dataset.unit).join(" ")`)
	if units != "sec/op allocs/op parks/op" {
		t.Errorf("unit groups %q", units)
	}
	// Counts without SI prefixes: 3 allocs/op, 0.25 parks/op.
	allocs := text(`table.cmp tbody.unit[data-unit="allocs/op"] tr:not(.unit-head):not(.geomean)`)
	parks := text(`table.cmp tbody.unit[data-unit="parks/op"] tr:not(.unit-head):not(.geomean)`)
	if !strings.Contains(allocs, "3 ± 0%") || strings.Contains(allocs, "µ") {
		t.Errorf("allocs/op row %q", allocs)
	}
	if !strings.Contains(parks, "0.25 ± 0%") || strings.Contains(parks, "250.0m") {
		t.Errorf("parks/op row %q", parks)
	}
	shots["benchdash-ab-session.png"] = shot()

	// Changed only: the failing and the noisy row remain.
	step("changed only", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("a.changed-toggle")), chromedp.WaitVisible(chromedp.CSS("#session"))))
	if got := eval(`Array.from(document.querySelectorAll("table.cmp a.bench-link")).map(a => a.textContent).join(" ")`); got != "Drift-2 Op-2" {
		t.Errorf("changed-only rows %q", got)
	}
	if got := text("p.changed-filter"); !strings.Contains(got, "Showing 2 of 5 rows") || !strings.Contains(got, "show all rows") {
		t.Errorf("changed-only filter line %q", got)
	}
	shots["benchdash-ab-changed.png"] = shot()

	// History chart of Op: commit labels in git order, though c2 was
	// measured first; the single run on "solo" has a visible marker.
	step("follow benchmark", chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`table.cmp tr.gate-fail a.bench-link`)), chromedp.WaitVisible(chromedp.CSS("figure.chart svg"))))
	if got := eval(`document.querySelector('select[name="machine"]').value`); got != "lab" {
		t.Errorf("the benchmark link selects machine %q, want lab", got)
	}
	step("all machines", chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/bench/%d?unit=sec/op", srv.URL, f.opID)), chromedp.WaitVisible(chromedp.CSS("figure.chart svg"))))
	labels := eval(`Array.from(document.querySelectorAll("figure.chart text.commit-label")).map(e => e.getAttribute("data-commit")).join(" ")`)
	if want := strings.Join(f.commits, " "); labels != want {
		t.Errorf("commit labels in the DOM %q, want the git order %q", labels, want)
	}
	shown := eval(`Array.from(document.querySelectorAll("figure.chart text.commit-label")).map(e => e.textContent).join(" ")`)
	var short []string
	for _, c := range f.commits {
		short = append(short, c[:7])
	}
	if shown != strings.Join(short, " ") {
		t.Errorf("commit labels read %q", shown)
	}
	// The labels run left to right in that order.
	if xs := eval(`Array.from(document.querySelectorAll("figure.chart text.commit-label")).map(e => e.getBoundingClientRect().right).every((x, i, a) => i == 0 || x > a[i-1]) ? "ordered" : "not"`); xs != "ordered" {
		t.Errorf("commit labels are not left to right")
	}
	solo := fmt.Sprintf(`figure.chart g.point[data-run="%d"]`, f.ids["solo"])
	if got := eval(`(() => { const r = document.querySelector('` + solo + ` circle').getBoundingClientRect(); return r.width > 4 && r.height > 4 ? "visible" : "w=" + r.width + " h=" + r.height })()`); got != "visible" {
		t.Errorf("the single run's marker: %s", got)
	}
	if got := eval(`document.querySelector('` + solo + ` title').textContent`); !strings.Contains(got, "1.001µ sec/op (95% CI 1.000µ to 1.002µ, n=8)") {
		t.Errorf("the single run's title %q", got)
	}
	// The legend lies outside the plot area: right of every point.
	if got := eval(`(() => { const pts = Array.from(document.querySelectorAll("figure.chart g.point circle")).map(c => c.getBoundingClientRect().right); const texts = Array.from(document.querySelectorAll("figure.chart text")).filter(e => e.textContent.startsWith("baseline ") || e.textContent == "solo"); if (texts.length == 0) return "no legend"; return texts.every(e => e.getBoundingClientRect().left > Math.max(...pts)) ? "outside" : "inside" })()`); got != "outside" {
		t.Errorf("legend: %s", got)
	}
	shots["benchdash-ab-chart.png"] = shot()
}
