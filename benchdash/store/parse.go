package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"

	"github.com/ringwire/ringwire/benchdash/compare"
)

// MaxFileSize is the largest benchmark results file Parse accepts.
const MaxFileSize = 64 << 20

// Errors returned by Parse and Ingest, matched with errors.Is.
var (
	// ErrMalformed marks input that is not valid Go benchmark format; the
	// error text names the offending line.
	ErrMalformed = errors.New("malformed benchmark results")
	// ErrNoResults marks input without a single benchmark result.
	ErrNoResults = errors.New("no benchmark results")
	// ErrTooLarge marks input larger than MaxFileSize.
	ErrTooLarge = errors.New("benchmark results file too large")
	// ErrDuplicate marks a file whose content was already ingested.
	ErrDuplicate = errors.New("already ingested")
)

// LineError is a malformed line in a results file. It wraps ErrMalformed.
type LineError struct {
	File string
	Line int
	Msg  string
}

// Error returns "file:line: msg".
func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, ErrMalformed, e.Msg)
}

// Unwrap returns ErrMalformed.
func (e *LineError) Unwrap() error { return ErrMalformed }

// Run is one benchmark run: the content of one results file, with every
// sample of every benchmark and unit.
type Run struct {
	ID      int64             `json:"id"`
	Hash    string            `json:"hash"` // sha256 of the file content
	Commit  string            `json:"commit"`
	Branch  string            `json:"branch"`
	Time    time.Time         `json:"time"`
	Machine string            `json:"machine"`
	GOOS    string            `json:"goos"`
	GOARCH  string            `json:"goarch"`
	CPU     string            `json:"cpu"`
	Labels  map[string]string `json:"labels,omitempty"`
	Source  string            `json:"source"` // file name it was read from
	Samples []compare.Sample  `json:"-"`
}

// Overrides replace what a results file says about its run; empty fields
// keep the file's values.
type Overrides struct {
	Machine string
	Branch  string
	Commit  string
	// Time is used when the file has no "date:" line; zero means now.
	Time time.Time
}

// runKeys are configuration keys that describe the run rather than free
// labels; they must not change inside one file.
var runKeys = map[string]bool{"commit": true, "branch": true, "machine": true, "goos": true, "goarch": true, "cpu": true, "date": true}

// Parse reads a Go benchmark format file (the output of go test -bench,
// optionally with configuration lines such as "commit:", "branch:",
// "machine:" and "date:") into a Run. Any malformed line refuses the whole
// file with a *LineError naming the line.
func Parse(r io.Reader, name string, o Overrides) (*Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w (limit %d bytes)", name, ErrTooLarge, MaxFileSize)
	}
	return ParseBytes(data, name, o)
}

// ParseBytes is Parse on a byte slice.
func ParseBytes(data []byte, name string, o Overrides) (*Run, error) {
	sum := sha256.Sum256(data)
	run := &Run{Hash: hex.EncodeToString(sum[:]), Source: name, Labels: map[string]string{}}

	var pp benchproc.ProjectionParser
	proj, unitField, err := pp.ParseWithUnit("pkg,.fullname", nil)
	if err != nil {
		return nil, fmt.Errorf("benchproc projection: %w", err)
	}
	var pkgField, nameField *benchproc.Field
	for _, f := range proj.Fields() {
		switch f.Name {
		case "pkg":
			pkgField = f
		case ".fullname":
			nameField = f
		}
	}

	type group struct {
		key    compare.Key
		values []float64
	}
	groups := map[benchproc.Key]*group{}
	var order []benchproc.Key
	runCfg := map[string]string{}
	cfgLine := map[string]int{}

	rd := benchfmt.NewReader(bytes.NewReader(data), name)
	n := 0
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, &LineError{File: name, Line: rec.Line, Msg: rec.Msg}
		case *benchfmt.Result:
			_, line := rec.Pos()
			for _, c := range rec.Config {
				if !c.File {
					continue
				}
				v := string(c.Value)
				if runKeys[c.Key] {
					if prev, ok := runCfg[c.Key]; ok && prev != v {
						return nil, &LineError{File: name, Line: line, Msg: fmt.Sprintf("%q changes from %q (line %d) to %q: one file holds one run", c.Key, prev, cfgLine[c.Key], v)}
					}
					if _, ok := runCfg[c.Key]; !ok {
						runCfg[c.Key] = v
						cfgLine[c.Key] = line
					}
				} else if c.Key != "pkg" {
					run.Labels[c.Key] = v
				}
			}
			for _, v := range rec.Values {
				if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
					return nil, &LineError{File: name, Line: line, Msg: fmt.Sprintf("measurement %v %s is not a finite number", v.Value, v.Unit)}
				}
			}
			keys := proj.ProjectValues(rec)
			for i, k := range keys {
				g := groups[k]
				if g == nil {
					g = &group{key: compare.Key{Pkg: k.Get(pkgField), Name: k.Get(nameField), Unit: k.Get(unitField)}}
					groups[k] = g
					order = append(order, k)
				}
				g.values = append(g.values, rec.Values[i].Value)
			}
			n++
		}
	}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNoResults)
	}
	for _, k := range order {
		g := groups[k]
		run.Samples = append(run.Samples, compare.Sample{Key: g.key, Values: g.values})
	}

	run.Commit = first(o.Commit, runCfg["commit"])
	run.Branch = first(o.Branch, runCfg["branch"])
	run.GOOS, run.GOARCH, run.CPU = runCfg["goos"], runCfg["goarch"], runCfg["cpu"]
	run.Machine = first(o.Machine, runCfg["machine"])
	if run.Machine == "" {
		run.Machine = DefaultMachine(run.CPU)
	}
	if d := runCfg["date"]; d != "" {
		t, err := time.Parse(time.RFC3339, d)
		if err != nil {
			return nil, &LineError{File: name, Line: cfgLine["date"], Msg: fmt.Sprintf("date %q is not RFC 3339", d)}
		}
		run.Time = t
	} else if !o.Time.IsZero() {
		run.Time = o.Time
	} else {
		run.Time = time.Now()
	}
	run.Time = run.Time.UTC()
	return run, nil
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// DefaultMachine labels this machine: its host name and CPU model. The CPU
// model is cpu when not empty, else read from /proc/cpuinfo.
func DefaultMachine(cpu string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	if cpu == "" {
		cpu = CPUModel()
	}
	if cpu == "" {
		return host
	}
	return host + " (" + cpu + ")"
}

// CPUModel returns the "model name" of /proc/cpuinfo, or "" when unknown.
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
