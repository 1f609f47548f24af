package cli

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/internal/pgtest"
)

// TestMigrateToPostgres: migrate copies an SQLite store into PostgreSQL,
// says what it moved, moves nothing the second time, and the other
// commands then work on the PostgreSQL store through -db.
func TestMigrateToPostgres(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "bench.db")
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var files []string
	for i := range 3 {
		var slow map[int]float64
		if i == 2 {
			slow = map[int]float64{0: 1.5}
		}
		files = append(files, writeFile(t, dir, fmt.Sprintf("r%d.txt", i), benchgen.File(benchgen.Spec{Commit: fmt.Sprintf("%040x", i+1), Branch: "main", Machine: "m",
			Date: t0.Add(time.Duration(i) * time.Hour), Pkg: "example.com/x", Benchmarks: 2, Samples: 6, Seed: uint64(i), Noise: 0.01, Slow: slow})))
	}
	mustRun(t, ExitOK, append([]string{"ingest", "-db", db}, files[:2]...)...)
	mustRun(t, ExitOK, "save", "-db", db, "-run", "1", "-runs", filepath.Join(dir, "runs"), "-results", filepath.Join(dir, "results"))
	mustRun(t, ExitOK, "ingest", "-db", db, files[2])

	pg := pgtest.DSN(t)
	out := mustRun(t, ExitOK, "migrate", "-from", db, "-to", pg)
	// 3 runs of 2 benchmarks x 6 samples; run 2 vs previous, run 3 vs
	// previous and baseline; m's default baseline.
	want := regexp.QuoteMeta(fmt.Sprintf("migrated 3 runs (36 samples), 3 comparisons, 1 baselines from %s to %s; 0 runs were already there", db, pg))
	if !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("migrate said %q, want %q", out, want)
	}
	out = mustRun(t, ExitOK, "migrate", "-from", "sqlite:"+db, "-to", pg)
	if !strings.Contains(out, "migrated 0 runs (0 samples), 0 comparisons, 0 baselines") || !strings.Contains(out, "3 runs were already there") {
		t.Errorf("second migrate said %q", out)
	}
	// The same comparison from either store.
	sq := mustRun(t, ExitFailure, "compare", "-db", db, "-run", "latest", "-against", "baseline")
	pgOut := mustRun(t, ExitFailure, "compare", "-db", pg, "-run", "latest", "-against", "baseline")
	if sq != pgOut || !strings.Contains(pgOut, "Op000") {
		t.Errorf("compare on sqlite:\n%s\non postgres:\n%s", sq, pgOut)
	}
	// And back: PostgreSQL into a new SQLite file.
	back := filepath.Join(dir, "back.db")
	out = mustRun(t, ExitOK, "migrate", "-from", pg, "-to", back)
	if !strings.Contains(out, "migrated 3 runs (36 samples), 3 comparisons, 1 baselines") {
		t.Errorf("migrate back said %q", out)
	}
	// Ingest straight into PostgreSQL.
	extra := writeFile(t, dir, "r9.txt", benchgen.File(benchgen.Spec{Commit: "9", Branch: "main", Machine: "m", Date: t0.Add(9 * time.Hour), Pkg: "example.com/x", Benchmarks: 2, Samples: 6, Seed: 9, Noise: 0.01}))
	if out := mustRun(t, ExitOK, "ingest", "-db", pg, extra); !strings.Contains(out, "run 4") {
		t.Errorf("ingest into postgres: %q", out)
	}
}

func TestMigrateRefuses(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := run(t, "migrate", "-from", filepath.Join(dir, "a.db")); code != ExitUsage || !strings.Contains(errs, "-to") {
		t.Errorf("no -to: %d %q", code, errs)
	}
	if code, _, errs := run(t, "migrate", "-from", filepath.Join(dir, "none.db"), "-to", filepath.Join(dir, "b.db")); code != ExitFailure || !strings.Contains(errs, "no such database") {
		t.Errorf("missing source: %d %q", code, errs)
	}
	if code, _, errs := run(t, "migrate", "-from", filepath.Join(dir, "none.db"), "-to", "postgres://u:secret@127.0.0.1:1/x?connect_timeout=5", "extra"); code != ExitUsage {
		t.Errorf("extra argument: %d %q", code, errs)
	}
	mustRun(t, ExitOK, "ingest", "-db", filepath.Join(dir, "a.db"), writeFile(t, dir, "r.txt", benchgen.File(benchgen.Spec{Machine: "m", Pkg: "p", Benchmarks: 1, Samples: 2})))
	code, _, errs := run(t, "migrate", "-from", filepath.Join(dir, "a.db"), "-to", "postgres://u:secret@127.0.0.1:1/x?connect_timeout=5")
	if code != ExitFailure || strings.Contains(errs, "secret") || !strings.Contains(errs, "127.0.0.1:1") {
		t.Errorf("unreachable destination: %d %q", code, errs)
	}
	if code, _, errs := run(t, "migrate", "-from", filepath.Join(dir, "a.db"), "-to", "sqlite:"+filepath.Join(dir, "a.db")); code != ExitFailure || !strings.Contains(errs, "both source and destination") {
		t.Errorf("onto itself: %d %q", code, errs)
	}
}
