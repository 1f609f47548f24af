package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"
)

var (
	loadBinOnce sync.Once
	loadBin     string
	loadBinErr  error
)

// ringwireLoad builds cmd/ringwire-load once (instrumented for coverage
// like ringwired when the run measures it) and returns its path.
func ringwireLoad(t *testing.T) string {
	t.Helper()
	loadBinOnce.Do(func() {
		loadBin = filepath.Join(filepath.Dir(ringwiredBin), "ringwire-load")
		loadBinErr = goBuild(loadBin, "github.com/ringwire/ringwire/integration/cmd/ringwire-load", "github.com/ringwire/ringwire/integration/...")
	})
	if loadBinErr != nil {
		t.Fatalf("building ringwire-load: %v", loadBinErr)
	}
	return loadBin
}

// runLoad runs ringwire-load with args; it returns stdout, stderr and
// the exit code.
func runLoad(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(ringwireLoad(t), args...)
	cmd.Env = os.Environ()
	if d := coverDir(); d != "" {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+d)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ringwire-load: %v", err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// readBenchfmt parses a benchfmt file with benchfmt's reader.
func readBenchfmt(t *testing.T, path string) []*benchfmt.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := benchfmt.NewReader(f, path)
	var out []*benchfmt.Result
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			out = append(out, rec.Clone())
		case *benchfmt.SyntaxError:
			t.Fatalf("benchfmt: %v", rec)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLoadGenerator runs every scenario, paced and at full speed, over
// shm, the socket transport and the JSON, gRPC and Node.js peers (and
// the floors), against a ringwired the
// generator starts itself, briefly; every request must get the answer it
// must get (the errors scenario's failures included), and the benchfmt
// lines must parse back.
func TestLoadGenerator(t *testing.T) {
	transports := []string{"shm", "socket", "json", "grpc"}
	if _, err := exec.LookPath("node"); err == nil {
		transports = append(transports, "node")
	} else if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
		t.Fatalf("node: %v", err)
	} else {
		t.Logf("no node (%v): the Node.js peer is left out", err)
	}
	// Every scenario at both rates on the transports, plus the floors:
	// eventfd paced and at max, the cache line at max, pings only.
	var want []string
	for _, s := range []string{"ping", "completion", "tool", "mixed", "bursty", "errors"} {
		for _, rate := range []string{"300", "max"} {
			for _, tr := range transports {
				want = append(want, "Load/scenario="+s+"/transport="+tr+"/rate="+rate)
			}
			if s == "ping" {
				want = append(want, "Load/scenario=ping/transport=eventfd/rate="+rate)
			}
		}
	}
	want = append(want, "Load/scenario=ping/transport=cacheline/rate=max")
	cells := len(want)
	out := filepath.Join(t.TempDir(), "load.txt")
	stdout, stderr, code := runLoad(t, "-daemon", ringwiredBin, "-rates", "300,max", "-transports", strings.Join(transports, ",")+",eventfd,cacheline",
		"-duration", "200ms", "-warmup", "50ms", "-conns", "2", "-inflight", "2", "-benchfmt", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("[1/%d", cells)) || !strings.Contains(stderr, fmt.Sprintf("[%d/%d", cells, cells)) || !strings.Contains(stderr, "started "+ringwiredBin) {
		t.Errorf("progress on stderr:\n%s", stderr)
	}
	if !strings.Contains(stdout, "achieved/s") || strings.Count(stdout, "\n") < cells+1 {
		t.Errorf("table:\n%s", stdout)
	}
	res := readBenchfmt(t, out)
	if len(res) != cells {
		t.Fatalf("%d results, want %d", len(res), cells)
	}
	seen := map[string]bool{}
	for _, r := range res {
		name := r.Name.String()
		seen[name] = true
		wantConns := "2"
		if strings.Contains(name, "cacheline") {
			wantConns = "1" // one pair of threads
		}
		if r.GetConfig("daemon") != "started "+ringwiredBin || r.GetConfig("conns") != wantConns {
			t.Errorf("%s: config %v", name, r.Config)
		}
		rate, _ := r.Value("calls/s")
		sat, ok := r.Value("saturated")
		if rate <= 0 || !ok || r.Iters <= 0 {
			t.Errorf("%s: %d answers, %v calls/s, saturated %v %v", name, r.Iters, rate, sat, ok)
		}
		// p50 needs 40 answers, and a saturated cell has none.
		if _, hasP50 := r.Value("p50-sec"); hasP50 != (sat == 0 && r.Iters >= 40) {
			t.Errorf("%s: %d answers, saturated %v, but p50 present %v", name, r.Iters, sat, hasP50)
		}
		if strings.Contains(name, "rate=300") && sat == 0 && rate < 0.95*300 {
			t.Errorf("%s: %v calls/s of 300 not reported saturated", name, rate)
		}
		for _, unit := range []string{"client-cpu-sec/op", "daemon-cpu-sec/op", "daemon-rssanon-B", "daemon-vmrss-B"} {
			if _, ok := r.Value(unit); !ok && (unit == "client-cpu-sec/op" || !strings.Contains(name, "cacheline")) {
				t.Errorf("%s: no %s in %v", name, unit, r.Values)
			}
		}
		errs, _ := r.Value("errors/op")
		if strings.Contains(name, "scenario=errors") {
			if errs <= 0 || errs > 0.4 {
				t.Errorf("%s: errors/op %v, want about 0.1", name, errs)
			}
		} else if errs != 0 {
			t.Errorf("%s: errors/op %v", name, errs)
		}
	}
	for _, n := range want {
		if !seen[n] {
			t.Errorf("no result %s", n)
		}
	}
}

// TestLoadGeneratorRunningDaemon: -socket uses a ringwired that is
// already running (its pid found from the socket), and cleans up the
// files it wrote in its workspace.
func TestLoadGeneratorRunningDaemon(t *testing.T) {
	ws := t.TempDir()
	sock := filepath.Join(socketDir(t), "d.sock")
	startDaemon(t, sock, "-workspace", ws)
	out := filepath.Join(t.TempDir(), "load.txt")
	start := time.Now()
	stdout, stderr, code := runLoad(t, "-socket", sock, "-workspace", ws, "-scenarios", "tool,ping", "-rates", "max",
		"-transports", "shm,socket", "-duration", "200ms", "-warmup", "0s", "-benchfmt", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("4 cells in %v", time.Since(start))
	res := readBenchfmt(t, out)
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	for _, r := range res {
		if r.GetConfig("daemon") != "connected "+sock {
			t.Errorf("%s: daemon %q", r.Name, r.GetConfig("daemon"))
		}
		if _, ok := r.Value("daemon-rssanon-B"); !ok {
			t.Errorf("%s: no daemon memory (pid not found from the socket?)", r.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, ".ringwire-load")); !os.IsNotExist(err) {
		t.Errorf("workspace files left: %v", err)
	}
}

func TestLoadGeneratorBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-daemon", "x", "-socket", "y"},
		{"-daemon", ringwiredBin, "-scenarios", "nope"},
		{"-daemon", ringwiredBin, "-rates", "0"},
		{"-daemon", ringwiredBin, "-transports", "carrier-pigeon"},
		{"-daemon", ringwiredBin, "-conns", "0"},
		{"-daemon", ringwiredBin, "-error-share", "2"},
		{"-daemon", ringwiredBin, "stray"},
	} {
		if _, stderr, code := runLoad(t, args...); code != 2 {
			t.Errorf("ringwire-load %q: exit %d, want 2; stderr:\n%s", args, code, stderr)
		}
	}
	// A daemon that cannot start is an error (1), said on stderr.
	if _, stderr, code := runLoad(t, "-daemon", "/nonexistent/ringwired", "-duration", "10ms"); code != 1 || !strings.Contains(stderr, "starting ringwired") {
		t.Errorf("missing daemon binary: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestLoadGeneratorReport: -chart draws the SVG and -readme rewrites the
// compare block of a Markdown file, the rest of it kept, from a real run;
// a file without the block's markers fails the run and is left as it was.
func TestLoadGeneratorReport(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	chart := filepath.Join(dir, "docs", "compare.svg")
	doc := "# title\n\n<!-- compare:begin -->\nhand-typed\n<!-- compare:end -->\n\nkept\n"
	if err := os.WriteFile(readme, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-daemon", ringwiredBin, "-scenarios", "ping", "-rates", "300,max", "-transports", "shm,socket,eventfd",
		"-duration", "200ms", "-warmup", "50ms", "-conns", "2", "-inflight", "2", "-benchfmt", filepath.Join(dir, "load.txt"),
		"-chart", chart, "-readme", readme, "-readme-command", "go tool mage compare", "-readme-note", "A test run."}
	stdout, stderr, code := runLoad(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{"# title\n\n<!-- compare:begin -->\nGenerated by `go tool mage compare` on ", "A test run.",
		"- At 300/s", "At full speed (closed loop), ping: ringwire shm p50 ", "](docs/compare.svg)",
		"| ping | 300 | **ringwire shm** |", "| ping | max | ringwire socket |", "<!-- compare:end -->\n\nkept\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("README lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hand-typed") {
		t.Errorf("old block kept:\n%s", got)
	}
	svg, err := os.ReadFile(chart)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "ringwire shm", "ringwire socket", "floor: Go eventfd wake-up"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("chart lacks %q", want)
		}
	}
	// No markers: exit 1, the file untouched.
	if err := os.WriteFile(readme, []byte("# no block\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runLoad(t, args...); code != 1 || !strings.Contains(stderr, "compare:begin") {
		t.Errorf("README without markers: exit %d, stderr:\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(readme); string(b) != "# no block\n" {
		t.Errorf("README without markers changed: %q", b)
	}
}
