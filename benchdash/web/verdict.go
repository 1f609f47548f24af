package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// Verdict is the gate's result for a run against a base run, as CI asks
// for it (GET /api/verdict, benchdash verdict): pass or fail, the
// threshold, how many benchmark×unit were gated, which regressed and
// which were too noisy to gate. It is the verdict the rest of benchdash
// gives for the same pair:
//
//   - Basis "session": the run is side B of an A/B session and the base its
//     side A. Judged as `benchdash bench` and the session pages judge it
//     (compare.JudgeSession, paired when the session was run benchmark by
//     benchmark, the A/A check, Benjamini-Hochberg over the gated rows) at
//     the session's threshold.
//   - Basis "compare": any other pair (the machine's baseline, a run
//     named). Judged as `benchdash compare` judges two runs measured at
//     different times (compare.Compare, the comparison the store keeps for
//     the run pages, and Result.Failures): a regression fails when it is
//     significant and the two runs' confidence intervals lie more than the
//     threshold apart. There is no A/A check and no correction (Family 0).
type Verdict struct {
	Run     VerdictRun `json:"run"`
	Against VerdictRun `json:"against"`
	// AgainstLabel says what the base is: "side A of its A/B session",
	// "the baseline of <machine>", "run #N".
	AgainstLabel string  `json:"against_label"`
	Basis        string  `json:"basis"` // "session" or "compare"
	Paired       bool    `json:"paired"`
	Pass         bool    `json:"pass"`
	Threshold    float64 `json:"threshold_pct"`
	// Gated counts the benchmark×unit measured on both sides that the gate
	// judged (less the too-noisy ones).
	Gated int `json:"gated"`
	// Family is how many comparisons the significance was corrected for
	// (0: not corrected, Basis "compare").
	Family    int  `json:"family"`
	AAChecked bool `json:"aa_checked"`
	// Regressions fail the gate, worst first.
	Regressions []VerdictRow `json:"regressions"`
	// NotFailing are significant regressions beyond the threshold that do
	// not fail: not significant once corrected for the Family (session), or
	// within run-to-run noise, the intervals less than the threshold apart
	// (compare). Shown so that a borderline change is not hidden.
	NotFailing []VerdictRow `json:"not_failing"`
	// TooNoisy are the benchmarks the A/A check found too noisy here to
	// gate (session only).
	TooNoisy []VerdictNoisy `json:"too_noisy"`
	// Summary is the gate's line as `benchdash bench` prints it.
	Summary string `json:"summary"`
	// Page is the dashboard page of this comparison (a path).
	Page string `json:"page"`
}

// VerdictRun names a run of a Verdict.
type VerdictRun struct {
	ID      int64     `json:"id"`
	Commit  string    `json:"commit"`
	Branch  string    `json:"branch"`
	Machine string    `json:"machine"`
	Time    time.Time `json:"time"`
	Side    string    `json:"side,omitempty"` // A or B in an A/B session
}

// VerdictRow is a regression of a Verdict. Q is null outside a session;
// GapPct (how far apart the confidence intervals lie, in the unit's
// direction) is what fails a Basis "compare" row.
type VerdictRow struct {
	Pkg      string      `json:"pkg"`
	Name     string      `json:"name"`
	Unit     string      `json:"unit"`
	Old      jsonSummary `json:"old"`
	New      jsonSummary `json:"new"`
	DeltaPct *float64    `json:"delta_pct"`
	P        *float64    `json:"p"`
	Q        *float64    `json:"q"`
	WorsePct *float64    `json:"worse_pct"`
	GapPct   *float64    `json:"interval_gap_pct"`
	row      compare.Row
}

// VerdictNoisy is a benchmark too noisy here to gate: how much the two
// halves of side A differ, and side A's summary.
type VerdictNoisy struct {
	Pkg        string      `json:"pkg"`
	Name       string      `json:"name"`
	Unit       string      `json:"unit"`
	AADeltaPct *float64    `json:"aa_delta_pct"`
	AAP        *float64    `json:"aa_p"`
	A          jsonSummary `json:"a"`
	noisy      compare.Noisy
}

// ErrNoBase is returned by JudgeRun when the run has nothing to be
// judged against: it is not side B of a stored session, its machine has
// no baseline (or it is that baseline), and no base was named.
var ErrNoBase = errors.New("nothing to judge against")

// JudgeRun returns the gate's verdict on run runID against run against,
// or, when against is 0, against its A/B session's side A if it is a
// session's side B, else its machine's default baseline. thresholdPct <= 0
// means the session's threshold (its threshold: line) for a session, else
// compare.DefaultThreshold.
func JudgeRun(ctx context.Context, st *store.Store, runID, against int64, thresholdPct float64) (*Verdict, error) {
	run, err := st.GetRun(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", runID, err)
	}
	label := ""
	if against == 0 {
		if session := run.Labels["session"]; session != "" && run.Labels["side"] == "B" {
			if against, err = st.SessionRun(ctx, session, "A"); err != nil {
				return nil, err
			}
		}
		if against == 0 {
			against, err = st.GetBaseline(ctx, run.Machine, store.DefaultBaseline)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return nil, fmt.Errorf("run %d: %w: it is not side B of a stored A/B session and machine %q has no baseline (benchdash save marks one; or name a run to judge against)", runID, ErrNoBase, run.Machine)
			case err != nil:
				return nil, err
			case against == runID:
				return nil, fmt.Errorf("run %d: %w: it is the baseline of machine %q (name a run to judge against)", runID, ErrNoBase, run.Machine)
			}
			label = "the baseline of " + run.Machine
		}
	}
	if against == runID {
		return nil, fmt.Errorf("run %d: %w: a run judged against itself", runID, ErrNoBase)
	}
	base, err := st.GetRun(ctx, against)
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", against, err)
	}
	page := fmt.Sprintf("/runs/%d?against=baseline", run.ID)
	if label == "" {
		label = fmt.Sprintf("run #%d", base.ID)
		page = fmt.Sprintf("/runs/%d?against=run:%d", run.ID, base.ID)
	}
	v := &Verdict{Run: verdictRun(run), Against: verdictRun(base), AgainstLabel: label,
		Regressions: []VerdictRow{}, NotFailing: []VerdictRow{}, TooNoisy: []VerdictNoisy{}, Page: page}
	if isSession(base, run) {
		gv, _, err := judgeSession(ctx, st, base.ID, run, thresholdPct)
		if err != nil {
			return nil, err
		}
		v.Basis, v.AgainstLabel, v.Paired = "session", "side A of its A/B session", sessionPerRun(run) > 0
		v.Page = fmt.Sprintf("/runs/%d?against=session", run.ID)
		v.Threshold, v.Gated, v.Family, v.AAChecked = gv.Threshold, gv.Gated, gv.Family, gv.AAChecked
		for _, r := range gv.Regressions {
			v.Regressions = append(v.Regressions, verdictRow(r))
		}
		for _, r := range gv.Uncorrected {
			v.NotFailing = append(v.NotFailing, verdictRow(r))
		}
		for _, n := range gv.Noisy {
			v.TooNoisy = append(v.TooNoisy, VerdictNoisy{Pkg: n.AA.Pkg, Name: n.AA.Name, Unit: n.AA.Unit,
				AADeltaPct: num(n.AA.DeltaPct), AAP: num(n.AA.P), A: jsonSum(n.A), noisy: n})
		}
	} else {
		if thresholdPct <= 0 {
			thresholdPct = compare.DefaultThreshold
		}
		oldS, err := st.Samples(ctx, base.ID)
		if err != nil {
			return nil, err
		}
		newS, err := st.Samples(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		res := compare.Compare(oldS, newS, compare.Options{})
		v.Basis, v.Threshold = "compare", thresholdPct
		for _, r := range res.Rows {
			if r.Old.N > 0 && r.New.N > 0 {
				v.Gated++
			}
		}
		failing := map[compare.Key]bool{}
		for _, r := range res.Failures(thresholdPct) {
			failing[r.Key] = true
			v.Regressions = append(v.Regressions, verdictRow(r))
		}
		for _, r := range res.Regressions(thresholdPct) {
			if !failing[r.Key] {
				v.NotFailing = append(v.NotFailing, verdictRow(r))
			}
		}
	}
	v.Pass = len(v.Regressions) == 0
	v.Summary = v.summary()
	return v, nil
}

func verdictRun(r *store.RunInfo) VerdictRun {
	return VerdictRun{ID: r.ID, Commit: r.Commit, Branch: r.Branch, Machine: r.Machine, Time: r.Time, Side: r.Labels["side"]}
}

func verdictRow(r compare.Row) VerdictRow {
	return VerdictRow{Pkg: r.Pkg, Name: r.Name, Unit: r.Unit, Old: jsonSum(r.Old), New: jsonSum(r.New),
		DeltaPct: num(r.DeltaPct), P: num(r.P), Q: num(r.Q), WorsePct: num(r.Worse), GapPct: num(r.Gap), row: r}
}

// summary is the gate's line as `benchdash bench` (session) or `benchdash
// compare` prints it.
func (v *Verdict) summary() string {
	var b strings.Builder
	if v.Basis == "session" {
		fmt.Fprintf(&b, "gated %d benchmark×unit, %d too noisy here", v.Gated, len(v.TooNoisy))
		if !v.AAChecked {
			fmt.Fprintf(&b, " (no A/A check: fewer than %d baseline samples a half)", compare.MinHalf)
		}
		fmt.Fprintf(&b, "; threshold %g%%; significance corrected for %d comparisons (Benjamini-Hochberg)", v.Threshold, v.Family)
		return b.String()
	}
	fmt.Fprintf(&b, "gated %d benchmark×unit; threshold %g%%; a significant regression fails when the two runs' 95%% confidence intervals lie more than the threshold apart", v.Gated, v.Threshold)
	return b.String()
}

// WriteMarkdown writes v as Markdown for a pull request's job summary: a
// heading with pass or FAIL, the two runs, the gate's line, and a table
// of the failing, not-failing and too-noisy benchmarks.
func (v *Verdict) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	if v.Pass {
		fmt.Fprintf(&b, "### benchdash verdict: ✅ pass\n\n")
	} else {
		fmt.Fprintf(&b, "### benchdash verdict: ❌ FAIL — %d regression%s beyond %g%%\n\n", len(v.Regressions), plural(len(v.Regressions)), v.Threshold)
	}
	fmt.Fprintf(&b, "Run #%d (commit `%s`, machine %s) against %s, run #%d (commit `%s`).",
		v.Run.ID, mdCode(commitOrDash(v.Run.Commit)), mdText(v.Run.Machine), mdText(v.AgainstLabel), v.Against.ID, mdCode(commitOrDash(v.Against.Commit)))
	if v.Basis == "session" && v.Paired {
		b.WriteString(" Paired A/B session: each row tested on its pairs (signed-rank).")
	}
	fmt.Fprintf(&b, "\n\n%s.\n", mdText(v.Summary))
	if len(v.Regressions)+len(v.NotFailing)+len(v.TooNoisy) == 0 {
		fmt.Fprintf(&b, "\nNo significant regression beyond %g%%.\n", v.Threshold)
	} else {
		b.WriteString("\n| | benchmark | unit | before | after | delta | p | q |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range v.Regressions {
			writeMDRow(&b, "❌ fails", r)
		}
		for _, r := range v.NotFailing {
			mark := "not failing: within run-to-run noise"
			if v.Basis == "session" {
				mark = "not failing once corrected"
			}
			writeMDRow(&b, mark, r)
		}
		for _, n := range v.TooNoisy {
			fmt.Fprintf(&b, "| ≈ too noisy here, not gated | %s | %s | A %s | | A/A %s | %s | |\n", mdCell(n.Pkg+" "+n.Name), mdCell(n.Unit),
				mdCell(compare.FormatSummary(n.noisy.A, n.Unit)), fmtPct(n.noisy.AA.DeltaPct), fmtP(n.noisy.AA.P))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMDRow(b *strings.Builder, mark string, r VerdictRow) {
	fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mark, mdCell(r.Pkg+" "+r.Name), mdCell(r.Unit),
		mdCell(compare.FormatSummary(r.row.Old, r.Unit)), mdCell(compare.FormatSummary(r.row.New, r.Unit)), fmtPct(r.row.DeltaPct), fmtP(r.row.P), fmtP(r.row.Q))
}

func fmtPct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", v)
}

func fmtP(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func commitOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return shortHash(s)
}

// mdCell makes s safe in a Markdown table cell: one line, pipes escaped,
// no HTML.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// mdText makes s safe in a Markdown paragraph (it comes from a results
// file: no HTML, no line breaks).
func mdText(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mdCode(s string) string { return strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s) }

// apiVerdict answers GET /api/verdict?run=ID[&against=ID][&threshold=T]
// with JudgeRun's verdict, as JSON, or as Markdown with ?format=markdown
// or "Accept: text/markdown". The status is 200 whether the run passes or
// fails: the verdict is in the body ("pass").
func (s *Server) apiVerdict(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	md := false
	switch q.Get("format") {
	case "markdown", "md":
		md = true
	case "", "json":
		md = q.Get("format") == "" && strings.Contains(r.Header.Get("Accept"), "text/markdown")
	default:
		s.fail(w, r, badRequest("bad format %q: want json or markdown", q.Get("format")), true)
		return
	}
	runID, err := strconv.ParseInt(q.Get("run"), 10, 64)
	if err != nil || runID <= 0 {
		s.fail(w, r, badRequest("bad run %q: want a run id", q.Get("run")), !md)
		return
	}
	var against int64
	if a := strings.TrimPrefix(q.Get("against"), "run:"); a != "" {
		if against, err = strconv.ParseInt(a, 10, 64); err != nil || against <= 0 {
			s.fail(w, r, badRequest("bad against %q: want a run id", q.Get("against")), !md)
			return
		}
	}
	var threshold float64
	if t := q.Get("threshold"); t != "" {
		if threshold, err = strconv.ParseFloat(t, 64); err != nil || !(threshold > 0) || math.IsInf(threshold, 0) {
			s.fail(w, r, badRequest("bad threshold %q: want a positive percentage", t), !md)
			return
		}
	}
	v, err := JudgeRun(r.Context(), s.st, runID, against, threshold)
	if errors.Is(err, ErrNoBase) {
		err = &httpError{http.StatusUnprocessableEntity, err}
	}
	if err != nil {
		s.fail(w, r, err, !md)
		return
	}
	if md {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		v.WriteMarkdown(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
