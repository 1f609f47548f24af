package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

func cmdBench(e *env, args []string) int {
	fs := e.flags("bench")
	db := fs.String("db", DefaultDB, "database file (machine-local)")
	runs := fs.String("runs", DefaultRuns, "directory for this machine's results files (machine-local)")
	results := fs.String("results", DefaultResults, "committed results directory (its baselines.json names saved baselines)")
	count := fs.Int("count", 8, "rounds: each runs every benchmark leaf -samples times a side in ABBA order (rounds × -samples at least 8 for the A/A check)")
	samples := fs.Int("samples", 2, "values per benchmark leaf, side and round, each measured by a run of its own in ABBA order; value i of A and of B form a pair")
	benchtime := fs.String("benchtime", "50ms", "go test -benchtime")
	bench := fs.String("bench", ".", "go test -bench regular expression (DIR=RE overrides it for one directory)")
	threshold := fs.Float64("threshold", DefaultThreshold, "fail on significant regressions worse than this many percent")
	machine := fs.String("machine", "", "machine label (default: hostname and CPU model)")
	baseline := fs.String("baseline", "", "baseline commit (default: this machine's saved baseline's commit, else HEAD)")
	args, err := parse(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(args) == 0 {
		e.errorf("bench: no module directories given")
		return ExitUsage
	}
	if *count < 1 || *samples < 1 {
		e.errorf("bench: -count and -samples must be at least 1")
		return ExitUsage
	}
	if n := *count * *samples; n < 2*compare.MinHalf {
		fmt.Fprintf(e.stderr, "benchdash: warning: %d values a side is below %d: no A/A check, and below 6 the confidence intervals are infinite\n", n, 2*compare.MinHalf)
	}
	if *machine == "" {
		*machine = store.DefaultMachine("")
	}
	start := time.Now()
	cwd, _ := os.Getwd()
	root, err := git(cwd, "rev-parse", "--show-toplevel")
	if err != nil {
		e.errorf("bench: not in a git work tree: %v", err)
		return ExitFailure
	}
	var targets []target
	for _, a := range args {
		t := parseTarget(a, *bench)
		abs, _ := filepath.Abs(t.dir)
		rel, err := filepath.Rel(root, abs)
		if err != nil || strings.HasPrefix(rel, "..") {
			e.errorf("bench: %s is outside the repository %s", t.dir, root)
			return ExitUsage
		}
		t.dir = filepath.ToSlash(rel)
		targets = append(targets, t)
	}
	st, code := e.open(*db)
	if st == nil {
		return code
	}
	defer st.Close()

	head, _ := git(root, "rev-parse", "HEAD")
	branch, _ := git(root, "rev-parse", "--abbrev-ref", "HEAD")
	status, _ := git(root, "status", "--porcelain")
	dirty := status != ""
	baseSpec, why := *baseline, "-baseline"
	if baseSpec == "" {
		baseSpec, why = e.savedBaselineCommit(st, *machine, *results), "this machine's saved baseline"
		if baseSpec == "" {
			baseSpec, why = "HEAD", "no saved baseline: HEAD"
		}
	}
	baseCommit, err := git(root, "rev-parse", "--verify", baseSpec+"^{commit}")
	if err != nil {
		e.errorf("bench: baseline %q: %v", baseSpec, err)
		return ExitFailure
	}

	tmp, err := os.MkdirTemp("", "benchdash-bin-")
	if err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	defer os.RemoveAll(tmp)
	b := &tree{name: "B", root: root, commit: head, cache: filepath.Join(tmp, "cache-B")}
	fmt.Fprintf(e.stderr, "[%s] building the working tree's benchmarks\n", since(start))
	if err := e.build(b, targets, tmp, false); err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	if len(b.pkgs) == 0 {
		e.errorf("bench: no benchmark matched in %s", strings.Join(args, " "))
		return ExitFailure
	}
	sides := []*tree{b}
	if baseCommit != head || dirty {
		a := &tree{name: "A", commit: baseCommit, cache: filepath.Join(tmp, "cache-A")}
		var binDir string
		a.root, binDir, err = baselineTree(root, baseCommit)
		if err == nil {
			fmt.Fprintf(e.stderr, "[%s] building the baseline's benchmarks (%s, %s) in %s\n", since(start), short(baseCommit), why, a.root)
			err = e.build(a, targets, binDir, true)
		}
		if err != nil {
			e.errorf("bench: baseline: %v", err)
			return ExitFailure
		}
		sides = []*tree{a, b}
	}

	session := start.UTC().Format("20060102T150405Z")
	outs := map[*tree]*strings.Builder{}
	for _, s := range sides {
		var w strings.Builder
		c := s.commit
		fmt.Fprintf(&w, "commit: %s\nbranch: %s\nmachine: %s\ndate: %s\n", c, branch, oneLine(*machine), start.UTC().Format(time.RFC3339))
		if s == b && dirty {
			w.WriteString("dirty: true\n")
		}
		fmt.Fprintf(&w, "session: %s\nside: %s\nbaseline: %s\nbenchtime: %s\ncount: %d\nsamples: %d\npairing: %s\nthreshold: %g\n",
			session, s.name, baseCommit, oneLine(*benchtime), *count, *samples, compare.PairingBenchmark, *threshold)
		outs[s] = &w
	}
	// Find every benchmark's leaves (sub-benchmarks), one iteration each:
	// a round runs them one at a time.
	for _, s := range sides {
		for i := range s.pkgs {
			p := &s.pkgs[i]
			fmt.Fprintf(e.stderr, "[%s] side %s (%s): listing the benchmarks of %s (one iteration each)\n", since(start), s.name, short(s.commit), p.importPath)
			for _, n := range p.names {
				ls, err := e.listLeaves(s, *p, benchPattern(p.bench, n))
				if err != nil {
					e.errorf("bench: side %s, %s: %v", s.name, p.importPath, err)
					return ExitFailure
				}
				p.leaves = append(p.leaves, ls...)
			}
		}
	}
	var roundTime time.Duration
	for i := 0; i < *count; i++ {
		t0 := time.Now()
		steps := roundSteps(i, sides, *samples)
		for k, st := range steps {
			s, p := st.side, st.pkg
			if st.first {
				est := ""
				if roundTime > 0 {
					est = fmt.Sprintf(", about %s to go", (roundTime*time.Duration(*count-i) - time.Since(t0)).Round(time.Second))
				}
				var seq []string
				for _, o := range steps[k:] {
					if o.pkg.importPath != p.importPath || o.leaf != st.leaf {
						break
					}
					seq = append(seq, o.side.name)
				}
				fmt.Fprintf(e.stderr, "[%s] round %d of %d, sides %s: %s %s%s\n", since(start), i+1, *count, strings.Join(seq, " "), p.importPath, st.leaf, est)
			}
			if err := e.runBinary(s, p, leafPattern(st.leaf), *benchtime, 1, outs[s]); err != nil {
				e.errorf("bench: round %d, side %s, %s %s: %v", i+1, s.name, p.importPath, st.leaf, err)
				return ExitFailure
			}
		}
		roundTime = time.Since(t0)
	}

	var stored []*store.Run
	for _, s := range sides {
		data := []byte(outs[s].String())
		path, err := writeResults(*runs, start, s.commit, s.name, data)
		if err == nil {
			var run *store.Run
			if run, err = store.ParseBytes(data, filepath.Base(path), store.Overrides{}); err == nil {
				var res *store.IngestResult
				if res, err = st.Ingest(e.ctx, run); err == nil {
					run.ID = res.RunID
					stored = append(stored, run)
					fmt.Fprintf(e.stderr, "[%s] side %s: %s, run %d in %s\n", since(start), s.name, path, res.RunID, st.Path())
				}
			}
		}
		if err != nil {
			e.errorf("bench: side %s: %v", s.name, err)
			return ExitFailure
		}
	}
	if len(sides) == 1 {
		e.printf("the working tree is the baseline (%s, %s, clean): nothing to compare; recorded as run %d\n", short(head), why, stored[0].ID)
		return ExitOK
	}
	aRun, bRun := stored[0], stored[1]
	e.printf("machine: %s\n", *machine)
	e.printf("A:       baseline %s (%s), run %d\n", short(baseCommit), why, aRun.ID)
	e.printf("B:       working tree at %s%s, run %d\n", short(head), map[bool]string{true: " with changes"}[dirty], bRun.ID)
	e.printf("paired:  %d rounds, leaf by leaf (each sub-benchmark on its own), %d values a side and round in ABBA order (A first in odd rounds), one value a process, -benchtime %s;\n", *count, *samples, *benchtime)
	e.printf("         value i of A against value i of B, measured one after the other (signed-rank test on the ratios, delta = their median)\n")
	if *samples >= 2 {
		e.printf("A/A:     A's first against A's second value of each round, in pairs\n\n")
	} else {
		e.printf("A/A:     the first against the second half of A's values, unpaired (one value a round: nothing to pair them with)\n\n")
	}
	v, res := compare.JudgeSession(aRun.Samples, bRun.Samples, *threshold, *samples)
	if err := compare.WriteTable(e.stdout, res, "A "+short(baseCommit), "B"); err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	if len(e.report(v)) > 0 {
		return ExitFailure
	}
	return ExitOK
}

// step is one run of one benchmark leaf (a benchmark without
// sub-benchmarks, or one sub-benchmark) on one side, for one value.
type step struct {
	side  *tree
	pkg   benchPkg
	leaf  string // its full name without the -GOMAXPROCS suffix
	first bool   // the leaf's first run in the round (for the progress line)
}

// roundSteps returns round i's runs (i from 0): leaf by leaf, a package's
// leaves together, packages in first-seen order; for each leaf, perSide
// runs of one value on each side in the order X Y Y X X Y … (ABBA), X
// being A in even rounds and B in odd ones. Value j of a leaf on A and
// value j on B in a round are then measured one after the other, a
// tenth of a second apart, each in a process of its own. This machine's
// speed changes between modes (an unchanged frame benchmark read 100 ns in
// one run and 145 ns in the next) and other work comes and goes on its two
// cores: a pair measured that close shares what the machine did, and the
// paired test cancels it. Run package by package, a pair was seconds
// apart and a 15% slowdown went unseen; run benchmark by benchmark with 2
// values in one process, a burst of other work hit both values of a side
// together and failed unchanged benchmarks by 20%. ABBA also cancels a
// drift within the round, and the alternation of X between rounds whatever
// advantage the first run of a pair has. Leaves one side lacks run on the
// other alone, in their place.
func roundSteps(i int, sides []*tree, perSide int) []step {
	type leaf struct{ ip, name string }
	var leaves []leaf
	seen := map[leaf]bool{}
	var pkgOrder []string
	pkgSeen := map[string]bool{}
	for _, s := range sides {
		for _, p := range s.pkgs {
			for _, n := range p.leaves {
				if k := (leaf{p.importPath, n}); !seen[k] {
					seen[k] = true
					leaves = append(leaves, k)
				}
			}
			if !pkgSeen[p.importPath] && len(p.leaves) > 0 {
				pkgSeen[p.importPath] = true
				pkgOrder = append(pkgOrder, p.importPath)
			}
		}
	}
	order := sides
	if len(sides) == 2 && i%2 == 1 {
		order = []*tree{sides[1], sides[0]}
	}
	var steps []step
	for _, ip := range pkgOrder {
		for _, l := range leaves {
			if l.ip != ip {
				continue
			}
			first := true
			for j := 0; j < perSide; j++ {
				o := order
				if j%2 == 1 && len(order) == 2 {
					o = []*tree{order[1], order[0]}
				}
				for _, s := range o {
					for _, p := range s.pkgs {
						if p.importPath == ip && slices.Contains(p.leaves, l.name) {
							steps = append(steps, step{side: s, pkg: p, leaf: l.name, first: first})
							first = false
						}
					}
				}
			}
		}
	}
	return steps
}

// leafPattern is the -test.bench expression that selects exactly the leaf
// named name ("BenchmarkFrame/size=64B"): every level anchored.
func leafPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// listLeaves runs the benchmarks of p that pattern selects for one
// iteration each (-test.benchtime=1x) and returns the names of the leaves
// that reported a result, in order, without the -GOMAXPROCS suffix the
// testing package adds.
func (e *env) listLeaves(s *tree, p benchPkg, pattern string) ([]string, error) {
	var out strings.Builder
	if err := e.runBinary(s, p, pattern, "1x", 1, &out); err != nil {
		return nil, err
	}
	suffix := ""
	if n := runtime.GOMAXPROCS(0); n > 1 {
		suffix = fmt.Sprintf("-%d", n)
	}
	var names []string
	seen := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n := strings.TrimSuffix(f[0], suffix)
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names, nil
}

// report prints the verdict and returns the regressions that fail it.
func (e *env) report(v compare.Verdict) []compare.Row {
	e.printf("\ngated %d benchmark×unit, %d too noisy here", v.Gated, len(v.Noisy))
	if !v.AAChecked {
		e.printf(" (no A/A check: fewer than %d baseline samples a half)", compare.MinHalf)
	}
	e.printf("; threshold %g%%; significance corrected for %d comparisons (Benjamini-Hochberg)\n", v.Threshold, v.Family)
	for _, n := range v.Noisy {
		e.printf("  too noisy here: %s %s: A/A halves differ by %+.2f%% (p=%.3f; A %s, n=%d): not gated\n",
			n.AA.Name, n.AA.Unit, n.AA.DeltaPct, n.AA.P, compare.FormatSummary(n.A, n.AA.Unit), n.A.N)
	}
	for _, r := range v.Uncorrected {
		e.printf("  not failing: %s %s: %+.2f%% (p=%.3f, but q=%.3f over %d comparisons): not significant once corrected\n",
			r.Name, r.Unit, r.DeltaPct, r.P, r.Q, v.Family)
	}
	if len(v.Regressions) == 0 {
		e.printf("no significant regression beyond %g%%\n", v.Threshold)
		return nil
	}
	e.printf("%d significant regressions beyond %g%%:\n", len(v.Regressions), v.Threshold)
	for _, r := range v.Regressions {
		e.printf("  %s %s: %+.2f%% (p=%.4f, q=%.4f, interval gap %+.1f%%) FAIL\n", r.Name, r.Unit, r.DeltaPct, r.P, r.Q, r.Gap)
	}
	return v.Regressions
}

// savedBaselineCommit returns the commit of machine's default baseline: the
// database's, else the one baselines.json in the committed results
// directory names; "" when there is none.
func (e *env) savedBaselineCommit(st *store.Store, machine, results string) string {
	if id, err := st.GetBaseline(e.ctx, machine, store.DefaultBaseline); err == nil {
		if r, err := st.GetRun(e.ctx, id); err == nil {
			return r.Commit
		}
	}
	recs, _ := readBaselines(results)
	for _, r := range recs {
		if r.Machine == machine && r.Name == store.DefaultBaseline && r.Commit != "" {
			return r.Commit
		}
	}
	return ""
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// writeResults writes data to dir as <date>-<commit>-<side>.txt, never
// overwriting an existing file.
func writeResults(dir string, t time.Time, commit, side string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := t.UTC().Format("2006-01-02T150405Z") + "-" + short(commit) + "-" + side
	for i := 1; ; i++ {
		name := base + ".txt"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.txt", base, i)
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return path, err
	}
}

// runBinary runs the benchmarks of p that pattern selects, count times each,
// in its package directory of s (as go test does: integration's harness
// builds ringwired from there) and appends the configuration and result
// lines to out.
func (e *env) runBinary(s *tree, p benchPkg, pattern, benchtime string, count int, out *strings.Builder) error {
	cmd := exec.CommandContext(e.ctx, p.bin, "-test.run=^$", "-test.bench="+pattern, "-test.benchmem", fmt.Sprintf("-test.count=%d", count), "-test.benchtime="+benchtime)
	cmd.Dir = filepath.Join(s.root, p.rel)
	// A session starts each test binary once per benchmark and round:
	// RINGWIRE_TEST_BINDIR names a directory, one per side and session, in
	// which a test's own set-up may keep what it builds between starts
	// (integration's harness keeps its ringwired there).
	cmd.Env = append(os.Environ(), "RINGWIRE_TEST_BINDIR="+s.cache)
	lw := &lockedWriter{w: e.stderr}
	cmd.Stderr = lw
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	fmt.Fprintf(out, "pkg: %s\n", p.importPath)
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Benchmark") && len(strings.Fields(line)) > 2,
			strings.HasPrefix(line, "goos: "), strings.HasPrefix(line, "goarch: "), strings.HasPrefix(line, "cpu: "), strings.HasPrefix(line, "pkg: "):
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "Benchmark"), line == "PASS":
		default:
			fmt.Fprintln(lw, line)
		}
	}
	scanErr := sc.Err()
	if scanErr != nil {
		io.Copy(io.Discard, pipe)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s failed: %w", filepath.Base(p.bin), err)
	}
	return scanErr
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
