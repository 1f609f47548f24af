package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/internal/pgtest"
)

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`:        `SELECT 1`,
		`a = ? AND b = ?`: `a = $1 AND b = $2`,
		`labels LIKE ? ESCAPE '\' AND labels LIKE ?`: `labels LIKE $1 ESCAPE '\' AND labels LIKE $2`,
		`x = '?' AND "we?rd" = ? AND y = 'it''s?'`:   `x = '?' AND "we?rd" = $1 AND y = 'it''s?'`,
		`VALUES (?,?,?),(?,?,?)`:                     `VALUES ($1,$2,$3),($4,$5,$6)`,
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
	pg := &Store{d: postgresDialect}
	if got := pg.Rebind(`a = ?`); got != `a = $1` || pg.Rebind(`a = ?`) != got {
		t.Errorf("postgres Rebind = %q", got)
	}
	if got := (&Store{d: sqliteDialect}).Rebind(`a = ?`); got != `a = ?` {
		t.Errorf("sqlite Rebind = %q", got)
	}
}

// Both dialects have a migration for every schema version.
func TestMigrationsPerDialect(t *testing.T) {
	if len(pgMigrations) != len(migrations) || SchemaVersion != len(migrations) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones", len(migrations), len(pgMigrations))
	}
}

func TestOpenNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"sqlite:" + filepath.Join(dir, "a.db"), "sqlite://" + filepath.Join(dir, "b.db"), filepath.Join(dir, "c", "d.db")} {
		st, err := Open(t.Context(), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Dialect() != "sqlite" || strings.HasPrefix(st.Path(), "sqlite:") {
			t.Errorf("%s: dialect %s, path %s", name, st.Dialect(), st.Path())
		}
		st.Close()
	}
	if _, err := Open(t.Context(), "sqlite:"); err == nil {
		t.Error("empty sqlite: path accepted")
	}
	for dsn, pg := range map[string]bool{"postgres://h/db": true, "postgresql://h/db": true, "postgres.db": false, "sqlite:x": false, "bench/x.db": false} {
		if IsPostgres(dsn) != pg {
			t.Errorf("IsPostgres(%q) = %v", dsn, !pg)
		}
	}
	if r := Redact("postgres://bob:secret@h:5432/db?sslmode=disable"); strings.Contains(r, "secret") || !strings.Contains(r, "bob") {
		t.Errorf("Redact = %q", r)
	}
	// A server that is not there: a clear error, quickly.
	_, err := Open(t.Context(), "postgres://nobody:pw@127.0.0.1:1/none?connect_timeout=5")
	if err == nil || strings.Contains(err.Error(), "pw@") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable server: %v", err)
	}
}

func TestMigrationsPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	st := openDSN(t, dsn)
	if v, err := st.Version(t.Context()); err != nil || v != SchemaVersion {
		t.Errorf("version %d %v", v, err)
	}
	if st.Dialect() != "postgres" || st.Path() != dsn {
		t.Errorf("dialect %s path %s", st.Dialect(), st.Path())
	}
	// Opened by many processes at once, a new database is migrated once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			s, err := Open(t.Context(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent open: %v", err)
		}
	}
	if n := countRows(t, st, "schema_version"); n != 1 {
		t.Errorf("schema_version has %d rows", n)
	}
	if _, err := st.DB().Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("newer schema: %v", err)
	}
}

// reversed returns run's samples in the opposite order, under another
// hash: storing it creates the same benchmarks in the opposite order.
func reversed(run *Run, hash string) *Run {
	r := *run
	r.Hash = hash
	r.Samples = append([]compare.Sample(nil), run.Samples...)
	for i, j := 0, len(r.Samples)-1; i < j; i, j = i+1, j-1 {
		r.Samples[i], r.Samples[j] = r.Samples[j], r.Samples[i]
	}
	return &r
}

// Many writers, each with its own connections (as separate machines
// posting to one server have), ingest the same content at once: it is
// stored once, every other writer is told ErrDuplicate with the stored
// run's id. Distinct runs that create the same new benchmarks in opposite
// orders, at once, are all stored.
func TestConcurrentIngest(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			const writers = 8
			stores := make([]*Store, writers)
			for i := range stores {
				stores[i] = openDSN(t, dsn)
			}
			data := benchgen.File(benchgen.Spec{Commit: "same", Machine: "m", Pkg: "p", Benchmarks: 20, Samples: 5, Units: true})
			for round := range 3 {
				var wg sync.WaitGroup
				ids := make([]int64, writers)
				errs := make([]error, writers)
				start := make(chan struct{})
				for i, st := range stores {
					wg.Go(func() {
						run, err := ParseBytes(data, "same.txt", Overrides{Time: time.Unix(1, 0)})
						if err != nil {
							errs[i] = err
							return
						}
						if i%2 == 1 {
							// Same new benchmarks, other order, other content.
							run = reversed(run, fmt.Sprintf("rev-%d-%d", round, i))
						} else if round > 0 {
							run.Hash = fmt.Sprintf("same-%d", round)
						}
						<-start
						res, err := st.Ingest(t.Context(), run)
						if res != nil {
							ids[i] = res.RunID
						}
						errs[i] = err
					})
				}
				close(start)
				wg.Wait()
				stored := 0
				for i := 0; i < writers; i += 2 {
					switch {
					case errs[i] == nil:
						stored++
					case errors.Is(errs[i], ErrDuplicate):
					default:
						t.Fatalf("round %d writer %d: %v", round, i, errs[i])
					}
					if ids[i] != ids[0] || ids[i] == 0 {
						t.Errorf("round %d: writer %d got run %d, writer 0 run %d", round, i, ids[i], ids[0])
					}
				}
				if stored != 1 {
					t.Errorf("round %d: same content stored by %d writers", round, stored)
				}
				for i := 1; i < writers; i += 2 {
					if errs[i] != nil || ids[i] == 0 {
						t.Errorf("round %d: reversed run of writer %d: %d %v", round, i, ids[i], errs[i])
					}
				}
			}
			st := stores[0]
			runs := 3 * (1 + writers/2)
			if n := countRows(t, st, "runs"); n != runs {
				t.Errorf("runs = %d, want %d", n, runs)
			}
			// 20 benchmarks, 4 units each, 5 samples.
			if n := countRows(t, st, "benchmarks"); n != 20 {
				t.Errorf("benchmarks = %d, want 20", n)
			}
			if n := countRows(t, st, "metrics"); n != 80 {
				t.Errorf("metrics = %d, want 80", n)
			}
			if n := countRows(t, st, "samples"); n != runs*80*5 {
				t.Errorf("samples = %d, want %d", n, runs*80*5)
			}
			// Every run has its whole content, and the pages can read it.
			list, total, err := st.ListRuns(t.Context(), RunFilter{Limit: 100})
			if err != nil || total != runs || len(list) != runs {
				t.Fatalf("ListRuns: %d of %d, %v", len(list), total, err)
			}
			for _, ri := range list {
				s, err := st.Samples(t.Context(), ri.ID)
				if err != nil || len(s) != 80 {
					t.Errorf("run %d: %d series, %v", ri.ID, len(s), err)
				}
			}
		})
	}
}

// A run with more samples than one INSERT takes is stored in several,
// every sample in order.
func TestIngestManyChunks(t *testing.T) {
	eachStore(t, func(t *testing.T, st *Store) {
		run, err := ParseBytes(benchgen.File(benchgen.Spec{Machine: "m", Pkg: "p", Benchmarks: 2, Samples: 6000, Noise: 0.01}), "big.txt", Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if 3*12000 <= paramsPerInsert {
			t.Fatalf("the run fits one INSERT of %d parameters", paramsPerInsert)
		}
		res, err := st.Ingest(t.Context(), run)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.Samples(t.Context(), res.RunID)
		if err != nil || len(got) != len(run.Samples) {
			t.Fatalf("%d series, %v", len(got), err)
		}
		for i := range got {
			if got[i].Key != run.Samples[i].Key || !slices.Equal(got[i].Values, run.Samples[i].Values) {
				t.Errorf("series %d differs: %v, %d values", i, got[i].Key, len(got[i].Values))
			}
		}
	})
}
