package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// readmeBlock is the name of the README block cmdReadme rewrites:
// between "<!-- bench:begin -->" and "<!-- bench:end -->".
const readmeBlock = "bench"

// readmeFigure is one row of the microbenchmark block: a benchmark's
// figure (unit, as the file writes it), optionally against a baseline
// benchmark of the same run.
type readmeFigure struct {
	What      string  // the row's label
	Bench     string  // benchmark name without "Benchmark" and the -N suffix
	Unit      string  // the unit as written in the file: "ns/op", "p50-ns", "MB/s", ...
	Base      string  // a baseline benchmark of the same file, or ""
	BaseLabel string  // what the baseline is, e.g. "Unix socket"
	Target    float64 // the target of the figure (same unit), 0 for none
	AtMost    bool    // the target is an upper bound (else a lower bound)
	// TargetTimes is a target on the ratio Base/Bench (how many times
	// better than the baseline), 0 for none.
	TargetTimes float64
}

// readmeFigures are the microbenchmark figures the README states: the
// ring, the codec, the pool against puddle and the FlatBuffers/JSON
// ratio, from the hot-path benchmarks `go tool mage bench` runs.
var readmeFigures = []readmeFigure{
	{What: "shmring ping-pong 64 B, p50", Bench: "PingPong/shm/64B", Unit: "p50-ns", Base: "PingPong/uds/64B", BaseLabel: "Unix socket", Target: 1000, AtMost: true, TargetTimes: 5},
	{What: "shmring ping-pong 1 KiB, p50", Bench: "PingPong/shm/1024B", Unit: "p50-ns", Base: "PingPong/uds/1024B", BaseLabel: "Unix socket", Target: 1000, AtMost: true},
	{What: "client `Ping` over shm (daemon in its own process), p50", Bench: "Ping/transport=shm", Unit: "p50-ns", Base: "Ping/transport=socket", BaseLabel: "socket transport", Target: 2000, AtMost: true},
	{What: "client `Ping` over shm, p99", Bench: "Ping/transport=shm", Unit: "p99-ns", Base: "Ping/transport=socket", BaseLabel: "socket transport", Target: 10000, AtMost: true},
	{What: "frame append + parse, 64 B", Bench: "Frame/size=64B", Unit: "ns/op"},
	{What: "frame append + parse, 1 MiB", Bench: "Frame/size=1MiB", Unit: "MB/s"},
	{What: "CompletionRequest encode + verified view vs `encoding/json`", Bench: "CompletionRequest/vs-json", Unit: "x-faster-than-json", Target: 10},
	{What: "CompletionRequest encode + decode into structs vs `encoding/json`", Bench: "CompletionRequest/vs-json", Unit: "x-faster-than-json-struct"},
	{What: "pool acquire + release, one client, pool of 1", Bench: "AcquireRelease/impl=ringwire/PoolSize=1/ClientCount=1", Unit: "ns/op",
		Base: "AcquireRelease/impl=puddle/PoolSize=1/ClientCount=1", BaseLabel: "jackc/puddle", Target: 100, AtMost: true},
	{What: "pool acquire + release, 64 clients, pool of 8", Bench: "AcquireRelease/impl=ringwire/PoolSize=8/ClientCount=64", Unit: "ns/op",
		Base: "AcquireRelease/impl=puddle/PoolSize=8/ClientCount=64", BaseLabel: "jackc/puddle"},
}

// resultsFile is a parsed results file: its samples per benchmark and
// unit, and its header lines.
type resultsFile struct {
	path    string
	date    string // the date: line, else the file's modification time (RFC 3339)
	machine string
	commit  string
	count   string
	btime   string
	samples map[[2]string][]float64 // {benchmark, unit as written} -> values
}

var gomaxprocsSuffix = regexp.MustCompile(`-\d+$`)

// readResultsFile parses path (go test -bench output with benchdash's
// header lines).
func readResultsFile(path string) (*resultsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rf := &resultsFile{path: path, samples: map[[2]string][]float64{}}
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		if rf.date == "" {
			rf.date = res.GetConfig("date")
			rf.machine = res.GetConfig("machine")
			rf.commit = res.GetConfig("commit")
			rf.count = res.GetConfig("count")
			rf.btime = res.GetConfig("benchtime")
		}
		name := gomaxprocsSuffix.ReplaceAllString(res.Name.String(), "")
		for _, v := range res.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			k := [2]string{name, unit}
			rf.samples[k] = append(rf.samples[k], val)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if rf.date == "" {
		if fi, err := os.Stat(path); err == nil {
			rf.date = fi.ModTime().UTC().Format("2006-01-02T15:04:05Z")
		}
	}
	return rf, nil
}

// latestResults reads the results files of dirs (the A side of an A/B
// session, the baseline commit's, left out) and returns them newest
// first by their date line.
func latestResults(dirs ...string) ([]*resultsFile, error) {
	var files []*resultsFile
	for _, dir := range dirs {
		names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if strings.HasSuffix(n, "-A.txt") {
				continue
			}
			rf, err := readResultsFile(n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			files = append(files, rf)
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].date > files[j].date })
	return files, nil
}

// median returns the median of vs and its range, vs sorted in place.
func median(vs []float64) (med, lo, hi float64) {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		med = vs[n/2]
	} else {
		med = (vs[n/2-1] + vs[n/2]) / 2
	}
	return med, vs[0], vs[n-1]
}

// formatFigure prints v of unit for people: durations for the ns units,
// the others with three significant digits.
func formatFigure(v float64, unit string) string {
	if strings.HasSuffix(unit, "ns") || unit == "ns/op" {
		switch {
		case v < 1e3:
			return fmt.Sprintf("%.3g ns", v)
		case v < 1e6:
			return fmt.Sprintf("%.3g µs", v/1e3)
		default:
			return fmt.Sprintf("%.3g ms", v/1e6)
		}
	}
	switch {
	case strings.HasPrefix(unit, "x-"):
		return fmt.Sprintf("%.3g×", v)
	case unit == "MB/s" && v >= 1000:
		return fmt.Sprintf("%.3g GB/s", v/1000)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

// writeBenchBlock writes the microbenchmark block: for each figure, the
// newest file that holds it (and its baseline), the median with its
// range over the file's samples, the baseline's median and the ratio,
// the target and whether it is met; then which files the figures came
// from. Figures no file holds are listed as missing.
func writeBenchBlock(b *bytes.Buffer, files []*resultsFile) {
	used := []*resultsFile{}
	var missing []string
	var rows []string
	for _, f := range readmeFigures {
		var src *resultsFile
		for _, rf := range files {
			if len(rf.samples[[2]string{f.Bench, f.Unit}]) == 0 {
				continue
			}
			if f.Base != "" && len(rf.samples[[2]string{f.Base, f.Unit}]) == 0 {
				continue
			}
			src = rf
			break
		}
		if src == nil {
			missing = append(missing, f.What)
			continue
		}
		if !slices.Contains(used, src) {
			used = append(used, src)
		}
		ref := slices.Index(used, src) + 1
		vs := src.samples[[2]string{f.Bench, f.Unit}]
		med, lo, hi := median(vs)
		cell := fmt.Sprintf("%s (%s–%s, n=%d)", formatFigure(med, f.Unit), formatFigure(lo, f.Unit), formatFigure(hi, f.Unit), len(vs))
		base, target := "", ""
		var ratio float64
		if f.Base != "" {
			bm, _, _ := median(src.samples[[2]string{f.Base, f.Unit}])
			ratio = bm / med
			if !strings.HasSuffix(f.Unit, "ns") && f.Unit != "ns/op" {
				ratio = med / bm
			}
			base = fmt.Sprintf("%s %s (%.1f× %s)", f.BaseLabel, formatFigure(bm, f.Unit), ratio, map[bool]string{true: "faster", false: "slower"}[ratio >= 1])
		}
		var goals []string
		if f.Target > 0 {
			ok := med >= f.Target
			rel := "≥"
			if f.AtMost {
				ok, rel = med <= f.Target, "≤"
			}
			goals = append(goals, fmt.Sprintf("%s %s — %s", rel, formatFigure(f.Target, f.Unit), metWord(ok)))
		}
		if f.TargetTimes > 0 && f.Base != "" {
			goals = append(goals, fmt.Sprintf("≥ %.0f× %s — %s", f.TargetTimes, f.BaseLabel, metWord(ratio >= f.TargetTimes)))
		}
		target = strings.Join(goals, "; ")
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | [%d] |", f.What, cell, base, target, ref))
	}
	if len(rows) == 0 {
		b.WriteString("No results file holds the microbenchmarks yet: run `go tool mage bench`, then `go tool mage bench:readme`.\n")
		return
	}
	b.WriteString("Generated by `go tool mage bench:readme` from the newest results file holding each figure (the working tree's side of `go tool mage bench`, or a saved baseline); medians, the range of the samples and their number in brackets.\n\n")
	b.WriteString("| measurement | median (range, samples) | same run, baseline | target | source |\n|---|---:|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	b.WriteString("\n")
	for i, rf := range used {
		where := ""
		if strings.HasPrefix(filepath.ToSlash(filepath.Clean(rf.path)), "bench/local/") {
			where = " (machine-local, not committed)"
		}
		fmt.Fprintf(b, "[%d] `%s`%s: %s, machine %s, commit %.12s, -count %s, -benchtime %s.\n", i+1, filepath.ToSlash(rf.path), where, rf.date, orQ(rf.machine), orQ(rf.commit), orQ(rf.count), orQ(rf.btime))
		if i < len(used)-1 {
			b.WriteString("\n")
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(b, "\nNot in any results file: %s.\n", strings.Join(missing, "; "))
	}
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// rewriteReadmeBlock replaces the text between "<!-- name:begin -->" and
// "<!-- name:end -->" of doc with body; each marker must occur once,
// begin first. Rewriting with the same body gives the same bytes.
func rewriteReadmeBlock(doc []byte, name string, body []byte) ([]byte, error) {
	begin, end := []byte("<!-- "+name+":begin -->"), []byte("<!-- "+name+":end -->")
	if bytes.Count(doc, begin) != 1 || bytes.Count(doc, end) != 1 {
		return nil, fmt.Errorf("want one %s and one %s line", begin, end)
	}
	i, j := bytes.Index(doc, begin)+len(begin), bytes.Index(doc, end)
	if j < i {
		return nil, fmt.Errorf("%s comes before %s", end, begin)
	}
	body = bytes.Trim(body, "\n")
	var out bytes.Buffer
	out.Write(doc[:i])
	out.WriteString("\n")
	if len(body) > 0 {
		out.Write(body)
		out.WriteString("\n")
	}
	out.Write(doc[j:])
	return out.Bytes(), nil
}

// cmdReadme rewrites the microbenchmark block of a README from the newest
// results files.
func cmdReadme(e *env, args []string) int {
	fs := e.flags("readme")
	runs := fs.String("runs", DefaultRuns, "directory of this machine's results files")
	results := fs.String("results", DefaultResults, "committed results directory")
	readme := fs.String("readme", "README.md", "Markdown `file` whose <!-- bench:begin --> ... <!-- bench:end --> block is rewritten")
	if pos, err := parse(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			e.errorf("readme: unexpected arguments %q", pos)
		}
		return ExitUsage
	}
	files, err := latestResults(*runs, *results)
	if err != nil {
		e.errorf("readme: %v", err)
		return ExitFailure
	}
	doc, err := os.ReadFile(*readme)
	if err != nil {
		e.errorf("readme: %v", err)
		return ExitFailure
	}
	var body bytes.Buffer
	writeBenchBlock(&body, files)
	out, err := rewriteReadmeBlock(doc, readmeBlock, body.Bytes())
	if err != nil {
		e.errorf("readme: %s: %v", *readme, err)
		return ExitFailure
	}
	if bytes.Equal(out, doc) {
		e.printf("%s: bench block unchanged\n", *readme)
		return ExitOK
	}
	tmp := *readme + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		e.errorf("readme: %v", err)
		return ExitFailure
	}
	if err := os.Rename(tmp, *readme); err != nil {
		os.Remove(tmp)
		e.errorf("readme: %v", err)
		return ExitFailure
	}
	e.printf("%s: bench block rewritten from %d results files\n", *readme, len(files))
	return ExitOK
}
