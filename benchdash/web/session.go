package web

import (
	"context"
	"math"
	"strconv"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// sessionInfo describes an interleaved A/B session (`benchdash bench`)
// whose two sides a comparison page shows: which run is the baseline
// commit (A) and which the working tree (B), how they were paired, and the
// gate's verdict as the command gave it.
type sessionInfo struct {
	Name      string
	A, B      *store.RunInfo
	Rounds    string // the session's -count: rounds, each running A and B once
	Benchtime string
	Dirty     bool // B measured uncommitted changes
	// Paired is true for a session run benchmark by benchmark and judged
	// on its pairs (compare.PairingBenchmark).
	Paired bool
	// SamplesA and SamplesB are the most samples a benchmark has on each
	// side (every benchmark has one a round, unless it failed a round).
	SamplesA, SamplesB int
	Verdict            compare.Verdict
	Worst              float64 // the worst failing regression, in percent
	// fail holds the failing rows, uncorrected the rows that would have
	// failed without the correction for the family of comparisons.
	fail, uncorrected map[compare.Key]*compare.Row
	noisy             map[compare.Key]*compare.Noisy
}

// Pass reports whether the session passed the gate.
func (si *sessionInfo) Pass() bool { return len(si.Verdict.Regressions) == 0 }

// sessionThreshold is the threshold a session's B run was gated at (its
// threshold: line), else compare.DefaultThreshold.
func sessionThreshold(b *store.RunInfo) float64 {
	if t, err := strconv.ParseFloat(b.Labels["threshold"], 64); err == nil && t > 0 {
		return t
	}
	return compare.DefaultThreshold
}

// judgeSession gates run b (side B) against aID (side A of its session)
// exactly as `benchdash bench` did (compare.JudgeSession, paired when the
// session was run benchmark by benchmark) at the session's threshold.
func (s *Server) judgeSession(ctx context.Context, aID int64, b *store.RunInfo) (compare.Verdict, compare.Result, error) {
	return judgeSession(ctx, s.st, aID, b, 0)
}

// judgeSession is Server.judgeSession on st, at thresholdPct when it is
// positive (else the session's).
func judgeSession(ctx context.Context, st *store.Store, aID int64, b *store.RunInfo, thresholdPct float64) (compare.Verdict, compare.Result, error) {
	a, err := st.Samples(ctx, aID)
	if err != nil {
		return compare.Verdict{}, compare.Result{}, err
	}
	bs, err := st.Samples(ctx, b.ID)
	if err != nil {
		return compare.Verdict{}, compare.Result{}, err
	}
	if thresholdPct <= 0 {
		thresholdPct = sessionThreshold(b)
	}
	v, res := compare.JudgeSession(a, bs, thresholdPct, sessionPerRun(b))
	return v, res, nil
}

// sessionPerRun is compare.JudgeSession's perRun for a session's B run: 0
// for a session recorded before pairing, else its samples: line (1 when
// the line is missing or bad).
func sessionPerRun(b *store.RunInfo) int {
	if b.Labels["pairing"] != compare.PairingBenchmark {
		return 0
	}
	if n, err := strconv.Atoi(b.Labels["samples"]); err == nil && n > 0 {
		return n
	}
	return 1
}

// isSession reports whether a and b are sides A and B of one A/B session.
func isSession(a, b *store.RunInfo) bool {
	sa, sb := a.Labels["session"], b.Labels["session"]
	return sa != "" && sa == sb && a.Labels["side"] == "A" && b.Labels["side"] == "B"
}

// session returns the A/B session info of base (A) and run (B), judged.
func (s *Server) session(ctx context.Context, base, run *store.RunInfo) (*sessionInfo, error) {
	v, res, err := s.judgeSession(ctx, base.ID, run)
	if err != nil {
		return nil, err
	}
	si := &sessionInfo{Name: run.Labels["session"], A: base, B: run, Rounds: run.Labels["count"], Benchtime: run.Labels["benchtime"],
		Dirty: run.Labels["dirty"] == "true", Paired: run.Labels["pairing"] == compare.PairingBenchmark, Verdict: v,
		fail: map[compare.Key]*compare.Row{}, uncorrected: map[compare.Key]*compare.Row{}, noisy: map[compare.Key]*compare.Noisy{}}
	for _, r := range res.Rows {
		si.SamplesA, si.SamplesB = max(si.SamplesA, r.Old.N), max(si.SamplesB, r.New.N)
	}
	for i, r := range v.Regressions {
		si.fail[r.Key] = &v.Regressions[i]
		si.Worst = max(si.Worst, math.Abs(r.DeltaPct))
	}
	for i, r := range v.Uncorrected {
		si.uncorrected[r.Key] = &v.Uncorrected[i]
	}
	for i := range v.Noisy {
		si.noisy[v.Noisy[i].AA.Key] = &v.Noisy[i]
	}
	return si, nil
}
