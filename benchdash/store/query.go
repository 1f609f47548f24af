package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
)

// RunInfo is a run as listed: its description and what its stored
// comparisons found.
type RunInfo struct {
	Run
	Metrics int `json:"metrics"`
	// Baseline names the baselines this run is, as "machine/name" pairs.
	BaselineOf []string `json:"baseline_of,omitempty"`
	// VsBaseline and VsPrevious are the latest stored comparisons of each
	// kind, nil when there is none.
	VsBaseline *ComparisonInfo `json:"vs_baseline,omitempty"`
	VsPrevious *ComparisonInfo `json:"vs_previous,omitempty"`
}

// RunFilter selects runs; empty fields match everything.
type RunFilter struct {
	Branch  string
	Machine string
	Limit   int // default 50
	Offset  int
}

const runCols = `r.id, r.hash, r.commit_sha, r.branch, r.time, r.machine, r.goos, r.goarch, r.cpu, r.labels, r.source, r.n_metrics`

func scanRun(sc interface{ Scan(...any) error }, ri *RunInfo, extra ...any) error {
	var t int64
	var labels string
	dst := append([]any{&ri.ID, &ri.Hash, &ri.Commit, &ri.Branch, &t, &ri.Machine, &ri.GOOS, &ri.GOARCH, &ri.CPU, &labels, &ri.Source, &ri.Metrics}, extra...)
	if err := sc.Scan(dst...); err != nil {
		return err
	}
	ri.Time = time.Unix(0, t).UTC()
	if labels != "" && labels != "{}" {
		if err := json.Unmarshal([]byte(labels), &ri.Labels); err != nil {
			return fmt.Errorf("run %d labels: %w", ri.ID, err)
		}
	}
	return nil
}

func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// ListRuns returns runs newest first, and how many match the filter.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]RunInfo, int, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var conds []string
	var args []any
	if f.Machine != "" {
		conds = append(conds, "r.machine = ?")
		args = append(args, f.Machine)
	}
	if f.Branch != "" {
		conds = append(conds, "r.branch = ?")
		args = append(args, f.Branch)
	}
	var total int
	if err := s.queryRow(ctx, `SELECT count(*) FROM runs r`+where(conds), args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q := `SELECT ` + runCols + ` FROM runs r` + where(conds) + ` ORDER BY r.time DESC, r.id DESC LIMIT ? OFFSET ?`
	out, err := collect(ctx, s, q, append(args, f.Limit, f.Offset), func(rows *sql.Rows, ri *RunInfo) error {
		return scanRun(rows, ri)
	})
	if err != nil {
		return nil, 0, err
	}
	for i := range out {
		if err := s.decorate(ctx, &out[i]); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

func (s *Store) decorate(ctx context.Context, ri *RunInfo) error {
	rows, err := s.query(ctx, `SELECT id, run_id, base_id, kind, regressions, improvements, coalesce(worst, 0) FROM comparisons WHERE run_id = ? AND kind IN ('baseline', 'previous') ORDER BY id`, ri.ID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c ComparisonInfo
		if err := rows.Scan(&c.ID, &c.RunID, &c.BaseID, &c.Kind, &c.Regressions, &c.Improvements, &c.Worst); err != nil {
			rows.Close()
			return err
		}
		if c.Kind == KindBaseline {
			ri.VsBaseline = &c
		} else {
			ri.VsPrevious = &c
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.query(ctx, `SELECT machine, name FROM baselines WHERE run_id = ? ORDER BY machine, name`, ri.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m, n string
		if err := rows.Scan(&m, &n); err != nil {
			return err
		}
		ri.BaselineOf = append(ri.BaselineOf, m+"/"+n)
	}
	return rows.Err()
}

// GetRun returns one run without its samples.
func (s *Store) GetRun(ctx context.Context, id int64) (*RunInfo, error) {
	var ri RunInfo
	err := scanRun(s.queryRow(ctx, `SELECT `+runCols+` FROM runs r WHERE r.id = ?`, id), &ri)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if err := s.decorate(ctx, &ri); err != nil {
		return nil, err
	}
	return &ri, nil
}

// Samples returns every sample of a run, grouped by benchmark and unit.
func (s *Store) Samples(ctx context.Context, runID int64) ([]compare.Sample, error) {
	st, err := s.prepare(ctx, sampleSQL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return loadSamples(ctx, st, runID)
}

// ResolveRun turns "latest" (the newest run, on machine when it is not
// empty) or a decimal run id into a run id.
func (s *Store) ResolveRun(ctx context.Context, spec, machine string) (int64, error) {
	if spec == "" || spec == "latest" {
		q, args := `SELECT id FROM runs ORDER BY time DESC, id DESC LIMIT 1`, []any{}
		if machine != "" {
			q, args = `SELECT id FROM runs WHERE machine = ? ORDER BY time DESC, id DESC LIMIT 1`, []any{machine}
		}
		var id int64
		err := s.queryRow(ctx, q, args...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("no runs stored: %w", ErrNotFound)
		}
		return id, err
	}
	id, err := strconv.ParseInt(spec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("run %q: want a run id or \"latest\"", spec)
	}
	if _, err := s.GetRun(ctx, id); err != nil {
		return 0, err
	}
	return id, nil
}

// RunByCommit returns the newest run whose commit starts with prefix,
// preferring runs on machine when it is not empty.
func (s *Store) RunByCommit(ctx context.Context, prefix, machine string) (int64, error) {
	if prefix == "" {
		return 0, fmt.Errorf("empty commit: %w", ErrNotFound)
	}
	var id int64
	err := s.queryRow(ctx, `SELECT id FROM runs WHERE substr(commit_sha, 1, ?) = ?
		ORDER BY machine = ? DESC, time DESC, id DESC LIMIT 1`, len(prefix), prefix, machine).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("commit %s: %w", prefix, ErrNotFound)
	}
	return id, err
}

// Previous returns the run before runID on the same machine and branch.
func (s *Store) Previous(ctx context.Context, runID int64) (int64, error) {
	r, err := s.GetRun(ctx, runID)
	if err != nil {
		return 0, err
	}
	var id int64
	t := r.Time.UnixNano()
	err = s.queryRow(ctx, batchSQL["prev"], r.Machine, r.Branch, t, t, r.ID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("run %d has no previous run on %s/%s: %w", runID, r.Machine, r.Branch, ErrNotFound)
	}
	return id, err
}

// Baseline is a named run that later runs on its machine are compared to.
type Baseline struct {
	Machine string    `json:"machine"`
	Name    string    `json:"name"`
	RunID   int64     `json:"run_id"`
	Saved   time.Time `json:"saved"`
}

// SetBaseline makes runID the baseline called name for machine.
func (s *Store) SetBaseline(ctx context.Context, machine, name string, runID int64) error {
	if name == "" {
		name = DefaultBaseline
	}
	_, err := s.exec(ctx, `INSERT INTO baselines(machine, name, run_id, saved) VALUES (?,?,?,?)
		ON CONFLICT(machine, name) DO UPDATE SET run_id = excluded.run_id, saved = excluded.saved`,
		machine, name, runID, time.Now().UnixNano())
	return err
}

// GetBaseline returns the run id of machine's baseline called name.
func (s *Store) GetBaseline(ctx context.Context, machine, name string) (int64, error) {
	if name == "" {
		name = DefaultBaseline
	}
	var id int64
	err := s.queryRow(ctx, `SELECT run_id FROM baselines WHERE machine = ? AND name = ?`, machine, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("baseline %q for machine %q: %w", name, machine, ErrNotFound)
	}
	return id, err
}

// Baselines lists every baseline.
func (s *Store) Baselines(ctx context.Context) ([]Baseline, error) {
	return collect(ctx, s, `SELECT machine, name, run_id, saved FROM baselines ORDER BY machine, name`, nil, func(rows *sql.Rows, b *Baseline) error {
		var t int64
		if err := rows.Scan(&b.Machine, &b.Name, &b.RunID, &t); err != nil {
			return err
		}
		b.Saved = time.Unix(0, t).UTC()
		return nil
	})
}

// DeltaRow is one row of a stored comparison.
type DeltaRow struct {
	compare.Row
	BenchID  int64 `json:"bench_id"`
	MetricID int64 `json:"metric_id"`
}

// Comparison returns the stored comparison of runID against baseID,
// computing and storing it first if needed (kind names why it was asked
// for: KindBaseline, KindPrevious or KindAdhoc).
func (s *Store) Comparison(ctx context.Context, runID, baseID int64, kind string) (ComparisonInfo, []DeltaRow, error) {
	info, err := s.findComparison(ctx, runID, baseID)
	if errors.Is(err, sql.ErrNoRows) {
		info, err = s.computeComparison(ctx, runID, baseID, kind)
	}
	if err != nil {
		return info, nil, err
	}
	rows, err := s.deltas(ctx, info.ID)
	return info, rows, err
}

func (s *Store) findComparison(ctx context.Context, runID, baseID int64) (ComparisonInfo, error) {
	var c ComparisonInfo
	err := s.queryRow(ctx, `SELECT id, run_id, base_id, kind, regressions, improvements, coalesce(worst, 0)
		FROM comparisons WHERE run_id = ? AND base_id = ? ORDER BY id LIMIT 1`, runID, baseID).
		Scan(&c.ID, &c.RunID, &c.BaseID, &c.Kind, &c.Regressions, &c.Improvements, &c.Worst)
	return c, err
}

func (s *Store) computeComparison(ctx context.Context, runID, baseID int64, kind string) (ComparisonInfo, error) {
	newS, err := s.Samples(ctx, runID)
	if err != nil {
		return ComparisonInfo{}, err
	}
	if len(newS) == 0 {
		return ComparisonInfo{}, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	oldS, err := s.Samples(ctx, baseID)
	if err != nil {
		return ComparisonInfo{}, err
	}
	if len(oldS) == 0 {
		return ComparisonInfo{}, fmt.Errorf("run %d: %w", baseID, ErrNotFound)
	}
	res := compare.Compare(oldS, newS, compare.Options{})
	var info ComparisonInfo
	err = s.Bulk(ctx, func(b *Batch) error {
		var err error
		info, err = b.storeComparison(runID, baseID, kind, res)
		return err
	})
	return info, err
}

func nf(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

func (s *Store) deltas(ctx context.Context, cmpID int64) ([]DeltaRow, error) {
	rows, err := s.query(ctx, `SELECT b.id, m.id, b.pkg, b.name, m.unit,
		d.old_n, d.old_center, d.old_lo, d.old_hi, d.new_n, d.new_center, d.new_lo, d.new_hi, d.delta_pct, d.p, d.change, d.worse
		FROM deltas d JOIN metrics m ON m.id = d.metric_id JOIN benchmarks b ON b.id = m.benchmark_id
		WHERE d.comparison_id = ?`, cmpID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeltaRow
	for rows.Next() {
		var r DeltaRow
		var oc, ol, oh, nc, nl, nh, dp, p, w sql.NullFloat64
		var ch int
		if err := rows.Scan(&r.BenchID, &r.MetricID, &r.Pkg, &r.Name, &r.Unit, &r.Old.N, &oc, &ol, &oh, &r.New.N, &nc, &nl, &nh, &dp, &p, &ch, &w); err != nil {
			return nil, err
		}
		r.Old.Center, r.Old.Lo, r.Old.Hi = nf(oc), nf(ol), nf(oh)
		r.New.Center, r.New.Lo, r.New.Hi = nf(nc), nf(nl), nf(nh)
		r.DeltaPct, r.P, r.Worse = nf(dp), nf(p), nf(w)
		r.Change = compare.Change(ch)
		r.Significant = r.P < compare.DefaultAlpha
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortDeltas(out)
	return out, nil
}

// Benchmark is a benchmark and the units it was measured in.
type Benchmark struct {
	ID    int64    `json:"id"`
	Pkg   string   `json:"pkg"`
	Name  string   `json:"name"`
	Units []string `json:"units"`
}

// GetBenchmark returns one benchmark.
func (s *Store) GetBenchmark(ctx context.Context, id int64) (*Benchmark, error) {
	var b Benchmark
	var units string
	err := s.queryRow(ctx, `SELECT b.id, b.pkg, b.name, coalesce(`+s.d.unitsAgg+`, '')
		FROM benchmarks b LEFT JOIN metrics m ON m.benchmark_id = b.id WHERE b.id = ? GROUP BY b.id`, id).Scan(&b.ID, &b.Pkg, &b.Name, &units)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("benchmark %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	b.Units = splitUnits(units)
	return &b, nil
}

func splitUnits(s string) []string {
	if s == "" {
		return nil
	}
	u := strings.Split(s, "\n")
	sortUnits(u)
	return u
}

// Benchmarks lists every benchmark, by package and name.
func (s *Store) Benchmarks(ctx context.Context) ([]Benchmark, error) {
	return collect(ctx, s, `SELECT b.id, b.pkg, b.name, coalesce(`+s.d.unitsAgg+`, '')
		FROM benchmarks b LEFT JOIN metrics m ON m.benchmark_id = b.id GROUP BY b.id ORDER BY b.pkg, b.name`, nil, func(rows *sql.Rows, b *Benchmark) error {
		var units string
		if err := rows.Scan(&b.ID, &b.Pkg, &b.Name, &units); err != nil {
			return err
		}
		b.Units = splitUnits(units)
		return nil
	})
}

// Point is one run's summary of one benchmark and unit.
type Point struct {
	RunID   int64     `json:"run_id"`
	Time    time.Time `json:"time"`
	Machine string    `json:"machine"`
	Branch  string    `json:"branch"`
	Commit  string    `json:"commit"`
	compare.Summary
	// Regression is the largest significant worsening (percent) that a
	// stored comparison of this run found for this benchmark; 0 if none.
	Regression float64 `json:"regression_pct,omitempty"`
	Baseline   bool    `json:"baseline,omitempty"` // this run is its machine's default baseline
}

// HistoryFilter selects the points of a history.
type HistoryFilter struct {
	BenchID int64
	Unit    string
	Machine string
	Branch  string
	Limit   int // newest runs kept; default 200
	// MinWorse is the worsening, in percent, a significant regression must
	// exceed to mark a point (Point.Regression); 0 marks every one.
	MinWorse float64
}

// HistoryResult is a benchmark's history in one unit.
type HistoryResult struct {
	// Points are the newest runs' summaries, oldest first.
	Points []Point `json:"points"`
	// Baselines are the summaries of each machine's default baseline run
	// (whether or not it is among Points), by machine.
	Baselines []Point `json:"baselines"`
}

// History returns the newest points of one benchmark in one unit, oldest
// first, and the default baselines of the machines.
func (s *Store) History(ctx context.Context, f HistoryFilter) (*HistoryResult, error) {
	pts, metricID, err := s.points(ctx, f)
	if err != nil {
		return nil, err
	}
	conds := []string{"x.metric_id = ?", "bl.name = 'default'"}
	args := []any{metricID}
	if f.Machine != "" {
		conds = append(conds, "r.machine = ?")
		args = append(args, f.Machine)
	}
	rows, err := s.query(ctx, `SELECT r.id, r.time, r.machine, r.branch, r.commit_sha, x.n, x.center, x.lo, x.hi, 1
		FROM baselines bl JOIN runs r ON r.id = bl.run_id AND r.machine = bl.machine
		JOIN results x ON x.run_id = r.id`+where(conds)+` ORDER BY r.machine`, args...)
	if err != nil {
		return nil, err
	}
	bases, err := scanPoints(rows)
	if err != nil {
		return nil, err
	}
	return &HistoryResult{Points: pts, Baselines: bases}, nil
}

func scanPoints(rows *sql.Rows) ([]Point, error) {
	return scanAll(rows, func(rows *sql.Rows, p *Point) error {
		var t int64
		var c, lo, hi sql.NullFloat64
		if err := rows.Scan(&p.RunID, &t, &p.Machine, &p.Branch, &p.Commit, &p.N, &c, &lo, &hi, &p.Baseline); err != nil {
			return err
		}
		p.Time = time.Unix(0, t).UTC()
		p.Center, p.Lo, p.Hi = nf(c), nf(lo), nf(hi)
		return nil
	})
}

func (s *Store) points(ctx context.Context, f HistoryFilter) ([]Point, int64, error) {
	if f.Limit <= 0 {
		f.Limit = 200
	}
	var metricID int64
	err := s.queryRow(ctx, `SELECT id FROM metrics WHERE benchmark_id = ? AND unit = ?`, f.BenchID, f.Unit).Scan(&metricID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("benchmark %d in unit %q: %w", f.BenchID, f.Unit, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	conds := []string{"x.metric_id = ?"}
	args := []any{metricID}
	if f.Machine != "" {
		conds = append(conds, "r.machine = ?")
		args = append(args, f.Machine)
	}
	if f.Branch != "" {
		conds = append(conds, "r.branch = ?")
		args = append(args, f.Branch)
	}
	rows, err := s.query(ctx, `SELECT r.id, r.time, r.machine, r.branch, r.commit_sha, x.n, x.center, x.lo, x.hi,
		EXISTS(SELECT 1 FROM baselines bl WHERE bl.run_id = r.id AND bl.machine = r.machine AND bl.name = 'default')
		FROM results x JOIN runs r ON r.id = x.run_id`+where(conds)+` ORDER BY r.time DESC, r.id DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, 0, err
	}
	pts, err := scanPoints(rows)
	if err != nil {
		return nil, 0, err
	}
	regs := map[int64]float64{}
	rows, err = s.query(ctx, `SELECT c.run_id, max(d.worse) FROM deltas d JOIN comparisons c ON c.id = d.comparison_id
		WHERE d.metric_id = ? AND d.change = -1 AND d.worse > ? GROUP BY c.run_id`, metricID, f.MinWorse)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var w float64
		if err := rows.Scan(&id, &w); err != nil {
			return nil, 0, err
		}
		regs[id] = w
	}
	for i := range pts {
		pts[i].Regression = regs[pts[i].RunID]
	}
	for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
		pts[i], pts[j] = pts[j], pts[i]
	}
	return pts, metricID, rows.Err()
}

// RegressionFilter selects rows of the regressions page.
type RegressionFilter struct {
	Kind    string // KindPrevious (default) or KindBaseline
	Machine string
	Branch  string
	Unit    string
	Limit   int // default 50
}

// RegressionRow is one significant worsening found by a stored comparison.
type RegressionRow struct {
	RunID   int64     `json:"run_id"`
	BaseID  int64     `json:"base_id"`
	Kind    string    `json:"kind"`
	Time    time.Time `json:"time"`
	Machine string    `json:"machine"`
	Branch  string    `json:"branch"`
	Commit  string    `json:"commit"`
	BenchID int64     `json:"bench_id"`
	compare.Key
	Old      float64 `json:"old"`
	New      float64 `json:"new"`
	DeltaPct float64 `json:"delta_pct"`
	P        float64 `json:"p"`
	Worse    float64 `json:"worse_pct"`
}

// Regressions returns the worst significant regressions across history,
// worst first.
func (s *Store) Regressions(ctx context.Context, f RegressionFilter) ([]RegressionRow, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Kind == "" {
		f.Kind = KindPrevious
	}
	conds := []string{"d.change = -1", "c.kind = ?"}
	args := []any{f.Kind}
	if f.Machine != "" {
		conds = append(conds, "r.machine = ?")
		args = append(args, f.Machine)
	}
	if f.Branch != "" {
		conds = append(conds, "r.branch = ?")
		args = append(args, f.Branch)
	}
	if f.Unit != "" {
		conds = append(conds, "m.unit = ?")
		args = append(args, f.Unit)
	}
	rows, err := s.query(ctx, `SELECT r.id, c.base_id, c.kind, r.time, r.machine, r.branch, r.commit_sha, b.id, b.pkg, b.name, m.unit,
		d.old_center, d.new_center, d.delta_pct, d.p, d.worse
		FROM deltas d`+s.d.regIndex+`
		JOIN comparisons c ON c.id = d.comparison_id
		JOIN runs r ON r.id = c.run_id
		JOIN metrics m ON m.id = d.metric_id
		JOIN benchmarks b ON b.id = m.benchmark_id`+where(conds)+` ORDER BY d.worse DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RegressionRow
	for rows.Next() {
		var r RegressionRow
		var t int64
		var o, n, dp, p, w sql.NullFloat64
		if err := rows.Scan(&r.RunID, &r.BaseID, &r.Kind, &t, &r.Machine, &r.Branch, &r.Commit, &r.BenchID, &r.Pkg, &r.Name, &r.Unit, &o, &n, &dp, &p, &w); err != nil {
			return nil, err
		}
		r.Time = time.Unix(0, t).UTC()
		r.Old, r.New, r.DeltaPct, r.P, r.Worse = nf(o), nf(n), nf(dp), nf(p), nf(w)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Distinct returns the distinct values of a run column used by filters:
// "machine" or "branch".
func (s *Store) Distinct(ctx context.Context, column string) ([]string, error) {
	var q string
	switch column {
	case "machine":
		q = `SELECT DISTINCT machine FROM runs ORDER BY machine`
	case "branch":
		q = `SELECT DISTINCT branch FROM runs ORDER BY branch`
	case "unit":
		q = `SELECT DISTINCT unit FROM metrics ORDER BY unit`
	default:
		return nil, fmt.Errorf("unknown column %q", column)
	}
	return collect(ctx, s, q, nil, func(rows *sql.Rows, v *string) error { return rows.Scan(v) })
}

// collect runs the query q and scans each row into a T; the rows are closed
// before it returns, so the caller may query again at once.
func collect[T any](ctx context.Context, s *Store, q string, args []any, scan func(*sql.Rows, *T) error) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll scans every row of rows into a T and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(*sql.Rows, *T) error) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SessionRun returns the id of the run that is side ("A" or "B") of the A/B
// session named session (the session and side labels `benchdash bench`
// writes), or 0 when there is none.
func (s *Store) SessionRun(ctx context.Context, session, side string) (int64, error) {
	// Labels are stored as JSON with sorted keys; match both pairs exactly.
	pair := func(k, v string) string {
		b, _ := json.Marshal(map[string]string{k: v})
		return "%" + likeEscape(strings.Trim(string(b), "{}")) + "%"
	}
	var id int64
	err := s.queryRow(ctx, `SELECT id FROM runs WHERE labels LIKE ? ESCAPE '\' AND labels LIKE ? ESCAPE '\' ORDER BY id DESC LIMIT 1`,
		pair("session", session), pair("side", side)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// likeEscape escapes the LIKE wildcards of s with a backslash.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
