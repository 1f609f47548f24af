// Package cli implements the benchdash command line: bench, ingest, save,
// compare, serve, rebuild, post and verdict. Run is the whole program, so
// that tests drive it in-process:
//
//	code := cli.Run(ctx, []string{"compare", "-against", "baseline"}, os.Stdout, os.Stderr)
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// Defaults of the command-line flags.
const (
	DefaultDB        = "bench/local/benchdash.db" // machine-local, not committed
	DefaultRuns      = "bench/local/runs"         // this machine's results files, not committed
	DefaultResults   = "bench/results"            // committed: saved baselines' results files and baselines.json
	DefaultThreshold = compare.DefaultThreshold
	DefaultAddr      = "127.0.0.1:8080"
)

// Exit codes of Run.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // an error, or a significant regression beyond the threshold
	ExitUsage   = 2 // bad command line
)

const usage = `usage: benchdash <command> [flags] [args]

commands:
  bench    [-db F] [-runs D] [-results D] [-count 8] [-benchtime 100ms] [-bench RE] [-threshold 10]
           [-machine L] [-baseline COMMIT] DIR[=RE]...
           build the baseline commit's benchmarks (in a git worktree) and the working tree's,
           run them alternately, A B A B..., -count rounds, record both sides, compare them
           with an A/A noise check; exit 1 on a significant regression
  ingest   [-db F] [-machine L] [-branch B] [-commit C] FILE...
           store benchmark results files (go test -bench output)
  save     [-db F] [-runs D] [-results D] [-run ID|latest] [-name default]
           mark a run as its machine's baseline and record it in the committed results
  compare  [-db F] [-run ID|latest] [-against baseline|previous|commit:SHA|run:ID] [-threshold 10]
           print a benchstat-style comparison; exit 1 on a significant regression
  serve    [-db F] [-results D] [-runs D] [-import=true] [-repo .] [-addr 127.0.0.1:8080]
           serve the dashboard, first importing the results files of -results and
           -runs the database lacks; uploads are saved in -runs
  rebuild  [-db F] [-runs D] [-results D]
           recreate the database from the results files
  migrate  -from DB -to DB
           copy every run (with its samples and labels), comparison and baseline that -to
           lacks from one database into another, e.g. the SQLite file into PostgreSQL
  post     [-url http://127.0.0.1:8080] [-token T] [-machine L] [-branch B] [-commit C] [-retries 5] FILE...
           post results files to a dashboard (retrying; a file already stored answers its run); prints the run ids
  verdict  [-db F | -url URL] [-run ID|latest] [-against ID] [-threshold T] [-format markdown|json]
           the gate's verdict on a run (its session's side A, else its baseline); exit 1 when it fails

-db (and migrate's -from, -to) takes an SQLite file, sqlite:FILE, or a PostgreSQL URL
postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...] (see README: PostgreSQL)
`

type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
}

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.stdout, format, args...) }
func (e *env) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "benchdash: "+format+"\n", args...)
}

// Run runs the benchdash command line args (without the program name) and
// returns the process exit code: ExitOK, ExitFailure or ExitUsage.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	cmds := map[string]func(*env, []string) int{
		"bench":   cmdBench,
		"ingest":  cmdIngest,
		"save":    cmdSave,
		"compare": cmdCompare,
		"serve":   cmdServe,
		"rebuild": cmdRebuild,
		"migrate": cmdMigrate, // migrate.go
		"readme":  cmdReadme,  // readme.go
		"post":    cmdPost,    // post.go
		"verdict": cmdVerdict, // verdict.go
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		e.errorf("unknown command %q", args[0])
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	return cmd(e, args[1:])
}

func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("benchdash "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parse parses flags allowing them after positional arguments too.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (e *env) open(path string) (*store.Store, int) {
	st, err := store.Open(e.ctx, path)
	if err != nil {
		e.errorf("%v", err)
		return nil, ExitFailure
	}
	return st, ExitOK
}

// openRun opens the database and resolves spec (a run id, or latest) to a
// run; on failure it has reported the error, prefixed by cmd, and returns
// nil and the exit code. The caller closes the store.
func (e *env) openRun(db, spec, cmd string) (*store.Store, int64, int) {
	st, code := e.open(db)
	if st == nil {
		return nil, 0, code
	}
	id, err := st.ResolveRun(e.ctx, spec, "")
	if err != nil {
		st.Close()
		e.errorf("%s: %v", cmd, err)
		return nil, 0, ExitFailure
	}
	return st, id, ExitOK
}

// overrideFlags registers -machine, -branch and -commit, which override
// a results file's own lines; machineElse says where the machine label
// comes from when the file has none.
func overrideFlags(fs *flag.FlagSet, o *store.Overrides, machineElse string) {
	fs.StringVar(&o.Machine, "machine", "", "machine label (default: the file's machine: line, else "+machineElse+")")
	fs.StringVar(&o.Branch, "branch", "", "branch (default: the file's branch: line)")
	fs.StringVar(&o.Commit, "commit", "", "commit (default: the file's commit: line)")
}

func cmdIngest(e *env, args []string) int {
	fs := e.flags("ingest")
	db := fs.String("db", DefaultDB, "database file")
	var o store.Overrides
	overrideFlags(fs, &o, "hostname and CPU model")
	files, err := parse(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(files) == 0 {
		e.errorf("ingest: no files given")
		return ExitUsage
	}
	st, code := e.open(*db)
	if st == nil {
		return code
	}
	defer st.Close()
	code = ExitOK
	for _, f := range files {
		if err := e.ingestFile(st, f, o); err != nil {
			e.errorf("%v", err)
			code = ExitFailure
		}
	}
	return code
}

func (e *env) ingestFile(st *store.Store, path string, o store.Overrides) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && o.Time.IsZero() {
		o.Time = fi.ModTime()
	}
	run, err := store.Parse(f, filepath.Base(path), o)
	if err != nil {
		return fmt.Errorf("%s refused, nothing stored: %w", path, err)
	}
	res, err := st.Ingest(e.ctx, run)
	if errors.Is(err, store.ErrDuplicate) {
		e.printf("%s: already ingested as run %d (same content); not stored again\n", path, res.RunID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	e.printf("%s: run %d (%d benchmark×unit, machine %q, commit %q, branch %q)\n", path, res.RunID, len(run.Samples), run.Machine, run.Commit, run.Branch)
	for _, c := range res.Comparisons {
		e.printf("  vs %s run %d: %d regressions, %d improvements\n", c.Kind, c.BaseID, c.Regressions, c.Improvements)
	}
	return nil
}

func cmdSave(e *env, args []string) int {
	fs := e.flags("save")
	db := fs.String("db", DefaultDB, "database file")
	runs := fs.String("runs", DefaultRuns, "directory of this machine's results files")
	results := fs.String("results", DefaultResults, "committed results directory: the run's file is copied there and baselines.json records it")
	runSpec := fs.String("run", "latest", "run id, or latest")
	name := fs.String("name", store.DefaultBaseline, "baseline name")
	if _, err := parse(fs, args); err != nil {
		return ExitUsage
	}
	st, id, code := e.openRun(*db, *runSpec, "save")
	if st == nil {
		return code
	}
	defer st.Close()
	run, err := st.GetRun(e.ctx, id)
	if err != nil {
		e.errorf("save: %v", err)
		return ExitFailure
	}
	if err := st.SetBaseline(e.ctx, run.Machine, *name, run.ID); err != nil {
		e.errorf("save: %v", err)
		return ExitFailure
	}
	if fi, err := os.Stat(*results); err == nil && fi.IsDir() {
		if err := recordBaseline(&run.Run, *name, *runs, *results); err != nil {
			e.errorf("save: %v", err)
			return ExitFailure
		}
		e.printf("recorded in %s (commit it to share it)\n", filepath.Join(*results, BaselinesFile))
	}
	e.printf("run %d (commit %s) is now baseline %q of machine %q\n", id, run.Commit, *name, run.Machine)
	if run.Labels["dirty"] == "true" {
		fmt.Fprintf(e.stderr, "benchdash: warning: run %d measured uncommitted changes; bench will measure commit %s as the baseline\n", id, short(run.Commit))
	}
	return ExitOK
}

func cmdCompare(e *env, args []string) int {
	fs := e.flags("compare")
	db := fs.String("db", DefaultDB, "database file")
	runSpec := fs.String("run", "latest", "run id, or latest")
	against := fs.String("against", "baseline", "baseline, previous, commit:SHA or run:ID")
	threshold := fs.Float64("threshold", DefaultThreshold, "fail on significant regressions worse than this many percent")
	if _, err := parse(fs, args); err != nil {
		return ExitUsage
	}
	st, id, code := e.openRun(*db, *runSpec, "compare")
	if st == nil {
		return code
	}
	defer st.Close()
	run, err := st.GetRun(e.ctx, id)
	if err != nil {
		e.errorf("compare: %v", err)
		return ExitFailure
	}
	baseID, label, err := resolveBase(e.ctx, st, run, *against)
	if err != nil {
		e.errorf("compare: %v", err)
		return ExitFailure
	}
	regs, err := e.compareRuns(st, baseID, run, label, *threshold)
	if err != nil {
		e.errorf("compare: %v", err)
		return ExitFailure
	}
	if regs > 0 {
		return ExitFailure
	}
	return ExitOK
}

func resolveBase(ctx context.Context, st *store.Store, run *store.RunInfo, against string) (int64, string, error) {
	switch {
	case against == "baseline" || strings.HasPrefix(against, "baseline:"):
		name := strings.TrimPrefix(strings.TrimPrefix(against, "baseline"), ":")
		id, err := st.GetBaseline(ctx, run.Machine, name)
		if err != nil {
			return 0, "", fmt.Errorf("%w (benchdash save marks one)", err)
		}
		return id, "baseline", nil
	case against == "previous":
		id, err := st.Previous(ctx, run.ID)
		return id, "previous", err
	case strings.HasPrefix(against, "commit:"):
		sha := strings.TrimPrefix(against, "commit:")
		id, err := st.RunByCommit(ctx, sha, run.Machine)
		return id, "commit " + sha, err
	case strings.HasPrefix(against, "run:"):
		id, err := st.ResolveRun(ctx, strings.TrimPrefix(against, "run:"), "")
		return id, fmt.Sprintf("run %d", id), err
	}
	return 0, "", fmt.Errorf("bad -against %q: want baseline, previous, commit:SHA or run:ID", against)
}

// compareRuns prints the comparison of run against base and returns the
// number of significant regressions beyond threshold.
func (e *env) compareRuns(st *store.Store, baseID int64, run *store.RunInfo, label string, threshold float64) (int, error) {
	base, err := st.GetRun(e.ctx, baseID)
	if err != nil {
		return 0, err
	}
	oldS, err := st.Samples(e.ctx, baseID)
	if err != nil {
		return 0, err
	}
	newS, err := st.Samples(e.ctx, run.ID)
	if err != nil {
		return 0, err
	}
	res := compare.Compare(oldS, newS, compare.Options{})
	e.printf("machine: %s\n", run.Machine)
	e.printf("base:    run %d, %s, commit %s, %s\n", base.ID, label, base.Commit, base.Time.Format(time.RFC3339))
	e.printf("new:     run %d, commit %s, %s\n\n", run.ID, run.Commit, run.Time.Format(time.RFC3339))
	if err := compare.WriteTable(e.stdout, res, fmt.Sprintf("run %d", base.ID), fmt.Sprintf("run %d", run.ID)); err != nil {
		return 0, err
	}
	regs := res.Regressions(threshold)
	fails := res.Failures(threshold)
	if len(regs) == 0 {
		e.printf("\nno significant regression beyond %g%%\n", threshold)
		return 0, nil
	}
	failing := map[compare.Key]bool{}
	for _, r := range fails {
		failing[r.Key] = true
	}
	e.printf("\n%d significant regressions beyond %g%% (%d with confidence intervals more than %g%% apart):\n", len(regs), threshold, len(fails), threshold)
	for _, r := range regs {
		verdict := "within run-to-run noise: the intervals are not " + fmt.Sprintf("%g%%", threshold) + " apart"
		if failing[r.Key] {
			verdict = "FAIL"
		}
		e.printf("  %s %s: %+.2f%% (p=%.3f, interval gap %+.1f%%) %s\n", r.Name, r.Unit, r.DeltaPct, r.P, r.Gap, verdict)
	}
	if len(fails) == 0 {
		e.printf("no regression beyond noise: not failing\n")
	}
	return len(fails), nil
}

// listResults returns the .txt files of dir in name order (the names start
// with the date, so this is time order).
func listResults(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range ents {
		if !de.IsDir() && strings.HasSuffix(de.Name(), ".txt") {
			out = append(out, filepath.Join(dir, de.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
