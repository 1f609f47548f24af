package web

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// JSON cannot carry NaN or ±Inf: these shapes turn them into null.

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

type jsonSummary struct {
	N      int      `json:"n"`
	Center *float64 `json:"center"`
	Lo     *float64 `json:"lo"`
	Hi     *float64 `json:"hi"`
}

func jsonSum(s compare.Summary) jsonSummary {
	return jsonSummary{N: s.N, Center: num(s.Center), Lo: num(s.Lo), Hi: num(s.Hi)}
}

type jsonRow struct {
	BenchID     int64       `json:"bench_id"`
	Pkg         string      `json:"pkg"`
	Name        string      `json:"name"`
	Unit        string      `json:"unit"`
	Old         jsonSummary `json:"old"`
	New         jsonSummary `json:"new"`
	DeltaPct    *float64    `json:"delta_pct"`
	P           *float64    `json:"p"`
	Significant bool        `json:"significant"`
	Change      string      `json:"change"`
	Delta       string      `json:"delta"` // as shown: "~", "+12.34%", "?"
}

func jsonRows(rows []store.DeltaRow) []jsonRow {
	out := make([]jsonRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, jsonRow{BenchID: r.BenchID, Pkg: r.Pkg, Name: r.Name, Unit: r.Unit, Old: jsonSum(r.Old), New: jsonSum(r.New),
			DeltaPct: num(r.DeltaPct), P: num(r.P), Significant: r.Significant, Change: r.Change.String(), Delta: compare.FormatDelta(r.Row)})
	}
	return out
}

type jsonPoint struct {
	RunID      int64       `json:"run_id"`
	Time       time.Time   `json:"time"`
	Machine    string      `json:"machine"`
	Branch     string      `json:"branch"`
	Commit     string      `json:"commit"`
	Summary    jsonSummary `json:"summary"`
	Regression float64     `json:"regression_pct"`
	Baseline   bool        `json:"baseline"`
}

func jsonPoints(pts []store.Point) []jsonPoint {
	out := make([]jsonPoint, 0, len(pts))
	for _, p := range pts {
		out = append(out, jsonPoint{RunID: p.RunID, Time: p.Time, Machine: p.Machine, Branch: p.Branch, Commit: p.Commit,
			Summary: jsonSum(p.Summary), Regression: p.Regression, Baseline: p.Baseline})
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	d, err := s.runsData(r)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	runs := d.Runs
	if runs == nil {
		runs = []store.RunInfo{}
	}
	bases := d.Baselines
	if bases == nil {
		bases = []store.Baseline{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "total": d.Total, "baselines": bases})
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	d, err := s.runData(r)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	out := map[string]any{"run": d.Run, "rows": jsonRows(d.Rows)}
	if d.Base != nil {
		out["base"] = d.Base
		out["against"] = d.BaseLabel
		out["comparison"] = d.Info
		out["geomeans"] = d.Geomeans
		if si := d.Session; si != nil {
			out["session"] = jsonSession(si)
		}
	} else {
		out["note"] = d.NoBase
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) {
	d, err := s.benchData(r, false)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	commits := make([]map[string]any, 0, len(d.Axis.Commits))
	for _, c := range d.Axis.Commits {
		commits = append(commits, map[string]any{"commit": c.Commit, "runs": c.Runs, "in_order": c.Known})
	}
	writeJSON(w, http.StatusOK, map[string]any{"benchmark": d.Bench, "unit": d.Filter.Unit, "higher_is_better": d.HigherBetter,
		"points": jsonPoints(d.History.Points), "baselines": jsonPoints(d.History.Baselines),
		"commits": commits, "commit_order": d.Axis.Source})
}

func (s *Server) apiRegressions(w http.ResponseWriter, r *http.Request) {
	d, err := s.regressionsData(r)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	rows := d.Rows
	if rows == nil {
		rows = []store.RegressionRow{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": d.Kind, "regressions": rows})
}

func (s *Server) apiBenchmarks(w http.ResponseWriter, r *http.Request) {
	bs, err := s.st.Benchmarks(r.Context())
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	if bs == nil {
		bs = []store.Benchmark{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"benchmarks": bs})
}

func (s *Server) apiBaselines(w http.ResponseWriter, r *http.Request) {
	bs, err := s.st.Baselines(r.Context())
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	if bs == nil {
		bs = []store.Baseline{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"baselines": bs})
}

// jsonSession is an A/B session's pairing and the gate's verdict.
func jsonSession(si *sessionInfo) map[string]any {
	noisy := make([]map[string]any, 0, len(si.Verdict.Noisy))
	for _, n := range si.Verdict.Noisy {
		noisy = append(noisy, map[string]any{"pkg": n.AA.Pkg, "name": n.AA.Name, "unit": n.AA.Unit, "aa_delta_pct": num(n.AA.DeltaPct), "aa_p": num(n.AA.P), "a": jsonSum(n.A)})
	}
	regs := make([]map[string]any, 0, len(si.Verdict.Regressions))
	for _, r := range si.Verdict.Regressions {
		regs = append(regs, map[string]any{"pkg": r.Pkg, "name": r.Name, "unit": r.Unit, "delta_pct": num(r.DeltaPct), "p": num(r.P), "q": num(r.Q), "worse_pct": num(r.Worse)})
	}
	unc := make([]map[string]any, 0, len(si.Verdict.Uncorrected))
	for _, r := range si.Verdict.Uncorrected {
		unc = append(unc, map[string]any{"pkg": r.Pkg, "name": r.Name, "unit": r.Unit, "delta_pct": num(r.DeltaPct), "p": num(r.P), "q": num(r.Q), "worse_pct": num(r.Worse)})
	}
	return map[string]any{"name": si.Name, "a_run": si.A.ID, "b_run": si.B.ID, "a_commit": si.A.Commit, "b_commit": si.B.Commit,
		"rounds": si.Rounds, "benchtime": si.Benchtime, "dirty": si.Dirty, "pass": si.Pass(), "threshold": si.Verdict.Threshold,
		"gated": si.Verdict.Gated, "aa_checked": si.Verdict.AAChecked, "family": si.Verdict.Family, "too_noisy": noisy, "regressions": regs, "not_failing_once_corrected": unc}
}
