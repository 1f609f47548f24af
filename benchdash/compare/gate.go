package compare

import (
	"cmp"
	"math"
	"slices"
)

// MinHalf is the fewest samples a half of an A/A check needs: with 3 and 3
// the Mann-Whitney U-test can never reach p < 0.05, so the check could never
// flag anything.
const MinHalf = 4

// Halves splits every sample's values, which are in measurement order, into
// the first half and the second half (the middle value of an odd count goes
// to neither). Comparing the two halves of the baseline is an A/A check: the
// code is the same, so a significant difference is the machine drifting.
func Halves(samples []Sample) (first, second []Sample) {
	for _, s := range samples {
		h := len(s.Values) / 2
		first = append(first, Sample{Key: s.Key, Values: slices.Clone(s.Values[:h])})
		second = append(second, Sample{Key: s.Key, Values: slices.Clone(s.Values[len(s.Values)-h:])})
	}
	return first, second
}

// DefaultThreshold is the gate's default threshold, in percent: a
// significant regression whose median is more than this much worse fails
// an A/B session (README, "Set-up", says why 10).
const DefaultThreshold = 10.0

// Verdict is the gate's decision on an A/B comparison.
type Verdict struct {
	Threshold float64
	// Gated counts the rows measured on both sides whose A/A check passed
	// (or every row on both sides when there was no A/A check).
	Gated int
	// Noisy are the benchmarks too noisy here to gate: a significant
	// change beyond the threshold between two halves of unchanged code.
	Noisy []Noisy
	// AAChecked is false when A had fewer than 2×MinHalf samples, so no
	// benchmark could be found too noisy.
	AAChecked bool
	// Family is how many gated rows the significance was corrected for:
	// the gated rows with a p-value, less the Tied ones (no test can
	// reject those).
	Family int
	// Regressions are the gated regressions worse than the threshold whose
	// p-value stays below the significance level after the correction for
	// the Family (Benjamini-Hochberg; Row.Q). They all fail the gate: A
	// and B were measured in one session, alternately, so the machine's
	// drift between sessions, which Result.Failures guards unpaired runs
	// against with its interval gap, hits both sides alike, and the A/A
	// check has set aside the benchmarks that drift within the session.
	Regressions []Row
	// Uncorrected are the gated rows that would have failed without the
	// correction: significant at the uncorrected level and worse than the
	// threshold, but not after correcting for the Family. They do not
	// fail; they are printed so a borderline change is not hidden.
	Uncorrected []Row
}

// Noisy is a benchmark too noisy to gate: its A/A row (the first half of
// A's samples against the second half) and the summary of all A's samples.
type Noisy struct {
	AA Row
	A  Summary
}

// adjust sets Q on every row that has a p-value and is not Tied to its
// Benjamini-Hochberg adjusted p-value over those rows, and returns how many
// there are. One session gates a few hundred rows; at 5% each, an unchanged
// tree would show several "significant" rows by chance on every run, and
// with the noisy cross-process latencies of a shared machine some of them
// also differ by more than the threshold — the gate failed unchanged code
// about one session in five here. Adjusting over the family keeps the
// chance that an unchanged session fails at about alpha (when nothing
// changed, the false discovery rate Benjamini-Hochberg controls is the
// chance of any false failure), and it still lets a real slowdown through
// only when its samples overlap: with 8 rounds, a row whose 8 B samples are
// all worse than the 8 A samples has p = 0.00016.
func adjust(rows []Row) int {
	var idx []int
	for i := range rows {
		rows[i].Q = math.NaN()
		if !math.IsNaN(rows[i].P) && !rows[i].Tied {
			idx = append(idx, i)
		}
	}
	m := len(idx)
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rows[a].P, rows[b].P) })
	// q(k) = min over j >= k of p(j)·m/j, capped at 1.
	q := 1.0
	for k := m; k >= 1; k-- {
		r := &rows[idx[k-1]]
		q = min(q, r.P*float64(m)/float64(k))
		r.Q = q
	}
	return m
}

// Judge gates res, the comparison of A (the baseline) with B, at
// thresholdPct, excusing the benchmarks whose A/A check aa (Compare of the
// Halves of A's samples) shows a significant change beyond the threshold,
// and failing a gated regression beyond the threshold only when it stays
// significant after the correction for the Family (see adjust).
func Judge(res, aa Result, thresholdPct float64) Verdict {
	v := Verdict{Threshold: thresholdPct}
	noisy := map[Key]Row{}
	for _, r := range aa.Rows {
		if r.Old.N < MinHalf || r.New.N < MinHalf {
			continue
		}
		v.AAChecked = true
		if r.Significant && math.Abs(r.DeltaPct) > thresholdPct {
			noisy[r.Key] = r
		}
	}
	gated := Result{Alpha: res.Alpha}
	for _, r := range res.Rows {
		if aaRow, ok := noisy[r.Key]; ok {
			v.Noisy = append(v.Noisy, Noisy{AA: aaRow, A: r.Old})
			continue
		}
		if r.Old.N == 0 || r.New.N == 0 {
			continue
		}
		v.Gated++
		gated.Rows = append(gated.Rows, r)
	}
	alpha := res.Alpha
	if alpha <= 0 {
		alpha = DefaultAlpha
	}
	v.Family = adjust(gated.Rows)
	for _, r := range gated.Regressions(thresholdPct) {
		if r.Q < alpha {
			v.Regressions = append(v.Regressions, r)
		} else {
			v.Uncorrected = append(v.Uncorrected, r)
		}
	}
	slices.SortStableFunc(v.Noisy, func(a, b Noisy) int { return cmp.Compare(math.Abs(b.AA.DeltaPct), math.Abs(a.AA.DeltaPct)) })
	return v
}

// PairingBenchmark is the value of the "pairing:" line `benchdash bench`
// writes in both runs of a session it ran in pairs (leaf by leaf): value i
// of a benchmark on side A was measured next to value i on side B, so the
// session is judged on its pairs (JudgeSession, perRun from its "samples:"
// line). Sessions
// recorded before it (package by package, no such line) are judged
// unpaired, as they were then.
const PairingBenchmark = "benchmark"

// RunHalves splits every sample's values, measured in groups of perRun
// consecutive values (one round of `benchdash bench`: perRun values of a
// benchmark on each side, in ABBA order), into the first half of each group
// and the second half of each group (the middle value of an odd perRun goes
// to neither), in order, so that value i of first and value i of second
// were measured in the same round, a few tenths of a second apart.
// Compared in pairs, they are the A/A check of a paired session: the gate
// trusts values measured close together to agree when the code is the
// same, and this asks whether they do. perRun < 2 leaves nothing to split:
// both halves are empty.
func RunHalves(samples []Sample, perRun int) (first, second []Sample) {
	if perRun < 2 {
		return nil, nil
	}
	h := perRun / 2
	for _, s := range samples {
		f, g := Sample{Key: s.Key}, Sample{Key: s.Key}
		for i := 0; i+perRun <= len(s.Values); i += perRun {
			f.Values = append(f.Values, s.Values[i:i+h]...)
			g.Values = append(g.Values, s.Values[i+perRun-h:i+perRun]...)
		}
		first, second = append(first, f), append(second, g)
	}
	return first, second
}

// JudgeSession compares side A's samples a with side B's b and gates B at
// thresholdPct. perRun says how the session was measured: 0 for a session
// recorded before pairing (package by package: an unpaired comparison, and
// the A/A check on the Halves of A, as `benchdash bench` judged it then);
// otherwise leaf by leaf with perRun values a side and round, so value i
// of A and value i of B form a pair (Options.Paired), and the A/A check
// compares, in pairs, the first and second halves of A's values of each
// round (RunHalves) — or, with one value a round, the Halves of A,
// unpaired.
// `benchdash bench` and the dashboard's session pages both call it, so
// they give one verdict.
func JudgeSession(a, b []Sample, thresholdPct float64, perRun int) (Verdict, Result) {
	res := Compare(a, b, Options{Paired: perRun > 0})
	var aa Result
	if perRun >= 2 {
		first, second := RunHalves(a, perRun)
		aa = Compare(first, second, Options{Paired: true})
	} else {
		first, second := Halves(a)
		aa = Compare(first, second, Options{})
	}
	return Judge(res, aa, thresholdPct), res
}
