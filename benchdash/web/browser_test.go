package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// TestBrowser walks the dashboard in a real headless Chromium: the runs
// list, a run's comparison against the baseline with its regression marked,
// and the regressed benchmark's history chart.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
			t.Fatalf("RINGWIRE_REQUIRE_ALL is set and %s is missing (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s not installed", chromiumPath)
	}
	st, ids := fixture(t)
	srv := httptest.NewServer(New(st, Options{}))
	defer srv.Close()

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
	defer func() {
		cancelAlloc()
		deadline := time.Now().Add(10 * time.Second)
		for len(chromiumProcesses(profile)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if left := chromiumProcesses(profile); len(left) > 0 {
			t.Errorf("chromium processes still running: %v", left)
		}
	}()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

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
	dir := artifactsDir(t)
	for name, img := range map[string][]byte{"benchdash-run.png": runShot, "benchdash-chart.png": chartShot} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(img))
	}
}
