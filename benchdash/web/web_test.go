package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/internal/pgtest"
	"github.com/ringwire/ringwire/benchdash/store"
)

// TestMain runs the tests with one throwaway PostgreSQL server for the
// PostgreSQL variants (pgtest), and checks that no goroutine outlives them.
func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	stopPerfPG()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func spec(i int, machine string, slow map[int]float64) benchgen.Spec {
	return benchgen.Spec{Commit: fmt.Sprintf("%040x", i*7919+len(machine)), Branch: "main", Machine: machine, Date: t0.Add(time.Duration(i) * time.Hour),
		Pkg: "example.com/ring", Benchmarks: 4, Samples: 6, Seed: uint64(i)*31 + uint64(len(machine)), Noise: 0.01, Units: true, Slow: slow}
}

// fixture stores 6 runs on machine "lab-a" (baseline: the first; the last
// makes Op002 50% slower) and 3 on "lab-b".
func fixture(t testing.TB) (*store.Store, map[string]int64) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ids := map[string]int64{}
	add := func(s benchgen.Spec) int64 {
		run, err := store.ParseBytes(benchgen.File(s), "gen.txt", store.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Ingest(t.Context(), run)
		if err != nil {
			t.Fatal(err)
		}
		return res.RunID
	}
	for i := 0; i < 6; i++ {
		var slow map[int]float64
		if i == 5 {
			slow = map[int]float64{2: 1.5}
		}
		id := add(spec(i, "lab-a", slow))
		if i == 0 {
			ids["base"] = id
			if err := st.SetBaseline(t.Context(), "lab-a", "", id); err != nil {
				t.Fatal(err)
			}
		}
		ids["last"] = id
		if i < 3 {
			ids["b"] = add(spec(i, "lab-b", nil))
		}
	}
	return st, ids
}

func get(t *testing.T, h http.Handler, url string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	return rec.Code, rec.Body.String()
}

func TestPages(t *testing.T) {
	st, ids := fixture(t)
	h := New(st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	bs, _ := st.Benchmarks(t.Context())
	op2 := bs[2].ID
	tests := []struct {
		url  string
		code int
		want []string
	}{
		{"/", 200, []string{"9 runs", fmt.Sprintf(`href="/runs/%d"`, ids["last"]), "2 regressions", "baseline lab-a/default"}},
		{"/?machine=lab-b&branch=main", 200, []string{"3 runs"}},
		{"/?limit=2", 200, []string{"older →"}},
		{"/?limit=2&offset=2", 200, []string{"← newer", "older →"}},
		{"/?offset=x", 400, nil},
		{fmt.Sprintf("/runs/%d", ids["last"]), 200, []string{"Against the baseline of lab-a", `class="regression"`, "▲ regression", "Op002-2", "geomean", "~"}},
		{fmt.Sprintf("/runs/%d?against=previous", ids["last"]), 200, []string{"Against the previous run", "▲ regression"}},
		{fmt.Sprintf("/runs/%d?against=run:%d", ids["last"], ids["b"]), 200, []string{"Against run #"}},
		{fmt.Sprintf("/runs/%d?against=commit:%040x", ids["last"], 1*7919+5), 200, []string{"Against commit"}},
		{fmt.Sprintf("/runs/%d", ids["base"]), 200, []string{"This run is the baseline of its machine."}},
		{fmt.Sprintf("/runs/%d", ids["b"]), 200, []string{"Against the previous run"}},
		{"/runs/2", 200, []string{"has no baseline yet"}},
		{"/runs/2?against=previous", 200, []string{"No earlier run"}},
		{"/runs/1?against=sideways", 400, nil},
		{"/runs/1?against=run:x", 400, nil},
		{"/runs/1?against=commit:ffff", 404, nil},
		{"/runs/999", 404, nil},
		{"/runs/abc", 400, nil},
		{fmt.Sprintf("/bench/%d", op2), 200, []string{"<svg", "regression", "baseline lab-a", "lab-b", "▲ regression +"}},
		{fmt.Sprintf("/bench/%d?unit=B/s&machine=lab-a", op2), 200, []string{"higher is better", "<svg"}},
		{fmt.Sprintf("/bench/%d/chart.svg?unit=sec/op", op2), 200, []string{"<svg"}},
		{fmt.Sprintf("/bench/%d?unit=parsecs", op2), 404, nil},
		{fmt.Sprintf("/bench/%d?limit=-1", op2), 400, nil},
		{"/bench/999", 404, nil},
		{"/bench/999/chart.svg", 404, nil},
		{"/regressions", 200, []string{"Op002-2", "sec/op", "B/s"}},
		{"/regressions?kind=baseline&unit=B/s", 200, []string{"Op002-2", "B/s"}},
		{"/regressions?kind=other", 400, nil},
		{"/regressions?limit=x", 400, nil},
		{"/benchmarks", 200, []string{"Op000-2", "example.com/ring"}},
		{"/static/style.css", 200, []string{"body"}},
		{"/nope", 404, nil},
	}
	for _, tt := range tests {
		code, body := get(t, h, tt.url)
		if code != tt.code {
			t.Errorf("GET %s: %d, want %d: %.300s", tt.url, code, tt.code, body)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tt.url, w)
			}
		}
	}
}

func getJSON(t *testing.T, h http.Handler, url string, v any) int {
	t.Helper()
	code, body := get(t, h, url)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %.300s", url, err, body)
	}
	return code
}

func TestJSON(t *testing.T) {
	st, ids := fixture(t)
	h := New(st, Options{})
	var runs struct {
		Runs  []store.RunInfo `json:"runs"`
		Total int             `json:"total"`
	}
	if code := getJSON(t, h, "/api/runs?machine=lab-a", &runs); code != 200 || runs.Total != 6 || runs.Runs[0].VsBaseline.Regressions != 2 {
		t.Errorf("runs: %d %+v", code, runs)
	}
	var run struct {
		Rows []jsonRow `json:"rows"`
		Cmp  store.ComparisonInfo
	}
	if code := getJSON(t, h, fmt.Sprintf("/api/runs/%d", ids["last"]), &run); code != 200 || len(run.Rows) != 16 {
		t.Fatalf("run: %d %+v", code, run)
	}
	regs := 0
	for _, r := range run.Rows {
		if r.Change == "regression" {
			regs++
			if r.Name != "Op002-2" || r.Delta == "~" || !r.Significant {
				t.Errorf("regression row %+v", r)
			}
		}
	}
	if regs != 2 {
		t.Errorf("%d regression rows, want 2 (sec/op and B/s)", regs)
	}
	var note map[string]any
	if getJSON(t, h, "/api/runs/2", &note); note["note"] == nil {
		t.Errorf("run without baseline: %v", note)
	}
	var errBody map[string]string
	if code := getJSON(t, h, "/api/runs/999", &errBody); code != 404 || errBody["error"] == "" {
		t.Errorf("missing run: %d %v", code, errBody)
	}
	var hist struct {
		Points    []jsonPoint `json:"points"`
		Baselines []jsonPoint `json:"baselines"`
	}
	if code := getJSON(t, h, "/api/benchmarks/3/history?unit=sec/op", &hist); code != 200 || len(hist.Points) != 9 || len(hist.Baselines) != 1 {
		t.Errorf("history: %d %+v", code, hist)
	}
	var bad map[string]string
	if code := getJSON(t, h, "/api/benchmarks/3/history?unit=x", &bad); code != 404 {
		t.Errorf("history bad unit: %d", code)
	}
	for _, u := range []string{"/api/regressions", "/api/benchmarks", "/api/baselines", "/api/regressions?kind=x", "/api/runs?limit=x"} {
		var v map[string]any
		getJSON(t, h, u, &v)
		if len(v) == 0 {
			t.Errorf("%s: empty", u)
		}
	}
	// Empty database: lists are [] not null.
	empty, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	he := New(empty, Options{})
	for _, u := range []string{"/api/runs", "/api/regressions", "/api/benchmarks", "/api/baselines"} {
		if _, body := get(t, he, u); strings.Contains(body, "null") {
			t.Errorf("%s: %s", u, body)
		}
	}
	if code, body := get(t, he, "/"); code != 200 || !strings.Contains(body, "No runs yet") {
		t.Errorf("empty runs page: %d", code)
	}
}

func post(t *testing.T, h http.Handler, url string, body []byte) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", url, bytes.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000" // the developer's own machine: no token needed
	h.ServeHTTP(rec, req)
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("POST %s: %v: %s", url, err, rec.Body)
	}
	return rec.Code, v
}

func TestUpload(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	results := filepath.Join(t.TempDir(), "results")
	h := New(st, Options{ResultsDir: results})
	real, err := os.ReadFile("../testdata/gotest-count6.txt")
	if err != nil {
		t.Fatal(err)
	}
	code, v := post(t, h, "/api/runs?machine=up-1&branch=dev&commit=feedbeef", real)
	if code != 201 || v["run_id"].(float64) != 1 {
		t.Fatalf("upload: %d %v", code, v)
	}
	files, _ := filepath.Glob(filepath.Join(results, "*.txt"))
	if len(files) != 1 {
		t.Fatalf("saved uploads: %v", files)
	}
	saved, _ := os.ReadFile(files[0])
	rerun, err := store.ParseBytes(saved, "saved", store.Overrides{})
	if err != nil || rerun.Machine != "up-1" || rerun.Branch != "dev" || rerun.Commit != "feedbeef" {
		t.Errorf("saved upload parses as %+v, %v", rerun, err)
	}
	code, v = post(t, h, "/api/runs", real)
	if code != 200 || v["run_id"].(float64) != 1 || v["duplicate"] != true {
		t.Errorf("duplicate upload: %d %v, want 200 with the existing run", code, v)
	}
	if files, _ := filepath.Glob(filepath.Join(results, "*.txt")); len(files) != 1 {
		t.Errorf("a duplicate upload was saved again: %v", files)
	}
	bad := append(append([]byte{}, real...), "BenchmarkX-2 12 oops ns/op\n"...)
	code, v = post(t, h, "/api/runs?name=bad.txt", bad)
	if code != 400 || !strings.Contains(v["error"].(string), "bad.txt:25:") {
		t.Errorf("malformed upload: %d %v", code, v)
	}
	code, _ = post(t, h, "/api/runs", nil)
	if code != 400 {
		t.Errorf("empty upload: %d", code)
	}
	code, _ = post(t, h, "/api/runs", bytes.Repeat([]byte("x"), store.MaxFileSize+10))
	if code != 413 {
		t.Errorf("huge upload: %d", code)
	}
	if runs, total, _ := st.ListRuns(t.Context(), store.RunFilter{}); total != 1 {
		t.Errorf("runs stored: %d %+v", total, runs)
	}
	if got := safeName("a/b c"); got != "a_b_c" {
		t.Errorf("safeName = %q", got)
	}
}
