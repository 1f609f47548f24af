package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
)

// Kinds of stored comparison.
const (
	KindBaseline = "baseline" // against the machine's named baseline
	KindPrevious = "previous" // against the previous run on the same machine and branch
	KindAdhoc    = "adhoc"    // any other pair, computed on request
)

// DefaultBaseline is the name of the baseline that ingest compares against.
const DefaultBaseline = "default"

// ComparisonInfo describes a stored comparison of a run against a base run.
type ComparisonInfo struct {
	ID           int64   `json:"id"`
	RunID        int64   `json:"run_id"`
	BaseID       int64   `json:"base_id"`
	Kind         string  `json:"kind"`
	Regressions  int     `json:"regressions"`
	Improvements int     `json:"improvements"`
	Worst        float64 `json:"worst_pct"` // largest significant worsening, in percent; 0 if none
}

// IngestResult reports what Ingest stored.
type IngestResult struct {
	RunID int64 `json:"run_id"`
	// Comparisons are those computed at ingest: against the machine's
	// default baseline and against the previous run, where they exist.
	Comparisons []ComparisonInfo `json:"comparisons"`
}

// Batch ingests many runs in one transaction with prepared statements. Each
// run is its own savepoint: a run that fails leaves nothing behind.
type Batch struct {
	ctx   context.Context
	s     *Store
	tx    *sql.Tx
	stmts map[string]stmt
	bench map[[2]string]int64
	metr  map[compare.Key]int64      // metric ids created or looked up in this transaction
	cache map[int64][]compare.Sample // samples of recently added runs
	order []int64
	// newBench and newMetr are the keys first stored by the run being
	// added, forgotten if it is rolled back.
	newBench [][2]string
	newMetr  []compare.Key
}

var batchSQL = map[string]string{
	"hash": `SELECT id FROM runs WHERE hash = ?`,
	// A concurrent writer may store the same content between the hash
	// look-up and this insert: the conflict then inserts nothing (on
	// PostgreSQL after waiting for that writer's commit), and Add reports
	// the duplicate.
	"run": `INSERT INTO runs(hash, commit_sha, branch, time, machine, goos, goarch, cpu, labels, source, ingested, n_metrics) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(hash) DO NOTHING RETURNING id`,
	// Benchmarks and metrics: insert, or (conflict: nothing inserted, and
	// no row locked) look the existing row up.
	"bench":    `INSERT INTO benchmarks(pkg, name) VALUES (?, ?) ON CONFLICT(pkg, name) DO NOTHING RETURNING id`,
	"benchid":  `SELECT id FROM benchmarks WHERE pkg = ? AND name = ?`,
	"metric":   `INSERT INTO metrics(benchmark_id, unit) VALUES (?, ?) ON CONFLICT(benchmark_id, unit) DO NOTHING RETURNING id`,
	"metricid": `SELECT id FROM metrics WHERE benchmark_id = ? AND unit = ?`,
	"result":   `INSERT INTO results(run_id, metric_id, n, center, lo, hi) VALUES (?,?,?,?,?,?) RETURNING id`,
	"cmp":      `INSERT INTO comparisons(run_id, base_id, kind, regressions, improvements, worst) VALUES (?,?,?,?,?,?) ON CONFLICT(run_id, kind, base_id) DO UPDATE SET regressions = excluded.regressions, improvements = excluded.improvements, worst = excluded.worst RETURNING id`,
	"delta":    deltaInsert + ` VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)` + deltaUpsert,
	"prev":     `SELECT id FROM runs WHERE machine = ? AND branch = ? AND (time < ? OR (time = ? AND id < ?)) ORDER BY time DESC, id DESC LIMIT 1`,
	"base":     `SELECT run_id FROM baselines WHERE machine = ? AND name = ?`,
	"samples":  sampleSQL,
}

const (
	deltaInsert = `INSERT INTO deltas(comparison_id, metric_id, old_n, old_center, old_lo, old_hi, new_n, new_center, new_lo, new_hi, delta_pct, p, change, worse)`
	deltaUpsert = ` ON CONFLICT(comparison_id, metric_id) DO UPDATE SET old_n = excluded.old_n, old_center = excluded.old_center, old_lo = excluded.old_lo, old_hi = excluded.old_hi,
		new_n = excluded.new_n, new_center = excluded.new_center, new_lo = excluded.new_lo, new_hi = excluded.new_hi,
		delta_pct = excluded.delta_pct, p = excluded.p, change = excluded.change, worse = excluded.worse`
)

const sampleSQL = `SELECT b.pkg, b.name, m.unit, s.value FROM results r
	JOIN metrics m ON m.id = r.metric_id
	JOIN benchmarks b ON b.id = m.benchmark_id
	JOIN samples s ON s.result_id = r.id
	WHERE r.run_id = ? ORDER BY r.id, s.seq`

// stmt is a statement of a Batch: a prepared *sql.Stmt (SQLite), or a
// txStmt (PostgreSQL).
type stmt interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

// txStmt runs its query in the transaction as it is: pgx prepares and
// caches each query text per connection, where an explicit Prepare would
// cost a round trip per statement and Batch.
type txStmt struct {
	tx *sql.Tx
	q  string
}

func (t txStmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.q, args...)
}

func (t txStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.q, args...)
}

func (t txStmt) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.q, args...)
}

func newBatch(ctx context.Context, s *Store, tx *sql.Tx) (*Batch, error) {
	b := &Batch{ctx: ctx, s: s, tx: tx, stmts: map[string]stmt{}, bench: map[[2]string]int64{}, metr: map[compare.Key]int64{}, cache: map[int64][]compare.Sample{}}
	for name, q := range batchSQL {
		if s.d.pg {
			b.stmts[name] = txStmt{tx, s.Rebind(q)}
			continue
		}
		st, err := tx.PrepareContext(ctx, s.Rebind(q))
		if err != nil {
			b.close()
			return nil, fmt.Errorf("preparing %s: %w", name, err)
		}
		b.stmts[name] = st
	}
	return b, nil
}

func (b *Batch) close() {
	for _, st := range b.stmts {
		if c, ok := st.(*sql.Stmt); ok {
			c.Close()
		}
	}
}

// Bulk runs fn with a Batch inside one transaction, committed when fn
// returns nil and rolled back otherwise.
func (s *Store) Bulk(ctx context.Context, fn func(*Batch) error) error {
	if s.wlock != nil {
		select {
		case s.wlock <- struct{}{}:
			defer func() { <-s.wlock }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	b, err := newBatch(ctx, s, tx)
	if err != nil {
		return err
	}
	defer b.close()
	if err := fn(b); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for k, id := range b.metr {
		s.metrics.Store(k, id)
	}
	return nil
}

// maxAttempts bounds how often a transaction that PostgreSQL aborted as
// part of a deadlock or serialization failure is run again.
const maxAttempts = 5

// bulkRetry is Bulk, run again (with a fresh transaction) when PostgreSQL
// aborts it to break a deadlock between concurrent writers: two runs
// storing each other's new benchmarks in opposite orders.
func (s *Store) bulkRetry(ctx context.Context, fn func(*Batch) error) error {
	for attempt := 1; ; attempt++ {
		err := s.Bulk(ctx, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// Ingest stores one run in its own transaction and computes its comparisons
// against the machine's default baseline and the previous run. A run whose
// content hash is already stored is refused with an error wrapping
// ErrDuplicate; the result then names the existing run.
func (s *Store) Ingest(ctx context.Context, run *Run) (*IngestResult, error) {
	var res *IngestResult
	err := s.bulkRetry(ctx, func(b *Batch) error {
		var err error
		res, err = b.Add(run)
		return err
	})
	return res, err
}

// Add stores run and its comparisons (see Store.Ingest). On error nothing
// of run is kept.
func (b *Batch) Add(run *Run) (*IngestResult, error) {
	ctx := b.ctx
	if res, err := b.duplicate(run); res != nil || err != nil {
		return res, err
	}
	if _, err := b.tx.ExecContext(ctx, `SAVEPOINT run`); err != nil {
		return nil, err
	}
	b.newBench, b.newMetr = b.newBench[:0], b.newMetr[:0]
	res, err := b.add(run)
	if err != nil {
		b.tx.ExecContext(ctx, `ROLLBACK TO run`)
		b.tx.ExecContext(ctx, `RELEASE run`)
		// Ids first stored by this run are gone with it.
		for _, k := range b.newBench {
			delete(b.bench, k)
		}
		for _, k := range b.newMetr {
			delete(b.metr, k)
		}
		run.ID = 0
		if errors.Is(err, errRaced) {
			if res, err := b.duplicate(run); res != nil || err != nil {
				return res, err
			}
			return nil, fmt.Errorf("%s: hash conflict with no stored run", run.Source)
		}
		return nil, err
	}
	if _, err := b.tx.ExecContext(ctx, `RELEASE run`); err != nil {
		return nil, err
	}
	return res, nil
}

// errRaced reports that another writer stored run's content first.
var errRaced = errors.New("stored concurrently")

// duplicate returns the IngestResult and ErrDuplicate error for run when
// its content is stored, and nil, nil when it is not.
func (b *Batch) duplicate(run *Run) (*IngestResult, error) {
	var existing int64
	err := b.stmts["hash"].QueryRowContext(b.ctx, run.Hash).Scan(&existing)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	run.ID = existing
	return &IngestResult{RunID: existing}, fmt.Errorf("%s: %w as run %d", run.Source, ErrDuplicate, existing)
}

func (b *Batch) add(run *Run) (*IngestResult, error) {
	ctx := b.ctx
	labels, err := json.Marshal(run.Labels)
	if err != nil {
		return nil, err
	}
	if run.Time.IsZero() {
		run.Time = time.Now().UTC()
	}
	if err := b.stmts["run"].QueryRowContext(ctx, run.Hash, run.Commit, run.Branch, run.Time.UnixNano(), run.Machine,
		run.GOOS, run.GOARCH, run.CPU, string(labels), run.Source, time.Now().UnixNano(), len(run.Samples)).Scan(&run.ID); errors.Is(err, sql.ErrNoRows) {
		return nil, errRaced
	} else if err != nil {
		return nil, fmt.Errorf("storing run: %w", err)
	}
	// Benchmarks and metrics first, in key order: concurrent writers
	// creating the same new ones then wait for each other in one order and
	// never deadlock.
	keys := make([]compare.Key, len(run.Samples))
	for i, smp := range run.Samples {
		keys[i] = smp.Key
	}
	slices.SortFunc(keys, func(x, y compare.Key) int {
		return cmp.Or(strings.Compare(x.Pkg, y.Pkg), strings.Compare(x.Name, y.Name), strings.Compare(x.Unit, y.Unit))
	})
	for _, k := range keys {
		if _, err := b.metricID(k); err != nil {
			return nil, err
		}
	}
	// Summaries, then samples, many rows per INSERT: one round trip each
	// on PostgreSQL. A run has one result per metric, so the metric id
	// returned names the result.
	args := make([]any, 0, 6*len(run.Samples))
	mids := make([]int64, len(run.Samples))
	for i, smp := range run.Samples {
		mid, err := b.metricID(smp.Key)
		if err != nil {
			return nil, err
		}
		mids[i] = mid
		sum := compare.Summarize(smp.Values)
		args = append(args, run.ID, mid, sum.N, dbf(sum.Center), dbf(sum.Lo), dbf(sum.Hi))
	}
	rids := make(map[int64]int64, len(run.Samples))
	if err := b.insertRows(`INSERT INTO results(run_id, metric_id, n, center, lo, hi)`, ` RETURNING id, metric_id`, 6, args, func(rows *sql.Rows) error {
		var rid, mid int64
		if err := rows.Scan(&rid, &mid); err != nil {
			return err
		}
		rids[mid] = rid
		return nil
	}); err != nil {
		return nil, fmt.Errorf("storing results: %w", err)
	}
	args = args[:0]
	for i, smp := range run.Samples {
		rid, ok := rids[mids[i]]
		if !ok {
			return nil, fmt.Errorf("storing %s %s: no result id returned", smp.Name, smp.Unit)
		}
		for seq, v := range smp.Values {
			args = append(args, rid, seq, v)
		}
	}
	if err := b.insertRows(`INSERT INTO samples(result_id, seq, value)`, ``, 3, args, nil); err != nil {
		return nil, fmt.Errorf("storing samples: %w", err)
	}
	res := &IngestResult{RunID: run.ID}
	var bases []struct {
		kind string
		id   int64
	}
	var baseID int64
	switch err := b.stmts["base"].QueryRowContext(ctx, run.Machine, DefaultBaseline).Scan(&baseID); {
	case err == nil:
		if baseID != run.ID {
			bases = append(bases, struct {
				kind string
				id   int64
			}{KindBaseline, baseID})
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	var prevID int64
	t := run.Time.UnixNano()
	switch err := b.stmts["prev"].QueryRowContext(ctx, run.Machine, run.Branch, t, t, run.ID).Scan(&prevID); {
	case err == nil:
		bases = append(bases, struct {
			kind string
			id   int64
		}{KindPrevious, prevID})
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	for _, base := range bases {
		old, err := b.samples(base.id)
		if err != nil {
			return nil, err
		}
		cres := compare.Compare(old, run.Samples, compare.Options{})
		info, err := b.storeComparison(run.ID, base.id, base.kind, cres)
		if err != nil {
			return nil, err
		}
		res.Comparisons = append(res.Comparisons, info)
	}
	b.remember(run.ID, run.Samples)
	return res, nil
}

func (b *Batch) remember(id int64, s []compare.Sample) {
	if _, ok := b.cache[id]; ok {
		return
	}
	b.cache[id] = s
	b.order = append(b.order, id)
	for len(b.order) > 8 {
		delete(b.cache, b.order[0])
		b.order = b.order[1:]
	}
}

func (b *Batch) samples(runID int64) ([]compare.Sample, error) {
	if s, ok := b.cache[runID]; ok {
		return s, nil
	}
	s, err := loadSamples(b.ctx, b.stmts["samples"], runID)
	if err != nil {
		return nil, err
	}
	b.remember(runID, s)
	return s, nil
}

type rowQuerier interface {
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

func loadSamples(ctx context.Context, st rowQuerier, runID int64) ([]compare.Sample, error) {
	rows, err := st.QueryContext(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("loading samples of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []compare.Sample
	for rows.Next() {
		var k compare.Key
		var v float64
		if err := rows.Scan(&k.Pkg, &k.Name, &k.Unit, &v); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].Key == k {
			out[n-1].Values = append(out[n-1].Values, v)
		} else {
			out = append(out, compare.Sample{Key: k, Values: []float64{v}})
		}
	}
	return out, rows.Err()
}

// paramsPerInsert bounds the parameters of one multi-row INSERT, under
// both databases' limits (SQLite 32766, PostgreSQL 65535): a 200-benchmark
// run's 2,000 samples go in one statement.
const paramsPerInsert = 30000

// insertRows runs head VALUES (?,...),(?,...)... tail with args, cols
// values a row, at most paramsPerInsert values a statement. When scan is not nil the
// statements are queries (tail has a RETURNING clause) and scan is called
// on each row they return.
func (b *Batch) insertRows(head, tail string, cols int, args []any, scan func(*sql.Rows) error) error {
	row := "(" + strings.Repeat("?,", cols-1) + "?)"
	for len(args) > 0 {
		n := min(len(args), paramsPerInsert/cols*cols) / cols
		chunk := args[:n*cols]
		args = args[n*cols:]
		q := b.s.Rebind(head + " VALUES " + strings.Repeat(row+",", n-1) + row + tail)
		if scan == nil {
			if _, err := b.tx.ExecContext(b.ctx, q, chunk...); err != nil {
				return err
			}
			continue
		}
		rows, err := b.tx.QueryContext(b.ctx, q, chunk...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// insertSamples stores values as the samples of result rid.
func (b *Batch) insertSamples(rid int64, values []float64) error {
	args := make([]any, 0, 3*len(values))
	for seq, v := range values {
		args = append(args, rid, seq, v)
	}
	if err := b.insertRows(`INSERT INTO samples(result_id, seq, value)`, ``, 3, args, nil); err != nil {
		return fmt.Errorf("storing samples: %w", err)
	}
	return nil
}

// upsertID returns the id that insert (ON CONFLICT DO NOTHING RETURNING
// id) stored, or, when the row exists, that lookup finds.
func (b *Batch) upsertID(insert, lookup string, args ...any) (int64, error) {
	var id int64
	err := b.stmts[insert].QueryRowContext(b.ctx, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = b.stmts[lookup].QueryRowContext(b.ctx, args...).Scan(&id)
	}
	return id, err
}

func (b *Batch) metricID(k compare.Key) (int64, error) {
	if id, ok := b.metr[k]; ok {
		return id, nil
	}
	if id, ok := b.s.cachedMetric(k); ok {
		b.metr[k] = id
		return id, nil
	}
	bk := [2]string{k.Pkg, k.Name}
	bid, ok := b.bench[bk]
	if !ok {
		var err error
		if bid, err = b.upsertID("bench", "benchid", k.Pkg, k.Name); err != nil {
			return 0, fmt.Errorf("storing benchmark %s: %w", k.Name, err)
		}
		b.bench[bk] = bid
		b.newBench = append(b.newBench, bk)
	}
	id, err := b.upsertID("metric", "metricid", bid, k.Unit)
	if err != nil {
		return 0, fmt.Errorf("storing metric %s %s: %w", k.Name, k.Unit, err)
	}
	b.metr[k] = id
	b.newMetr = append(b.newMetr, k)
	return id, nil
}

func (b *Batch) storeComparison(runID, baseID int64, kind string, res compare.Result) (ComparisonInfo, error) {
	info := ComparisonInfo{RunID: runID, BaseID: baseID, Kind: kind}
	for _, r := range res.Rows {
		switch r.Change {
		case compare.Regression:
			info.Regressions++
			info.Worst = math.Max(info.Worst, r.Worse)
		case compare.Improvement:
			info.Improvements++
		}
	}
	if err := b.stmts["cmp"].QueryRowContext(b.ctx, runID, baseID, kind, info.Regressions, info.Improvements, info.Worst).Scan(&info.ID); err != nil {
		return info, fmt.Errorf("storing comparison: %w", err)
	}
	args := make([]any, 0, 14*len(res.Rows))
	at := make(map[int64]int, len(res.Rows)) // metric id -> its row's offset in args
	for _, r := range res.Rows {
		mid, err := b.metricID(r.Key)
		if err != nil {
			return info, err
		}
		row := []any{info.ID, mid,
			r.Old.N, dbf(r.Old.Center), dbf(r.Old.Lo), dbf(r.Old.Hi),
			r.New.N, dbf(r.New.Center), dbf(r.New.Lo), dbf(r.New.Hi),
			dbf(r.DeltaPct), dbf(r.P), int(r.Change), dbf(r.Worse)}
		if off, ok := at[mid]; ok {
			// One statement may not upsert a row twice (PostgreSQL): the
			// last row of a metric wins, as one upsert a row did.
			copy(args[off:], row)
			continue
		}
		at[mid] = len(args)
		args = append(args, row...)
	}
	if err := b.insertRows(deltaInsert, deltaUpsert, 14, args, nil); err != nil {
		return info, fmt.Errorf("storing comparison rows: %w", err)
	}
	return info, nil
}

// dbf stores a float: NaN as NULL; infinities are kept.
func dbf(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// SetBaseline makes runID the baseline called name for machine, inside the
// batch's transaction; runs added after it compare against it.
func (b *Batch) SetBaseline(machine, name string, runID int64) error {
	if name == "" {
		name = DefaultBaseline
	}
	_, err := b.tx.ExecContext(b.ctx, b.s.Rebind(`INSERT INTO baselines(machine, name, run_id, saved) VALUES (?,?,?,?)
		ON CONFLICT(machine, name) DO UPDATE SET run_id = excluded.run_id, saved = excluded.saved`),
		machine, name, runID, time.Now().UnixNano())
	return err
}
