package cli

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/benchdash/store"
	"github.com/ringwire/ringwire/benchdash/web"
)

// abFile is one side of a paired A/B session as bench writes it: 8 rounds
// of 2 values of Op (scaled by slow on B) and Steady.
func abFile(session, side string, slow float64) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "commit: %040x\nmachine: lab\nsession: %s\nside: %s\nthreshold: 10\npairing: benchmark\nsamples: 2\ncount: 8\ngoos: linux\ngoarch: amd64\npkg: example.com/x\n", len(side), session, side)
	for i := range 16 {
		jitter := float64(i%5) * 0.4
		op := 100 + jitter
		if side == "B" {
			op *= slow
		}
		fmt.Fprintf(&b, "BenchmarkOp-2 \t1000\t%.2f ns/op\n", op)
		fmt.Fprintf(&b, "BenchmarkSteady-2 \t1000\t%.2f ns/op\n", 300+jitter)
	}
	return []byte(b.String())
}

// TestVerdict: benchdash verdict judges a session's B run against its
// side A, prints Markdown with the table or JSON, and exits 1 on a
// failing verdict; -url asks a dashboard and gives the same answer.
func TestVerdict(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "v.db")
	mustRun(t, ExitOK, "ingest", "-db", db,
		writeFile(t, dir, "okA.txt", abFile("ok", "A", 1)), writeFile(t, dir, "okB.txt", abFile("ok", "B", 1)),
		writeFile(t, dir, "slowA.txt", abFile("slow", "A", 1)), writeFile(t, dir, "slowB.txt", abFile("slow", "B", 1.2)))

	out := mustRun(t, ExitFailure, "verdict", "-db", db) // latest: slow's B
	for _, want := range []string{"❌ FAIL — 1 regression beyond 10%", "Paired A/B session", "| | benchmark | unit | before | after | delta | p | q |", "| ❌ fails | example.com/x Op-2 | sec/op |", "+20.", "run #3"} {
		if !strings.Contains(out, want) {
			t.Errorf("verdict Markdown lacks %q:\n%s", want, out)
		}
	}
	code, js, errs := run(t, "verdict", "-db", db, "-run", "4", "-format", "json")
	var v web.Verdict
	if err := json.Unmarshal([]byte(js), &v); err != nil || code != ExitFailure {
		t.Fatalf("verdict -format json: exit %d %v\n%s%s", code, err, js, errs)
	}
	if v.Pass || v.Basis != "session" || !v.Paired || v.Gated != 2 || v.Threshold != 10 || len(v.Regressions) != 1 || *v.Regressions[0].DeltaPct < 19 || v.Regressions[0].Q == nil {
		t.Errorf("verdict JSON: %+v", v)
	}
	out = mustRun(t, ExitOK, "verdict", "-db", db, "-run", "2")
	if !strings.Contains(out, "✅ pass") || !strings.Contains(out, "No significant regression beyond 10%") {
		t.Errorf("passing verdict:\n%s", out)
	}
	mustRun(t, ExitOK, "verdict", "-db", db, "-run", "4", "-threshold", "25")
	// Against another run: judged as compare judges two runs.
	out = mustRun(t, ExitFailure, "verdict", "-db", db, "-run", "4", "-against", "1", "-format", "json")
	if !strings.Contains(out, `"basis": "compare"`) {
		t.Errorf("verdict against run 1:\n%s", out)
	}

	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(web.New(st, web.Options{}))
	defer srv.Close()
	remote := mustRun(t, ExitFailure, "verdict", "-url", srv.URL, "-run", "4")
	local := mustRun(t, ExitFailure, "verdict", "-db", db, "-run", "4")
	if remote != local {
		t.Errorf("-url and -db differ:\n%s\n---\n%s", remote, local)
	}
	mustRun(t, ExitOK, "verdict", "-url", srv.URL, "-run", "2", "-format", "json")
	if code, _, errs := run(t, "verdict", "-url", srv.URL, "-run", "99"); code != ExitFailure || !strings.Contains(errs, "HTTP 404") {
		t.Errorf("-url unknown run: exit %d: %s", code, errs)
	}
	for _, args := range [][]string{{"verdict", "-format", "xml"}, {"verdict", "-against", "x"}, {"verdict", "-url", srv.URL, "-run", "latest"}, {"verdict", "-url", "nohost", "-run", "1"}, {"verdict", "-threshold", "-3"}} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
	if code, _, errs := run(t, "verdict", "-db", db, "-run", "1"); code != ExitFailure || !strings.Contains(errs, "nothing to judge against") {
		t.Errorf("side A without a baseline: exit %d: %s", code, errs)
	}
}
