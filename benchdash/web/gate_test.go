package web

import (
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/benchdash/store"
)

// sessionFile is one side of an A/B session as `benchdash bench` writes
// it: 8 samples of two benchmarks, Op's scaled by slow.
func sessionFile(session, side string, slow float64) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "commit: %040x\nmachine: lab\nsession: %s\nside: %s\nthreshold: 10\ngoos: linux\ngoarch: amd64\npkg: example.com/x\n", len(session)+len(side), session, side)
	for i := range 8 {
		jitter := float64(i%4) * 0.5
		fmt.Fprintf(&b, "BenchmarkOp-2 \t1000\t%.1f ns/op\t0 allocs/op\n", (100+jitter)*slow)
		fmt.Fprintf(&b, "BenchmarkSteady-2 \t1000\t%.1f ns/op\t0 allocs/op\n", 200+jitter)
	}
	return []byte(b.String())
}

// TestRunsListGate: the runs list shows the A/B gate's verdict and
// threshold on each session's B run, the verdict `benchdash bench` gives.
func TestRunsListGate(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, f := range []struct {
		session, side string
		slow          float64
	}{{"s1", "A", 1}, {"s1", "B", 1}, {"s2", "A", 1}, {"s2", "B", 1.5}} {
		run, err := store.ParseBytes(sessionFile(f.session, f.side, f.slow), f.session+f.side+".txt", store.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Ingest(t.Context(), run); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(New(st, Options{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if !strings.Contains(page, "A/B gate") {
		t.Fatalf("no gate column:\n%s", page)
	}
	if n := strings.Count(page, "threshold 10%"); n != 2 {
		t.Errorf("threshold shown %d times, want 2 (one per session's B run)", n)
	}
	if !strings.Contains(page, "FAIL: 1 beyond 10% (worst +50.0%)") {
		t.Errorf("session s2 (Op 50%% slower) not shown failing:\n%s", page)
	}
	if !strings.Contains(page, `<span class="ok">pass</span> · threshold 10% · 4 gated`) {
		t.Errorf("session s1 (unchanged) not shown passing with its gated count:\n%s", page)
	}
}
