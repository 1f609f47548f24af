// Package store keeps benchmark runs in a database: every sample of every
// benchmark and unit, a summary per run and benchmark, named baselines per
// machine, and the comparisons computed at ingest so that pages never
// recompute statistics.
//
// Two databases are supported, with one schema and one set of queries where
// their dialects allow it: an embedded SQLite file (modernc.org/sqlite, pure
// Go; the default, for one developer) and PostgreSQL (github.com/jackc/pgx/v5
// through database/sql, for a team posting from many machines at once).
// Open chooses by the name it is given:
//
//	st, err := store.Open(ctx, "bench/benchdash.db")            // SQLite file
//	st, err := store.Open(ctx, "sqlite:bench/benchdash.db")     // the same
//	st, err := store.Open(ctx, "postgres://user@host/benchdash") // PostgreSQL
//	run, err := store.Parse(f, "results.txt", store.Overrides{})
//	res, err := st.Ingest(ctx, run)
//
// Queries are written once with ? placeholders, rebound to $1, $2, ... for
// PostgreSQL; the few dialect differences (the schema's id columns and
// types, string aggregation, index hints) are in dialect. Each run is
// stored in one transaction, idempotent by content hash: concurrent Ingest
// calls of the same content, from any number of connections or processes,
// store it once, and all but one get ErrDuplicate naming the stored run.
// Copy copies one store into another (benchdash migrate).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/ringwire/ringwire/benchdash/compare"
)

// ErrNotFound is returned when a run, baseline or benchmark does not exist.
var ErrNotFound = errors.New("not found")

// Store is a benchmark database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	d    *dialect
	// rebound caches the PostgreSQL form of each query (string -> string).
	rebound sync.Map
	// metrics caches committed metric ids by key (compare.Key -> int64):
	// benchmarks and metrics are never deleted.
	metrics sync.Map
	// wlock, for SQLite, queues this process's write transactions (one
	// token): SQLite has one writer at a time, and its busy handler polls
	// with growing sleeps, so many writers of one process waiting in it
	// starve each other past busy_timeout; queued here they take turns.
	// Nil for PostgreSQL, whose writers run at once.
	wlock chan struct{}
}

// dialect holds what differs between the two databases.
type dialect struct {
	name       string
	migrations []string
	unitsAgg   string // aggregate of a benchmark's units, joined by newlines
	regIndex   string // index hint for the regressions query
	pg         bool
}

var sqliteDialect = &dialect{
	name:       "sqlite",
	migrations: migrations,
	unitsAgg:   `group_concat(m.unit, char(10))`,
	regIndex:   ` INDEXED BY deltas_regressions`,
}

var postgresDialect = &dialect{
	name:       "postgres",
	migrations: pgMigrations,
	unitsAgg:   `string_agg(m.unit, chr(10))`,
	pg:         true,
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

// pgMigrations are the PostgreSQL forms of migrations, version for
// version: the same tables, columns, keys and indexes, with identity
// columns for SQLite's INTEGER PRIMARY KEY, BIGINT for its 64-bit INTEGER
// and DOUBLE PRECISION for its REAL.
var pgMigrations = []string{
	// 1: runs, benchmarks, samples, baselines and stored comparisons.
	`
CREATE TABLE runs (
	id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	commit_sha TEXT NOT NULL DEFAULT '',
	branch TEXT NOT NULL DEFAULT '',
	time BIGINT NOT NULL,
	machine TEXT NOT NULL,
	goos TEXT NOT NULL DEFAULT '',
	goarch TEXT NOT NULL DEFAULT '',
	cpu TEXT NOT NULL DEFAULT '',
	labels TEXT NOT NULL DEFAULT '{}',
	source TEXT NOT NULL DEFAULT '',
	ingested BIGINT NOT NULL,
	n_metrics INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_time ON runs(time DESC, id DESC);
CREATE INDEX runs_machine_branch_time ON runs(machine, branch, time DESC, id DESC);
CREATE INDEX runs_branch_time ON runs(branch, time DESC, id DESC);
CREATE INDEX runs_commit ON runs(commit_sha);
CREATE TABLE benchmarks (
	id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	pkg TEXT NOT NULL,
	name TEXT NOT NULL,
	UNIQUE(pkg, name)
);
CREATE TABLE metrics (
	id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	benchmark_id BIGINT NOT NULL REFERENCES benchmarks(id),
	unit TEXT NOT NULL,
	UNIQUE(benchmark_id, unit)
);
CREATE TABLE results (
	id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	metric_id BIGINT NOT NULL REFERENCES metrics(id),
	n INTEGER NOT NULL,
	center DOUBLE PRECISION,
	lo DOUBLE PRECISION,
	hi DOUBLE PRECISION,
	UNIQUE(run_id, metric_id)
);
CREATE INDEX results_metric ON results(metric_id, run_id);
CREATE TABLE samples (
	result_id BIGINT NOT NULL REFERENCES results(id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	value DOUBLE PRECISION NOT NULL,
	PRIMARY KEY(result_id, seq)
);
CREATE TABLE baselines (
	machine TEXT NOT NULL,
	name TEXT NOT NULL,
	run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	saved BIGINT NOT NULL,
	PRIMARY KEY(machine, name)
);
CREATE INDEX baselines_run ON baselines(run_id);
CREATE TABLE comparisons (
	id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	base_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	regressions INTEGER NOT NULL,
	improvements INTEGER NOT NULL,
	worst DOUBLE PRECISION,
	UNIQUE(run_id, kind, base_id)
);
CREATE INDEX comparisons_base ON comparisons(base_id);
CREATE TABLE deltas (
	comparison_id BIGINT NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
	metric_id BIGINT NOT NULL REFERENCES metrics(id),
	old_n INTEGER NOT NULL, old_center DOUBLE PRECISION, old_lo DOUBLE PRECISION, old_hi DOUBLE PRECISION,
	new_n INTEGER NOT NULL, new_center DOUBLE PRECISION, new_lo DOUBLE PRECISION, new_hi DOUBLE PRECISION,
	delta_pct DOUBLE PRECISION,
	p DOUBLE PRECISION,
	change INTEGER NOT NULL,
	worse DOUBLE PRECISION,
	PRIMARY KEY(comparison_id, metric_id)
);
CREATE INDEX deltas_regressions ON deltas(worse DESC) WHERE change = -1;
CREATE INDEX deltas_metric ON deltas(metric_id, change);
`,
}

// SchemaVersion is the schema version this package writes.
var SchemaVersion = len(migrations)

// Open opens the store named by dsn and brings its schema up to date:
//
//   - postgres://... or postgresql://... (a libpq URL, as pgx takes it) is a
//     PostgreSQL database, which must exist;
//   - sqlite:PATH, or a bare PATH, is an SQLite file, created if needed with
//     its parent directory.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path != dsn {
		path = strings.TrimPrefix(path, "//")
	}
	if path == "" {
		return nil, errors.New("empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("database path %q: must not contain '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating database directory: %w", err)
		}
	}
	sdsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", sdsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Store{db: db, path: path, d: sqliteDialect, wlock: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return s, nil
}

// IsPostgres reports whether dsn names a PostgreSQL database for Open.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Redact returns dsn with any password replaced by "xxxxx", for messages.
func Redact(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	name := Redact(dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	db.SetMaxIdleConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	s := &Store{db: db, path: name, d: postgresDialect}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return s, nil
}

// Path returns the database given to Open: the SQLite file name, or the
// PostgreSQL URL without its password.
func (s *Store) Path() string { return s.path }

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// DB returns the underlying database handle, for read-only inspection.
// Its queries take the database's own placeholders: Rebind converts.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Rebind returns q, written with ? placeholders, in the placeholders of the
// store's database: unchanged for SQLite, $1, $2, ... for PostgreSQL. A ?
// inside a quoted string or identifier is left alone.
func (s *Store) Rebind(q string) string {
	if !s.d.pg {
		return q
	}
	if v, ok := s.rebound.Load(q); ok {
		return v.(string)
	}
	r := rebind(q)
	s.rebound.Store(q, r)
	return r
}

func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.Rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.Rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.Rebind(q), args...)
}

func (s *Store) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	return s.db.PrepareContext(ctx, s.Rebind(q))
}

// retryable reports whether err is a PostgreSQL deadlock or serialization
// failure, after which the whole transaction may be run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func (s *Store) cachedMetric(k compare.Key) (int64, bool) {
	v, ok := s.metrics.Load(k)
	if !ok {
		return 0, false
	}
	return v.(int64), true
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.d.pg {
		// Two processes opening a new database at once: one migrates, the
		// other waits here and then finds the schema current.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7364282)`); err != nil {
			return fmt.Errorf("locking for migration: %w", err)
		}
	}
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
	ms := s.d.migrations
	if v > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this benchdash (%d)", v, len(ms))
	}
	for i := v; i < len(ms); i++ {
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, s.Rebind(`UPDATE schema_version SET version = ?`), i+1); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Version returns the schema version stored in the database.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.queryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}
