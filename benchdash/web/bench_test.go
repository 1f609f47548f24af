package web

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/internal/pgtest"
	"github.com/ringwire/ringwire/benchdash/store"
)

const (
	perfRuns       = 1000
	perfBenchmarks = 200
	perfSamples    = 10
)

// perfDB returns a database of 1,000 runs × 200 benchmarks × 10 samples on
// two machines, built once (one transaction, prepared statements) and
// cached in the temporary directory.
func perfDB(b *testing.B) *store.Store {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("benchdash-pages-%dx%dx%d-v%d.db", perfRuns, perfBenchmarks, perfSamples, store.SchemaVersion))
	ctx := context.Background()
	if st, err := store.Open(ctx, path); err == nil {
		if _, n, err := st.ListRuns(ctx, store.RunFilter{Limit: 1}); err == nil && n == perfRuns {
			return st
		}
		st.Close()
	}
	os.Remove(path)
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	tmp := path + ".building"
	os.Remove(tmp)
	st, err := store.Open(ctx, tmp)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	err = st.Bulk(ctx, func(batch *store.Batch) error {
		for i := 0; i < perfRuns; i++ {
			machine := []string{"ci-box (Xeon)", "laptop (M2)"}[i%2]
			run := &store.Run{
				Hash: fmt.Sprintf("perf-%d", i), Commit: fmt.Sprintf("%040x", i), Branch: "main", Machine: machine,
				Time: t0.Add(time.Duration(i) * time.Hour), GOOS: "linux", GOARCH: "amd64", Source: fmt.Sprintf("perf-%d.txt", i),
			}
			for j := 0; j < perfBenchmarks; j++ {
				center := float64(100 * (j + 1))
				if i%50 == 49 && j == i%perfBenchmarks {
					center *= 1.3
				}
				vals := make([]float64, perfSamples)
				for k := range vals {
					vals[k] = center * (1 + 0.02*(r.Float64()*2-1))
				}
				run.Samples = append(run.Samples, compare.Sample{Key: compare.Key{Pkg: "example.com/ringwire/perf", Name: fmt.Sprintf("Op%03d-2", j), Unit: "sec/op"}, Values: vals})
			}
			res, err := batch.Add(run)
			if err != nil {
				return err
			}
			if i < 2 {
				if err := batch.SetBaseline(machine, "", res.RunID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	b.Logf("built %s in %v", path, time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	st, err = store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// perfPG is the PostgreSQL copy of perfDB, made once per test binary on
// a server of its own (stopped by TestMain), so that -count=N measures the
// pages N times without copying N times.
var perfPG struct {
	once sync.Once
	srv  *pgtest.Server
	drop func() error
	st   *store.Store
	err  error
}

// perfPGStore copies the SQLite database of perfDB into a throwaway
// PostgreSQL database (store.Copy keeps every sample, comparison and
// baseline) and analyzes it, as autovacuum would have by the time anyone
// looks at a server holding that much.
func perfPGStore(b *testing.B, src *store.Store) *store.Store {
	bin, err := pgtest.BinDir()
	if err != nil {
		if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
			b.Fatalf("RINGWIRE_REQUIRE_ALL is set and PostgreSQL is not installed: %v", err)
		}
		b.Skipf("PostgreSQL not installed (%v): apt-get install postgresql", err)
	}
	perfPG.once.Do(func() {
		ctx := context.Background()
		if perfPG.srv, perfPG.err = pgtest.Start(bin); perfPG.err != nil {
			return
		}
		dsn, drop, err := perfPG.srv.CreateDB(ctx)
		if err != nil {
			perfPG.err = err
			return
		}
		perfPG.drop = drop
		if perfPG.st, perfPG.err = store.Open(ctx, dsn); perfPG.err != nil {
			return
		}
		start := time.Now()
		n, err := store.Copy(ctx, perfPG.st, src)
		if err == nil {
			_, err = perfPG.st.DB().ExecContext(ctx, "ANALYZE")
		}
		perfPG.err = err
		b.Logf("copied %d runs, %d samples, %d comparisons into PostgreSQL in %v", n.Runs, n.Samples, n.Comparisons, time.Since(start).Round(time.Millisecond))
	})
	if perfPG.err != nil {
		b.Fatal(perfPG.err)
	}
	return perfPG.st
}

// stopPerfPG stops perfPG's server, if a benchmark started it.
func stopPerfPG() {
	if perfPG.st != nil {
		perfPG.st.Close()
	}
	if perfPG.drop != nil {
		perfPG.drop() // and closes the connection CreateDB opened
	}
	if perfPG.srv != nil {
		perfPG.srv.Stop()
	}
}

// BenchmarkPages times each page on a database of 1,000 runs × 200
// benchmarks × 10 samples, on the embedded SQLite store and on PostgreSQL
// (the same runs), and reports ms/page (target: under 100).
func BenchmarkPages(b *testing.B) {
	lite := perfDB(b)
	defer lite.Close()
	b.Run("sqlite", func(b *testing.B) { benchPages(b, lite) })
	b.Run("postgres", func(b *testing.B) { benchPages(b, perfPGStore(b, lite)) })
}

func benchPages(b *testing.B, st *store.Store) {
	ctx := context.Background()
	// The 750th run and the 100th benchmark, found by what they are: run
	// and benchmark ids are the store's.
	runs, _, err := st.ListRuns(ctx, store.RunFilter{Limit: 1, Offset: perfRuns - 750})
	if err != nil || len(runs) != 1 {
		b.Fatalf("finding the 750th run: %v", err)
	}
	bs, err := st.Benchmarks(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var bench int64
	for _, bm := range bs {
		if bm.Name == "Op099-2" {
			bench = bm.ID
		}
	}
	if bench == 0 {
		b.Fatal("no benchmark Op099-2")
	}
	h := New(st, Options{})
	pages := []struct{ name, url string }{
		{"runs", "/"},
		{"runs-filtered", "/?machine=laptop+%28M2%29&branch=main"},
		{"run", fmt.Sprintf("/runs/%d", runs[0].ID)},
		{"history", fmt.Sprintf("/bench/%d?unit=sec/op", bench)},
		{"history-machine", fmt.Sprintf("/bench/%d?unit=sec/op&machine=ci-box+%%28Xeon%%29", bench)},
		{"regressions", "/regressions"},
		{"regressions-baseline", "/regressions?kind=baseline&unit=sec/op"},
		{"api-run", fmt.Sprintf("/api/runs/%d", runs[0].ID)},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", p.url, nil))
				if rec.Code != 200 {
					b.Fatalf("GET %s: %d %s", p.url, rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/page")
		})
	}
}
