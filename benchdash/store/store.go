// Package store keeps benchmark runs in an embedded SQLite database
// (modernc.org/sqlite, pure Go): every sample of every benchmark and unit,
// a summary per run and benchmark, named baselines per machine, and the
// comparisons computed at ingest so that pages never recompute statistics.
//
//	st, err := store.Open(ctx, "bench/benchdash.db")
//	run, err := store.Parse(f, "results.txt", store.Overrides{})
//	res, err := st.Ingest(ctx, run)
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when a run, baseline or benchmark does not exist.
var ErrNotFound = errors.New("not found")

// Store is a benchmark database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// migrations are applied in order; migrations[i] brings the schema from
// version i to version i+1. Never edit a released migration: append one.
var migrations = []string{
	// 1: runs, benchmarks, samples, baselines and stored comparisons.
	`
CREATE TABLE runs (
	id INTEGER PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	commit_sha TEXT NOT NULL DEFAULT '',
	branch TEXT NOT NULL DEFAULT '',
	time INTEGER NOT NULL,
	machine TEXT NOT NULL,
	goos TEXT NOT NULL DEFAULT '',
	goarch TEXT NOT NULL DEFAULT '',
	cpu TEXT NOT NULL DEFAULT '',
	labels TEXT NOT NULL DEFAULT '{}',
	source TEXT NOT NULL DEFAULT '',
	ingested INTEGER NOT NULL,
	n_metrics INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_time ON runs(time DESC, id DESC);
CREATE INDEX runs_machine_branch_time ON runs(machine, branch, time DESC, id DESC);
CREATE INDEX runs_branch_time ON runs(branch, time DESC, id DESC);
CREATE INDEX runs_commit ON runs(commit_sha);
CREATE TABLE benchmarks (
	id INTEGER PRIMARY KEY,
	pkg TEXT NOT NULL,
	name TEXT NOT NULL,
	UNIQUE(pkg, name)
);
CREATE TABLE metrics (
	id INTEGER PRIMARY KEY,
	benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id),
	unit TEXT NOT NULL,
	UNIQUE(benchmark_id, unit)
);
CREATE TABLE results (
	id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	metric_id INTEGER NOT NULL REFERENCES metrics(id),
	n INTEGER NOT NULL,
	center REAL,
	lo REAL,
	hi REAL,
	UNIQUE(run_id, metric_id)
);
CREATE INDEX results_metric ON results(metric_id, run_id);
CREATE TABLE samples (
	result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	value REAL NOT NULL,
	PRIMARY KEY(result_id, seq)
) WITHOUT ROWID;
CREATE TABLE baselines (
	machine TEXT NOT NULL,
	name TEXT NOT NULL,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	saved INTEGER NOT NULL,
	PRIMARY KEY(machine, name)
);
CREATE TABLE comparisons (
	id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	base_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	regressions INTEGER NOT NULL,
	improvements INTEGER NOT NULL,
	worst REAL,
	UNIQUE(run_id, kind, base_id)
);
CREATE INDEX comparisons_base ON comparisons(base_id);
CREATE TABLE deltas (
	comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
	metric_id INTEGER NOT NULL REFERENCES metrics(id),
	old_n INTEGER NOT NULL, old_center REAL, old_lo REAL, old_hi REAL,
	new_n INTEGER NOT NULL, new_center REAL, new_lo REAL, new_hi REAL,
	delta_pct REAL,
	p REAL,
	change INTEGER NOT NULL,
	worse REAL,
	PRIMARY KEY(comparison_id, metric_id)
) WITHOUT ROWID;
CREATE INDEX deltas_regressions ON deltas(worse DESC) WHERE change = -1;
CREATE INDEX deltas_metric ON deltas(metric_id, change);
`,
}

// SchemaVersion is the schema version this package writes.
var SchemaVersion = len(migrations)

// Open opens (creating if needed, with its parent directory) the database
// at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("database path %q: must not contain '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating database directory: %w", err)
		}
	}
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return s, nil
}

// Path returns the database file name given to Open.
func (s *Store) Path() string { return s.path }

// DB returns the underlying database handle, for read-only inspection.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version(version) VALUES (0)`); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this benchdash (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, i+1); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Version returns the schema version stored in the database.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}
