package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/benchdash/store"
)

// noisySessionFile is side A or B of session "s3" whose Op drifts on A:
// its first four values near 100 ns, the last four near 150 ns, so the
// A/A check finds it too noisy here to gate; Steady does not move.
func noisySessionFile(side string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "commit: %040x\nmachine: lab\nsession: s3\nside: %s\nthreshold: 10\ngoos: linux\ngoarch: amd64\npkg: example.com/x\n", len(side)+3, side)
	for i := range 8 {
		jitter := float64(i%4) * 0.5
		op := 100 + jitter
		if side == "A" && i >= 4 {
			op = 150 + jitter
		}
		fmt.Fprintf(&b, "BenchmarkOp-2 \t1000\t%.1f ns/op\n", op)
		fmt.Fprintf(&b, "BenchmarkSteady-2 \t1000\t%.1f ns/op\n", 200+jitter)
	}
	return []byte(b.String())
}

// sessionStore holds sessions s1 (unchanged: passes), s2 (Op 50% slower:
// fails) and s3 (Op too noisy on A), and returns the run ids by name
// ("s1A", "s2B", ...).
func sessionStore(t *testing.T) (*store.Store, map[string]int64) {
	st := openEmpty(t)
	ids := map[string]int64{}
	add := func(name string, data []byte) {
		run, err := store.ParseBytes(data, name+".txt", store.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Ingest(t.Context(), run)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = res.RunID
	}
	add("s1A", sessionFile("s1", "A", 1))
	add("s1B", sessionFile("s1", "B", 1))
	add("s2A", sessionFile("s2", "A", 1))
	add("s2B", sessionFile("s2", "B", 1.5))
	add("s3A", noisySessionFile("A"))
	add("s3B", noisySessionFile("B"))
	return st, ids
}

func verdictJSON(t *testing.T, h *Server, url string) (int, Verdict, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	var v Verdict
	var raw map[string]any
	if rec.Code == 200 {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", url, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		json.Unmarshal(rec.Body.Bytes(), &raw)
	}
	return rec.Code, v, raw
}

// TestVerdictSession: a session's B run is judged against its side A by
// default, as benchdash bench and the session page judge it: s2 fails on
// Op (+50%) with its p and q, s1 passes, s3 passes with Op too noisy.
func TestVerdictSession(t *testing.T) {
	st, ids := sessionStore(t)
	h := New(st, Options{})
	code, v, raw := verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d", ids["s2B"]))
	if code != 200 {
		t.Fatalf("verdict s2: %d", code)
	}
	if v.Pass || v.Basis != "session" || v.Threshold != 10 || v.Gated != 4 || v.Family == 0 || v.Against.ID != ids["s2A"] || v.Against.Side != "A" {
		t.Errorf("verdict s2: %+v", v)
	}
	if len(v.Regressions) != 1 || v.Regressions[0].Name != "Op-2" || v.Regressions[0].Unit != "sec/op" ||
		v.Regressions[0].DeltaPct == nil || math.Abs(*v.Regressions[0].DeltaPct-50) > 1 ||
		v.Regressions[0].P == nil || v.Regressions[0].Q == nil || *v.Regressions[0].Q >= 0.05 {
		t.Errorf("s2 regressions: %+v", v.Regressions)
	}
	for _, f := range []string{"pass", "threshold_pct", "gated", "family", "aa_checked", "regressions", "not_failing", "too_noisy", "summary", "run", "against", "page"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("verdict JSON lacks %q", f)
		}
	}
	// The same verdict as the session page's JSON (the runs list and the
	// run page judge with the same judgeSession).
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/api/runs/%d", ids["s2B"]), nil))
	var page struct {
		Session struct {
			Pass        bool             `json:"pass"`
			Gated       int              `json:"gated"`
			Regressions []map[string]any `json:"regressions"`
		} `json:"session"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if page.Session.Pass != v.Pass || page.Session.Gated != v.Gated || len(page.Session.Regressions) != 1 || page.Session.Regressions[0]["q"] != *v.Regressions[0].Q {
		t.Errorf("session page says %+v, verdict %+v", page.Session, v)
	}

	if code, v, _ := verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d&against=%d", ids["s1B"], ids["s1A"])); code != 200 || !v.Pass || v.Basis != "session" || len(v.Regressions) != 0 || v.Gated != 4 {
		t.Errorf("verdict s1: %d %+v", code, v)
	}
	code, v, _ = verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d", ids["s3B"]))
	if code != 200 || !v.Pass || len(v.TooNoisy) != 1 || v.TooNoisy[0].Name != "Op-2" || v.Gated != 1 || !v.AAChecked {
		t.Errorf("verdict s3: %d %+v", code, v)
	}
	// A higher threshold passes s2.
	if _, v, _ := verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d&threshold=60", ids["s2B"])); !v.Pass || v.Threshold != 60 {
		t.Errorf("s2 at 60%%: %+v", v)
	}

	// Markdown, by ?format= and by Accept.
	for _, req := range []*httptestReq{
		{url: fmt.Sprintf("/api/verdict?run=%d&format=markdown", ids["s2B"])},
		{url: fmt.Sprintf("/api/verdict?run=%d", ids["s2B"]), accept: "text/markdown"},
	} {
		r := httptest.NewRequest("GET", req.url, nil)
		if req.accept != "" {
			r.Header.Set("Accept", req.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		md := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/markdown") {
			t.Errorf("%s: %d %q", req.url, rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, want := range []string{"### benchdash verdict: ❌ FAIL — 1 regression beyond 10%", "| | benchmark | unit | before | after | delta | p | q |", "|---|",
			"| ❌ fails | example.com/x Op-2 | sec/op | ", "+50.", "side A of its A/B session", "gated 4 benchmark×unit, 0 too noisy here"} {
			if !strings.Contains(md, want) {
				t.Errorf("%s: Markdown lacks %q:\n%s", req.url, want, md)
			}
		}
	}
	r := httptest.NewRequest("GET", fmt.Sprintf("/api/verdict?run=%d&format=md", ids["s3B"]), nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	for _, want := range []string{"✅ pass", "| ≈ too noisy here, not gated | example.com/x Op-2 | sec/op | A "} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("s3 Markdown lacks %q:\n%s", want, rec.Body)
		}
	}
}

type httptestReq struct{ url, accept string }

// TestVerdictCompare: a run that is not a session's B side is judged
// against its machine's baseline as benchdash compare judges it, with the
// numbers the run page shows.
func TestVerdictCompare(t *testing.T) {
	st, ids := fixture(t)
	h := New(st, Options{})
	code, v, _ := verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d", ids["last"]))
	if code != 200 || v.Pass || v.Basis != "compare" || v.Against.ID != ids["base"] || v.AgainstLabel != "the baseline of lab-a" || v.Page != fmt.Sprintf("/runs/%d?against=baseline", ids["last"]) || v.Threshold != 10 || v.Family != 0 || v.AAChecked {
		t.Fatalf("verdict on the slow run: %d %+v", code, v)
	}
	// Op002 is 50% slower: its time and its rate (B/s) fail.
	if len(v.Regressions) != 2 || v.Regressions[0].Name != "Op002-2" || v.Regressions[1].Name != "Op002-2" || v.Regressions[0].GapPct == nil || *v.Regressions[0].GapPct <= 10 || v.Regressions[0].Q != nil {
		t.Errorf("regressions: %+v", v.Regressions)
	}
	// The run page's row of the same pair has the same delta and p.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/api/runs/%d?against=baseline", ids["last"]), nil))
	var page struct {
		Rows []jsonRow `json:"rows"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range page.Rows {
		if r.Name == "Op002-2" && r.Unit == "sec/op" {
			found = true
			if *r.DeltaPct != *v.Regressions[0].DeltaPct || *r.P != *v.Regressions[0].P || r.Change != "regression" {
				t.Errorf("page row %+v, verdict row %+v", r, v.Regressions[0])
			}
		}
	}
	if !found {
		t.Errorf("run page lacks Op002-2")
	}
	// The baseline's successor passes.
	first := ids["base"] + 2 // runs alternate with lab-b for the first three
	if code, v, _ := verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d&against=%d", first, ids["base"])); code != 200 || !v.Pass || len(v.Regressions) != 0 || v.Gated == 0 {
		t.Errorf("verdict on an unchanged run: %d %+v", code, v)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/api/verdict?run=%d&format=markdown", ids["last"]), nil))
	for _, want := range []string{"❌ FAIL", "| ❌ fails | example.com/ring Op002-2 | sec/op |", "the baseline of lab-a", "confidence intervals"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, rec.Body)
		}
	}
	for _, c := range []struct {
		url  string
		code int
	}{
		{"/api/verdict", 400},
		{"/api/verdict?run=x", 400},
		{"/api/verdict?run=1&against=-3", 400},
		{"/api/verdict?run=1&threshold=-1", 400},
		{"/api/verdict?run=1&threshold=NaN", 400},
		{"/api/verdict?run=1&format=xml", 400},
		{"/api/verdict?run=999", 404},
		{fmt.Sprintf("/api/verdict?run=%d&against=999", ids["last"]), 404},
		{fmt.Sprintf("/api/verdict?run=%d", ids["base"]), 422}, // the baseline itself
		{fmt.Sprintf("/api/verdict?run=%d", ids["b"]), 422},    // lab-b has no baseline
		{fmt.Sprintf("/api/verdict?run=%d&against=%d", ids["b"], ids["b"]), 422},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.url, nil))
		if rec.Code != c.code {
			t.Errorf("GET %s: %d %s, want %d", c.url, rec.Code, rec.Body, c.code)
		}
	}
}

// TestVerdictNotFailing: a regression significant and beyond the
// threshold whose runs' intervals overlap is listed not failing (compare
// basis); a session too short for the A/A check says so.
func TestVerdictNotFailing(t *testing.T) {
	st := openEmpty(t)
	add := func(name, text string) int64 {
		run, err := store.ParseBytes([]byte(text), name, store.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Ingest(t.Context(), run)
		if err != nil {
			t.Fatal(err)
		}
		return res.RunID
	}
	lines := func(head string, vals ...float64) string {
		var b strings.Builder
		b.WriteString(head + "pkg: example.com/n\n")
		for _, v := range vals {
			fmt.Fprintf(&b, "BenchmarkWobbly-2 \t1000\t%.1f ns/op\n", v)
		}
		return b.String()
	}
	old := add("old.txt", lines("machine: m\n", 100, 101, 102, 103, 104, 105, 130, 131))
	cur := add("new.txt", lines("machine: m\n", 118, 119, 120, 121, 122, 123, 150, 151))
	h := New(st, Options{})
	code, v, _ := verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d&against=%d", cur, old))
	if code != 200 || !v.Pass || len(v.Regressions) != 0 || len(v.NotFailing) != 1 || v.NotFailing[0].GapPct == nil || *v.NotFailing[0].GapPct > 10 {
		t.Fatalf("overlapping intervals: %d %+v %+v", code, v, v.NotFailing)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/api/verdict?run=%d&against=%d&format=markdown", cur, old), nil))
	if md := rec.Body.String(); !strings.Contains(md, "✅ pass") || !strings.Contains(md, "| not failing: within run-to-run noise | example.com/n Wobbly-2 |") {
		t.Errorf("Markdown:\n%s", md)
	}

	a := add("a.txt", lines("machine: m\nsession: short\nside: A\n", 100, 101, 102))
	add("b.txt", lines("machine: m\nsession: short\nside: B\n", 100, 101, 102))
	code, v, _ = verdictJSON(t, h, fmt.Sprintf("/api/verdict?run=%d", a+1))
	if code != 200 || v.Basis != "session" || v.AAChecked || !strings.Contains(v.Summary, "no A/A check") || v.Threshold != 10 {
		t.Errorf("short session: %d %+v", code, v)
	}
}
