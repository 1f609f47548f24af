package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	bench map[[2]string]int64
	metr  map[compare.Key]int64
	cache map[int64][]compare.Sample // samples of recently added runs
	order []int64
}

var batchSQL = map[string]string{
	"hash":    `SELECT id FROM runs WHERE hash = ?`,
	"run":     `INSERT INTO runs(hash, commit_sha, branch, time, machine, goos, goarch, cpu, labels, source, ingested, n_metrics) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`,
	"bench":   `INSERT INTO benchmarks(pkg, name) VALUES (?, ?) ON CONFLICT(pkg, name) DO UPDATE SET pkg = excluded.pkg RETURNING id`,
	"metric":  `INSERT INTO metrics(benchmark_id, unit) VALUES (?, ?) ON CONFLICT(benchmark_id, unit) DO UPDATE SET unit = excluded.unit RETURNING id`,
	"result":  `INSERT INTO results(run_id, metric_id, n, center, lo, hi) VALUES (?,?,?,?,?,?) RETURNING id`,
	"sample":  `INSERT INTO samples(result_id, seq, value) VALUES (?,?,?)`,
	"cmp":     `INSERT INTO comparisons(run_id, base_id, kind, regressions, improvements, worst) VALUES (?,?,?,?,?,?) ON CONFLICT(run_id, kind, base_id) DO UPDATE SET regressions = excluded.regressions, improvements = excluded.improvements, worst = excluded.worst RETURNING id`,
	"delta":   `INSERT OR REPLACE INTO deltas(comparison_id, metric_id, old_n, old_center, old_lo, old_hi, new_n, new_center, new_lo, new_hi, delta_pct, p, change, worse) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
	"prev":    `SELECT id FROM runs WHERE machine = ? AND branch = ? AND (time < ? OR (time = ? AND id < ?)) ORDER BY time DESC, id DESC LIMIT 1`,
	"base":    `SELECT run_id FROM baselines WHERE machine = ? AND name = ?`,
	"samples": sampleSQL,
}

const sampleSQL = `SELECT b.pkg, b.name, m.unit, s.value FROM results r
	JOIN metrics m ON m.id = r.metric_id
	JOIN benchmarks b ON b.id = m.benchmark_id
	JOIN samples s ON s.result_id = r.id
	WHERE r.run_id = ? ORDER BY r.id, s.seq`

func newBatch(ctx context.Context, tx *sql.Tx) (*Batch, error) {
	b := &Batch{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}, bench: map[[2]string]int64{}, metr: map[compare.Key]int64{}, cache: map[int64][]compare.Sample{}}
	for name, q := range batchSQL {
		st, err := tx.PrepareContext(ctx, q)
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
		st.Close()
	}
}

// Bulk runs fn with a Batch inside one transaction, committed when fn
// returns nil and rolled back otherwise.
func (s *Store) Bulk(ctx context.Context, fn func(*Batch) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	b, err := newBatch(ctx, tx)
	if err != nil {
		return err
	}
	defer b.close()
	if err := fn(b); err != nil {
		return err
	}
	return tx.Commit()
}

// Ingest stores one run in its own transaction and computes its comparisons
// against the machine's default baseline and the previous run. A run whose
// content hash is already stored is refused with an error wrapping
// ErrDuplicate; the result then names the existing run.
func (s *Store) Ingest(ctx context.Context, run *Run) (*IngestResult, error) {
	var res *IngestResult
	err := s.Bulk(ctx, func(b *Batch) error {
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
	var existing int64
	err := b.stmts["hash"].QueryRowContext(ctx, run.Hash).Scan(&existing)
	if err == nil {
		run.ID = existing
		return &IngestResult{RunID: existing}, fmt.Errorf("%s: %w as run %d", run.Source, ErrDuplicate, existing)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if _, err := b.tx.ExecContext(ctx, `SAVEPOINT run`); err != nil {
		return nil, err
	}
	res, err := b.add(run)
	if err != nil {
		b.tx.ExecContext(ctx, `ROLLBACK TO run`)
		b.tx.ExecContext(ctx, `RELEASE run`)
		run.ID = 0
		return nil, err
	}
	if _, err := b.tx.ExecContext(ctx, `RELEASE run`); err != nil {
		return nil, err
	}
	return res, nil
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
		run.GOOS, run.GOARCH, run.CPU, string(labels), run.Source, time.Now().UnixNano(), len(run.Samples)).Scan(&run.ID); err != nil {
		return nil, fmt.Errorf("storing run: %w", err)
	}
	for _, smp := range run.Samples {
		mid, err := b.metricID(smp.Key)
		if err != nil {
			return nil, err
		}
		sum := compare.Summarize(smp.Values)
		var rid int64
		if err := b.stmts["result"].QueryRowContext(ctx, run.ID, mid, sum.N, dbf(sum.Center), dbf(sum.Lo), dbf(sum.Hi)).Scan(&rid); err != nil {
			return nil, fmt.Errorf("storing %s %s: %w", smp.Name, smp.Unit, err)
		}
		for i, v := range smp.Values {
			if _, err := b.stmts["sample"].ExecContext(ctx, rid, i, v); err != nil {
				return nil, fmt.Errorf("storing sample: %w", err)
			}
		}
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

func (b *Batch) metricID(k compare.Key) (int64, error) {
	if id, ok := b.metr[k]; ok {
		return id, nil
	}
	bk := [2]string{k.Pkg, k.Name}
	bid, ok := b.bench[bk]
	if !ok {
		if err := b.stmts["bench"].QueryRowContext(b.ctx, k.Pkg, k.Name).Scan(&bid); err != nil {
			return 0, fmt.Errorf("storing benchmark %s: %w", k.Name, err)
		}
		b.bench[bk] = bid
	}
	var id int64
	if err := b.stmts["metric"].QueryRowContext(b.ctx, bid, k.Unit).Scan(&id); err != nil {
		return 0, fmt.Errorf("storing metric %s %s: %w", k.Name, k.Unit, err)
	}
	b.metr[k] = id
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
	for _, r := range res.Rows {
		mid, err := b.metricID(r.Key)
		if err != nil {
			return info, err
		}
		if _, err := b.stmts["delta"].ExecContext(b.ctx, info.ID, mid,
			r.Old.N, dbf(r.Old.Center), dbf(r.Old.Lo), dbf(r.Old.Hi),
			r.New.N, dbf(r.New.Center), dbf(r.New.Lo), dbf(r.New.Hi),
			dbf(r.DeltaPct), dbf(r.P), int(r.Change), dbf(r.Worse)); err != nil {
			return info, fmt.Errorf("storing comparison row: %w", err)
		}
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
	_, err := b.tx.ExecContext(b.ctx, `INSERT INTO baselines(machine, name, run_id, saved) VALUES (?,?,?,?)
		ON CONFLICT(machine, name) DO UPDATE SET run_id = excluded.run_id, saved = excluded.saved`,
		machine, name, runID, time.Now().UnixNano())
	return err
}
