package load

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"
)

// cellOf is a result of n answers, every one taking lat, over one
// second, with the given CPU per request and server RssAnon.
func cellOf(scenario, transport string, rate float64, n int64, lat, cpu time.Duration, rss int64) *Result {
	h := NewHistogram()
	for range n {
		Record(h, lat)
	}
	return &Result{
		Cell:      Cell{Scenario: Scenario{Name: scenario}, Transport: transport, Rate: rate, Conns: 4, Workers: 16, Duration: time.Second},
		Sample:    &Sample{Latency: h, Lag: NewHistogram(), Due: max(n, int64(rate)), Completed: n, Elapsed: time.Second},
		ClientCPU: cpu * time.Duration(n), ServerCPU: 2 * cpu * time.Duration(n),
		Memory: Memory{RssAnon: rss, VmRSS: 2 * rss},
	}
}

// fixedRun is a run of two scenarios at 1000/s and full speed: shm as
// the base, node 60× and json 4× slower at full speed, a saturated gRPC
// cell and the eventfd floor.
func fixedRun() []*Result {
	us := time.Microsecond
	return []*Result{
		cellOf("ping", "shm", 1000, 3000, 50*us, 10*us, 20e6),
		cellOf("ping", "socket", 1000, 3000, 100*us, 20*us, 20e6),
		cellOf("ping", "node", 1000, 3000, 400*us, 80*us, 50e6),
		cellOf("ping", "eventfd", 1000, 3000, 25*us, 5*us, 0),
		cellOf("ping", "shm", 0, 400000, 2*us, 1*us, 20e6),
		cellOf("ping", "node", 0, 8000, 120*us, 40*us, 50e6),
		cellOf("ping", "json", 0, 80000, 8*us, 4*us, 10e6),
		cellOf("ping", "grpc", 0, 40000, 4*us, 8*us, 10e6),
		cellOf("tool", "shm", 1000, 3000, 200*us, 40*us, 30e6),
		cellOf("tool", "grpc", 1000, 500, 900*us, 40*us, 30e6), // 500 of 1000/s: saturated
	}
}

func TestCompareRatios(t *testing.T) {
	rs := fixedRun()
	cmp := Compare("shm", rs)
	if len(cmp) != len(rs) {
		t.Fatalf("%d compared, want %d", len(cmp), len(rs))
	}
	near := func(what string, r Ratio, want float64) {
		t.Helper()
		if !r.OK || r.V < want*0.99 || r.V > want*1.01 {
			t.Errorf("%s = %+v, want %v", what, r, want)
		}
	}
	// The base against itself.
	near("shm p50", cmp[0].P50, 1)
	near("shm calls/s", cmp[0].Throughput, 1)
	// socket at 1000/s: twice the latency and CPU, same memory.
	near("socket p50", cmp[1].P50, 2)
	near("socket p99", cmp[1].P99, 2)
	near("socket calls/s", cmp[1].Throughput, 1)
	near("socket client cpu", cmp[1].ClientCPU, 2)
	near("socket server cpu", cmp[1].ServerCPU, 2)
	near("socket RssAnon", cmp[1].RssAnon, 1)
	// node at full speed: 60× the median, 1/50 of the throughput, 40× the CPU.
	near("node max p50", cmp[5].P50, 60)
	near("node max calls/s", cmp[5].Throughput, 8000.0/400000)
	near("node max cpu", cmp[5].ServerCPU, 40)
	near("node RssAnon", cmp[5].RssAnon, 2.5)
	// p99 from 8000 samples has a value; its ratio is there too.
	near("node max p99", cmp[5].P99, 60)
	// The saturated gRPC tool cell has no latency ratio, but a throughput one.
	if cmp[9].P50.OK || cmp[9].P99.OK || cmp[9].P50.String() != "-" {
		t.Errorf("saturated cell has latency ratios: %+v %+v", cmp[9].P50, cmp[9].P99)
	}
	near("saturated calls/s", cmp[9].Throughput, 0.5/3)
	// json ping at full speed has a base; a result without one has no ratios.
	orphan := Compare("shm", []*Result{cellOf("errors", "json", 0, 100, time.Microsecond, time.Microsecond, 1)})
	if orphan[0].Base != nil || orphan[0].P50.OK || orphan[0].Throughput.OK {
		t.Errorf("cell without a base: %+v", orphan[0])
	}
	// Unknown memory on either side: no RssAnon ratio.
	rs[1].MemoryErr = errors.New("gone")
	if c := Compare("shm", rs); c[1].RssAnon.OK {
		t.Error("RssAnon ratio from an unknown memory figure")
	}
	// Unknown CPU: no ratio.
	rs[2].ServerCPU = -1
	if c := Compare("shm", rs); c[2].ServerCPU.OK || !c[2].ClientCPU.OK {
		t.Errorf("cpu ratios with an unknown server CPU: %+v %+v", c[2].ServerCPU, c[2].ClientCPU)
	}
}

func TestFindings(t *testing.T) {
	f := Findings("shm", fixedRun())
	all := strings.Join(f, "\n")
	for _, want := range []string{
		// editor rate, ping: shm 50 µs, socket 2x, node 8x, floor 25 µs (2x)
		"At 1000/s (editor rates), ping: ringwire shm p50 50.0µs; ringwire socket 100µs (2.00×), Node NDJSON 400µs (8.00×); the Go wake-up floor 25.0µs, so ringwire shm is 2.0× the floor — shared memory beats the socket transport by 2.00×.",
		"At 1000/s (editor rates), tool: ringwire shm p50 200µs; gRPC saturated.",
		// full speed: node 60x (>= 50 met), json 4x (< 5 missed), grpc 2x (< 3 missed)
		"At full speed (closed loop), ping: ringwire shm p50 2.00µs at 400000 calls/s",
		"targets met: ≥ 50× Node NDJSON (60.0×)",
		"targets not met: ≥ 5× Go encoding/json (4.0×), ≥ 3× gRPC (2.0×)",
		"Saturated (below 95% of the target rate, so no latency is reported): gRPC tool at 1000/s (500/s).",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("findings lack %q:\n%s", want, all)
		}
	}
	// The numbers decide: a faster json meets its target.
	rs := fixedRun()
	rs[6] = cellOf("ping", "json", 0, 80000, 12*time.Microsecond, 4*time.Microsecond, 10e6)
	if all := strings.Join(Findings("shm", rs), "\n"); !strings.Contains(all, "targets met: ≥ 50× Node NDJSON (60.0×), ≥ 5× Go encoding/json (6.0×)") {
		t.Errorf("findings after json slowed to 6×:\n%s", all)
	}
	// A socket faster than shm is said so.
	rs[1] = cellOf("ping", "socket", 1000, 3000, 40*time.Microsecond, 20*time.Microsecond, 20e6)
	if all := strings.Join(Findings("shm", rs), "\n"); !strings.Contains(all, "the socket transport is faster than shared memory (0.80×)") {
		t.Errorf("findings with a faster socket:\n%s", all)
	}
	// The completion targets say which request they are for.
	rs = append(rs, cellOf("completion", "shm", 0, 3000, 100*time.Microsecond, time.Microsecond, 1),
		cellOf("completion", "node", 0, 3000, 6*time.Millisecond, time.Microsecond, 1))
	if all := strings.Join(Findings("shm", rs), "\n"); !strings.Contains(all, "completion: ringwire shm p50 100µs at 3000 calls/s; Node NDJSON 6.00ms (59.99×); targets met: ≥ 50× Node NDJSON (60.0×) (the targets are for a 1 KiB completion; this scenario sends 1–8 KiB with streamed replies).") {
		t.Errorf("completion findings:\n%s", all)
	}
	if f := Findings("shm", nil); len(f) != 0 {
		t.Errorf("findings of no results: %q", f)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, "shm", fixedRun()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2+len(fixedRun()) {
		t.Fatalf("table:\n%s", buf.String())
	}
	for i, want := range map[int][]string{
		2:  {"| ping | 1000 | **ringwire shm** | 50.0µs | 50.0µs | 3000 | 10.0µs | 20.0µs | 20.0MB |"},
		3:  {"| ping | 1000 | ringwire socket | 100µs (2.00×) | 100µs (2.00×) | 3000 (1.00×) | 20.0µs (2.00×) | 40.0µs (2.00×) | 20.0MB (1.00×) |"},
		5:  {"floor: Go eventfd wake-up", "| — |"},
		11: {"| tool | 1000 (saturated) | gRPC | saturated | saturated | 500 (0.17×) |"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}

func TestRewriteBlock(t *testing.T) {
	doc := "# title\n\nintro\n\n<!-- compare:begin -->\nold table\nold line\n<!-- compare:end -->\n\nafter\n<!-- other:begin -->\nkept\n<!-- other:end -->\n"
	got, err := RewriteBlock([]byte(doc), "compare", []byte("| a | b |\n|---|---|\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "# title\n\nintro\n\n<!-- compare:begin -->\n| a | b |\n|---|---|\n<!-- compare:end -->\n\nafter\n<!-- other:begin -->\nkept\n<!-- other:end -->\n"
	if string(got) != want {
		t.Fatalf("rewritten:\n%s\nwant:\n%s", got, want)
	}
	again, err := RewriteBlock(got, "compare", []byte("\n\n| a | b |\n|---|---|"))
	if err != nil || string(again) != want {
		t.Errorf("second rewrite (same body, other blank lines) changed the file: %v\n%s", err, again)
	}
	empty, err := RewriteBlock(got, "compare", nil)
	if err != nil || !strings.Contains(string(empty), "<!-- compare:begin -->\n<!-- compare:end -->") {
		t.Errorf("empty body: %v\n%s", err, empty)
	}
	for name, bad := range map[string]string{
		"no begin":  "<!-- compare:end -->\n",
		"no end":    "<!-- compare:begin -->\n",
		"two begin": "<!-- compare:begin -->\n<!-- compare:begin -->\n<!-- compare:end -->\n",
		"reversed":  "<!-- compare:end -->\nx\n<!-- compare:begin -->\n",
	} {
		if out, err := RewriteBlock([]byte(bad), "compare", []byte("x")); err == nil {
			t.Errorf("%s: no error, got %q", name, out)
		}
	}
}

func TestWriteChart(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteChart(&buf, fixedRun()); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	// Well-formed XML, an svg root.
	d := xml.NewDecoder(strings.NewReader(svg))
	root := ""
	for {
		tok, err := d.Token()
		if err != nil {
			if root == "" {
				t.Fatalf("not XML: %v\n%.300s", err, svg)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	// Every transport with a median is a series; the panels are titled by scenario.
	for _, want := range []string{"ringwire shm", "ringwire socket", "Node NDJSON", "Go encoding/json", "gRPC", "floor: Go eventfd wake-up", "ping", "tool", "achieved calls/s"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// Nothing to draw is an error, not an empty chart.
	sat := []*Result{fixedRun()[9]}
	if err := WriteChart(&buf, sat); err == nil {
		t.Error("chart of saturated cells only: no error")
	}
}

func TestWriteReport(t *testing.T) {
	var buf bytes.Buffer
	m := ReportMeta{Machine: "AMD EPYC, 2 CPUs", Date: "2026-12-01 14:00 UTC", Command: "go tool mage compare",
		Setup: "4 connections.", Chart: "docs/perf/compare.svg", Note: "Shared machine.", Bench: "bench/local/compare/x.txt"}
	if err := WriteReport(&buf, "shm", fixedRun(), m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Generated by `go tool mage compare` on 2026-12-01 14:00 UTC (AMD EPYC, 2 CPUs). 4 connections.",
		"Shared machine.", "`bench/local/compare/x.txt`", "- At 1000/s (editor rates), ping:", "](docs/perf/compare.svg)",
		"ratio to ringwire shm", "| scenario | rate/s | transport |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
