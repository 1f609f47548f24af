package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ringwire/ringwire/benchdash/store"
)

// progressEvery is how often bench reports that a package is still running.
var progressEvery = 30 * time.Second

func cmdBench(e *env, args []string) int {
	fs := e.flags("bench")
	db := fs.String("db", DefaultDB, "database file")
	results := fs.String("results", DefaultResults, "directory for the results file")
	count := fs.Int("count", 6, "go test -count (at least 6 for 95% intervals)")
	benchtime := fs.String("benchtime", "100ms", "go test -benchtime")
	bench := fs.String("bench", ".", "go test -bench regular expression")
	threshold := fs.Float64("threshold", DefaultThreshold, "fail on significant regressions worse than this many percent")
	machine := fs.String("machine", "", "machine label (default: hostname and CPU model)")
	dirs, err := parse(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(dirs) == 0 {
		e.errorf("bench: no module directories given")
		return ExitUsage
	}
	if *count < 1 {
		e.errorf("bench: -count must be at least 1")
		return ExitUsage
	}
	if *count < 6 {
		fmt.Fprintf(e.stderr, "benchdash: warning: -count %d is below 6: confidence intervals will be infinite\n", *count)
	}
	if *machine == "" {
		*machine = store.DefaultMachine("")
	}
	start := time.Now()
	commit, branch, dirty := gitInfo()
	var out bytes.Buffer
	fmt.Fprintf(&out, "commit: %s\nbranch: %s\nmachine: %s\ndate: %s\n", commit, branch, oneLine(*machine), start.UTC().Format(time.RFC3339))
	if dirty {
		fmt.Fprintf(&out, "dirty: true\n")
	}
	fmt.Fprintf(&out, "benchtime: %s\ncount: %d\n", oneLine(*benchtime), *count)
	total := 0
	for _, dir := range dirs {
		n, err := e.runGoTest(dir, *bench, *benchtime, *count, start, &out)
		total += n
		if err != nil {
			e.errorf("bench: %s: %v", dir, err)
			return ExitFailure
		}
	}
	if total == 0 {
		e.errorf("bench: no benchmark matched -bench %q in %s", *bench, strings.Join(dirs, " "))
		return ExitFailure
	}
	path, err := writeResults(*results, start, commit, out.Bytes())
	if err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	fmt.Fprintf(e.stderr, "[%s] %d results written to %s\n", since(start), total, path)

	st, code := e.open(*db)
	if st == nil {
		return code
	}
	defer st.Close()
	run, err := store.ParseBytes(out.Bytes(), filepath.Base(path), store.Overrides{})
	if err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	res, err := st.Ingest(e.ctx, run)
	if err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	info, err := st.GetRun(e.ctx, res.RunID)
	if err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	e.printf("stored as run %d in %s\n", res.RunID, st.Path())
	baseID, err := st.GetBaseline(e.ctx, info.Machine, store.DefaultBaseline)
	if errors.Is(err, store.ErrNotFound) {
		e.printf("no baseline for machine %q yet: run %d becomes it (benchdash save moves it)\n", info.Machine, res.RunID)
		if err := e.saveBaseline(st, info, store.DefaultBaseline, *results); err != nil {
			e.errorf("bench: %v", err)
			return ExitFailure
		}
		return ExitOK
	}
	if err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	regs, err := e.compareRuns(st, baseID, info, "baseline", *threshold)
	if err != nil {
		e.errorf("bench: %v", err)
		return ExitFailure
	}
	if regs > 0 {
		return ExitFailure
	}
	return ExitOK
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// gitInfo returns the commit, branch and whether the work tree has changes,
// or "unknown" when the current directory is not in a git work tree.
func gitInfo() (commit, branch string, dirty bool) {
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	commit = git("rev-parse", "HEAD")
	if commit == "" {
		return "unknown", "unknown", false
	}
	branch = git("rev-parse", "--abbrev-ref", "HEAD")
	if branch == "" {
		branch = "unknown"
	}
	dirty = git("status", "--porcelain", "--untracked-files=no") != ""
	return commit, branch, dirty
}

// writeResults writes data to dir as <date>-<commit>.txt, never
// overwriting an existing file.
func writeResults(dir string, t time.Time, commit string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	short := commit
	if len(short) > 12 {
		short = short[:12]
	}
	base := t.UTC().Format("2006-01-02T150405Z") + "-" + short
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

// runGoTest runs the benchmarks of the module in dir, appends their result
// and configuration lines to out, and reports progress on stderr. It returns
// the number of benchmark result lines.
func (e *env) runGoTest(dir, bench, benchtime string, count int, start time.Time, out *bytes.Buffer) (int, error) {
	args := []string{"test", "-run=^$", "-bench=" + bench, "-benchmem", fmt.Sprintf("-count=%d", count), "-benchtime=" + benchtime, "./..."}
	fmt.Fprintf(e.stderr, "[%s] %s: go %s\n", since(start), dir, strings.Join(args, " "))
	// go test's stderr and the progress lines share e.stderr.
	lw := &lockedWriter{w: e.stderr}
	cmd := exec.CommandContext(e.ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stderr = lw
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var mu sync.Mutex // guards pkg and n
	pkg, n := "", 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				mu.Lock()
				p, k := pkg, n
				mu.Unlock()
				fmt.Fprintf(lw, "[%s] %s: still running %s (%d results so far)\n", since(start), dir, p, k)
			}
		}
	})
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	pkgResults := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Benchmark"):
			out.WriteString(line + "\n")
			if f := strings.Fields(line); len(f) > 2 {
				mu.Lock()
				n++
				mu.Unlock()
				pkgResults++
			} else {
				fmt.Fprintln(lw, line)
			}
		case strings.HasPrefix(line, "pkg: "):
			mu.Lock()
			pkg = strings.TrimPrefix(line, "pkg: ")
			mu.Unlock()
			pkgResults = 0
			out.WriteString(line + "\n")
			fmt.Fprintf(lw, "[%s] %s: running %s\n", since(start), dir, strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "goos: "), strings.HasPrefix(line, "goarch: "), strings.HasPrefix(line, "cpu: "):
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "PASS"):
		case strings.HasPrefix(line, "ok "), strings.HasPrefix(line, "FAIL"):
			fmt.Fprintf(lw, "[%s] %s (%d results)\n", since(start), line, pkgResults)
		default:
			fmt.Fprintln(lw, line)
		}
	}
	scanErr := sc.Err()
	if scanErr != nil {
		io.Copy(io.Discard, pipe)
	}
	err = cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if scanErr != nil {
		return n, scanErr
	}
	if err != nil {
		return n, fmt.Errorf("go test failed: %w", err)
	}
	return n, nil
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
