package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/store"
)

// TestServeImport: serve's start-up import stores the committed results
// files and this machine's runs that a fresh database lacks, restores the
// committed baselines, skips a malformed file, and stores nothing the
// second time.
func TestServeImport(t *testing.T) {
	dir := t.TempDir()
	results, runs := filepath.Join(dir, "results"), filepath.Join(dir, "runs")
	for _, d := range []string{results, runs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	file := func(i int, machine string) []byte {
		return benchgen.File(benchgen.Spec{Commit: fmt.Sprintf("%040x", i+1), Branch: "main", Machine: machine, Date: t0.Add(time.Duration(i) * time.Hour),
			Pkg: "example.com/x", Benchmarks: 2, Samples: 6, Seed: uint64(i), Noise: 0.01})
	}
	base := file(0, "other-machine")
	writeFile(t, results, "2026-05-01T000000Z-a.txt", base)
	writeFile(t, results, "2026-05-01T010000Z-b.txt", file(1, "other-machine"))
	writeFile(t, runs, "2026-05-01T020000Z-c.txt", file(2, "this-machine"))
	writeFile(t, runs, "2026-05-01T030000Z-bad.txt", []byte("BenchmarkX-2 12 oops ns/op\n"))
	sum := sha256.Sum256(base)
	bl, _ := json.Marshal(map[string]any{"baselines": []baselineRecord{
		{Machine: "other-machine", Name: "default", Source: "2026-05-01T000000Z-a.txt", Hash: hex.EncodeToString(sum[:])},
	}})
	writeFile(t, results, BaselinesFile, bl)

	db := filepath.Join(dir, "fresh.db")
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out, errs bytes.Buffer
	e := &env{ctx: t.Context(), stdout: &out, stderr: &errs}
	if err := e.importResults(st, results, runs); err != nil {
		t.Fatal(err)
	}
	if want := "imported 3 results files"; !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "1 baselines") {
		t.Errorf("import said %q, want %q and 1 baseline", out.String(), want)
	}
	if !strings.Contains(errs.String(), "skipping") || !strings.Contains(errs.String(), "bad.txt") {
		t.Errorf("malformed file not reported: %q", errs.String())
	}
	if _, n, _ := st.ListRuns(t.Context(), store.RunFilter{}); n != 3 {
		t.Errorf("%d runs stored, want 3", n)
	}
	id, err := st.GetBaseline(t.Context(), "other-machine", "default")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := st.GetRun(t.Context(), id); r == nil || r.Source != "2026-05-01T000000Z-a.txt" {
		t.Errorf("baseline is run %d %+v, want the committed file's", id, r)
	}
	// The run after the baseline was compared against it at import.
	later, _ := st.RunByCommit(t.Context(), fmt.Sprintf("%040x", 2), "")
	if r, _ := st.GetRun(t.Context(), later); r == nil || r.VsBaseline == nil || r.VsBaseline.BaseID != id {
		t.Errorf("run %d not compared against the restored baseline: %+v", later, r)
	}

	// Idempotent: a second start stores nothing and prints nothing.
	out.Reset()
	if err := e.importResults(st, results, runs); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("second import said %q", out.String())
	}
	if _, n, _ := st.ListRuns(t.Context(), store.RunFilter{}); n != 3 {
		t.Errorf("%d runs after the second import, want 3", n)
	}
	// A baseline the database has (save chose another) is kept.
	if err := st.SetBaseline(t.Context(), "other-machine", "default", later); err != nil {
		t.Fatal(err)
	}
	if err := e.importResults(st, results, runs); err != nil {
		t.Fatal(err)
	}
	if id2, _ := st.GetBaseline(t.Context(), "other-machine", "default"); id2 != later {
		t.Errorf("import replaced the database's baseline %d with %d", later, id2)
	}
	// A missing results directory is no error; a broken baselines.json is.
	if err := e.importResults(st, filepath.Join(dir, "none"), filepath.Join(dir, "none")); err != nil {
		t.Errorf("missing directories: %v", err)
	}
	writeFile(t, results, BaselinesFile, []byte("{"))
	if err := e.importResults(st, results, runs); err == nil {
		t.Error("broken baselines.json: no error")
	}
	if code, _, errs := run(t, "serve", "-db", filepath.Join(dir, "x.db"), "-results", results, "-runs", runs, "-addr", "127.0.0.1:0"); code != ExitFailure || !strings.Contains(errs, "import") {
		t.Errorf("serve with a broken baselines.json: exit %d, %q", code, errs)
	}
}
