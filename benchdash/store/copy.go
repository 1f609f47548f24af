package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ringwire/ringwire/benchdash/compare"
)

// CopyStats counts what Copy stored.
type CopyStats struct {
	Runs    int `json:"runs"`    // runs copied
	Samples int `json:"samples"` // samples of the runs copied
	// Present counts the runs of src that dst already held (same content
	// hash): not copied again.
	Present     int `json:"present"`
	Comparisons int `json:"comparisons"` // stored comparisons of the copied runs
	Baselines   int `json:"baselines"`   // baselines dst gained or moved to another run
}

// copyRun is a run row as stored.
type copyRun struct {
	id                                                       int64
	hash, commit, branch, machine, goos, goarch, cpu, labels string
	source                                                   string
	time, ingested                                           int64
	nMetrics                                                 int
}

// Copy copies every run of src that dst lacks (by content hash) into dst,
// with its labels, summaries and every sample, the comparisons stored for
// those runs, and src's baselines (which replace dst's of the same machine
// and name). It runs in one transaction of dst: on error dst is unchanged.
// Copying again copies nothing new. The stores may be of either dialect.
func Copy(ctx context.Context, dst, src *Store) (CopyStats, error) {
	var st CopyStats
	if dst.Dialect() == src.Dialect() && dst.Path() == src.Path() {
		return st, fmt.Errorf("copy: %s is both source and destination", src.Path())
	}
	runs, err := collect(ctx, src, `SELECT id, hash, commit_sha, branch, time, machine, goos, goarch, cpu, labels, source, ingested, n_metrics FROM runs ORDER BY id`, nil,
		func(rows *sql.Rows, r *copyRun) error {
			return rows.Scan(&r.id, &r.hash, &r.commit, &r.branch, &r.time, &r.machine, &r.goos, &r.goarch, &r.cpu, &r.labels, &r.source, &r.ingested, &r.nMetrics)
		})
	if err != nil {
		return st, fmt.Errorf("copy: reading runs: %w", err)
	}
	err = dst.bulkRetry(ctx, func(b *Batch) error {
		st = CopyStats{}
		ids := map[int64]int64{} // src run id -> dst run id
		var copied []int64       // src ids of the runs copied
		for _, r := range runs {
			var id int64
			err := b.stmts["hash"].QueryRowContext(ctx, r.hash).Scan(&id)
			if err == nil {
				ids[r.id] = id
				st.Present++
				continue
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			n, err := b.copyRun(src, r, &id)
			if errors.Is(err, errRaced) {
				if err := b.stmts["hash"].QueryRowContext(ctx, r.hash).Scan(&id); err != nil {
					return fmt.Errorf("run %d: %w", r.id, err)
				}
				ids[r.id] = id
				st.Present++
				continue
			}
			if err != nil {
				return fmt.Errorf("run %d (%s): %w", r.id, r.source, err)
			}
			ids[r.id] = id
			copied = append(copied, r.id)
			st.Runs++
			st.Samples += n
		}
		n, err := b.copyComparisons(src, ids, copied)
		if err != nil {
			return err
		}
		st.Comparisons = n
		st.Baselines, err = b.copyBaselines(src, ids)
		return err
	})
	if err != nil {
		return CopyStats{}, fmt.Errorf("copy: %w", err)
	}
	return st, nil
}

type copyResult struct {
	id         int64
	key        compare.Key
	n          int
	center, lo sql.NullFloat64
	hi         sql.NullFloat64
	values     []float64
}

// copyRun stores r and its results and samples, read from src, setting
// *id to its id in b's store; it returns how many samples it stored.
func (b *Batch) copyRun(src *Store, r copyRun, id *int64) (int, error) {
	ctx := b.ctx
	results, err := collect(ctx, src, `SELECT r.id, b.pkg, b.name, m.unit, r.n, r.center, r.lo, r.hi FROM results r
		JOIN metrics m ON m.id = r.metric_id JOIN benchmarks b ON b.id = m.benchmark_id WHERE r.run_id = ? ORDER BY r.id`, []any{r.id},
		func(rows *sql.Rows, x *copyResult) error {
			return rows.Scan(&x.id, &x.key.Pkg, &x.key.Name, &x.key.Unit, &x.n, &x.center, &x.lo, &x.hi)
		})
	if err != nil {
		return 0, err
	}
	byID := make(map[int64]*copyResult, len(results))
	keys := make([]compare.Key, len(results))
	for i := range results {
		byID[results[i].id] = &results[i]
		keys[i] = results[i].key
	}
	rows, err := src.query(ctx, `SELECT s.result_id, s.value FROM samples s JOIN results r ON r.id = s.result_id WHERE r.run_id = ? ORDER BY s.result_id, s.seq`, r.id)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var rid int64
		var v float64
		if err := rows.Scan(&rid, &v); err != nil {
			rows.Close()
			return 0, err
		}
		if x := byID[rid]; x != nil {
			x.values = append(x.values, v)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	err = b.stmts["run"].QueryRowContext(ctx, r.hash, r.commit, r.branch, r.time, r.machine, r.goos, r.goarch, r.cpu, r.labels, r.source, r.ingested, r.nMetrics).Scan(id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errRaced
	} else if err != nil {
		return 0, err
	}
	slices.SortFunc(keys, func(x, y compare.Key) int {
		return cmp.Or(strings.Compare(x.Pkg, y.Pkg), strings.Compare(x.Name, y.Name), strings.Compare(x.Unit, y.Unit))
	})
	for _, k := range keys {
		if _, err := b.metricID(k); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, x := range results {
		mid, err := b.metricID(x.key)
		if err != nil {
			return 0, err
		}
		var rid int64
		if err := b.stmts["result"].QueryRowContext(ctx, *id, mid, x.n, x.center, x.lo, x.hi).Scan(&rid); err != nil {
			return 0, fmt.Errorf("storing %s %s: %w", x.key.Name, x.key.Unit, err)
		}
		if err := b.insertSamples(rid, x.values); err != nil {
			return 0, err
		}
		n += len(x.values)
	}
	return n, nil
}

type copyComparison struct {
	id, run, base int64
	kind          string
	regs, imps    int
	worst         sql.NullFloat64
}

type copyDelta struct {
	key                                  compare.Key
	oldN, newN, change                   int
	oc, ol, oh, nc, nl, nh, dp, p, worse sql.NullFloat64
}

// copyComparisons copies src's stored comparisons of the runs copied (src
// ids), with their rows, mapping run ids through ids.
func (b *Batch) copyComparisons(src *Store, ids map[int64]int64, copied []int64) (int, error) {
	ctx := b.ctx
	if len(copied) == 0 {
		return 0, nil
	}
	isCopied := make(map[int64]bool, len(copied))
	for _, id := range copied {
		isCopied[id] = true
	}
	cmps, err := collect(ctx, src, `SELECT id, run_id, base_id, kind, regressions, improvements, worst FROM comparisons ORDER BY id`, nil,
		func(rows *sql.Rows, c *copyComparison) error {
			return rows.Scan(&c.id, &c.run, &c.base, &c.kind, &c.regs, &c.imps, &c.worst)
		})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cmps {
		run, ok1 := ids[c.run]
		base, ok2 := ids[c.base]
		if !isCopied[c.run] || !ok1 || !ok2 {
			continue
		}
		deltas, err := collect(ctx, src, `SELECT b.pkg, b.name, m.unit, d.old_n, d.old_center, d.old_lo, d.old_hi, d.new_n, d.new_center, d.new_lo, d.new_hi, d.delta_pct, d.p, d.change, d.worse
			FROM deltas d JOIN metrics m ON m.id = d.metric_id JOIN benchmarks b ON b.id = m.benchmark_id WHERE d.comparison_id = ?`, []any{c.id},
			func(rows *sql.Rows, d *copyDelta) error {
				return rows.Scan(&d.key.Pkg, &d.key.Name, &d.key.Unit, &d.oldN, &d.oc, &d.ol, &d.oh, &d.newN, &d.nc, &d.nl, &d.nh, &d.dp, &d.p, &d.change, &d.worse)
			})
		if err != nil {
			return 0, err
		}
		var id int64
		if err := b.stmts["cmp"].QueryRowContext(ctx, run, base, c.kind, c.regs, c.imps, c.worst).Scan(&id); err != nil {
			return 0, fmt.Errorf("storing comparison: %w", err)
		}
		for _, d := range deltas {
			mid, err := b.metricID(d.key)
			if err != nil {
				return 0, err
			}
			if _, err := b.stmts["delta"].ExecContext(ctx, id, mid, d.oldN, d.oc, d.ol, d.oh, d.newN, d.nc, d.nl, d.nh, d.dp, d.p, d.change, d.worse); err != nil {
				return 0, fmt.Errorf("storing comparison row: %w", err)
			}
		}
		n++
	}
	return n, nil
}

// copyBaselines sets src's baselines in b's store, mapping run ids through
// ids, and returns how many it added or moved.
func (b *Batch) copyBaselines(src *Store, ids map[int64]int64) (int, error) {
	bases, err := src.Baselines(b.ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, bl := range bases {
		run, ok := ids[bl.RunID]
		if !ok {
			return 0, fmt.Errorf("baseline %s/%s: run %d not copied", bl.Machine, bl.Name, bl.RunID)
		}
		res, err := b.tx.ExecContext(b.ctx, b.s.Rebind(`INSERT INTO baselines(machine, name, run_id, saved) VALUES (?,?,?,?)
			ON CONFLICT(machine, name) DO UPDATE SET run_id = excluded.run_id, saved = excluded.saved WHERE baselines.run_id <> excluded.run_id`),
			bl.Machine, bl.Name, run, bl.Saved.UnixNano())
		if err != nil {
			return 0, fmt.Errorf("baseline %s/%s: %w", bl.Machine, bl.Name, err)
		}
		if k, err := res.RowsAffected(); err == nil && k > 0 {
			n++
		}
	}
	return n, nil
}
