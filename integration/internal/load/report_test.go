package load

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/perf/benchfmt"
)

// histOf returns a histogram of n samples 1 µs, 2 µs, ..., n µs.
func histOf(n int) *hdrhistogram.Histogram {
	h := NewHistogram()
	for i := 1; i <= n; i++ {
		Record(h, time.Duration(i)*time.Microsecond)
	}
	return h
}

func TestLatencySampleRules(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []string // p50 p90 p99 p999: "" has a value
	}{
		{0, []string{"n<40", "n<200", "n<2000", "n<20000"}},
		{39, []string{"n<40", "n<200", "n<2000", "n<20000"}},
		{40, []string{"", "n<200", "n<2000", "n<20000"}},
		{1999, []string{"", "", "n<2000", "n<20000"}},
		{2000, []string{"", "", "", "n<20000"}},
		{19999, []string{"", "", "", "n<20000"}},
		{20000, []string{"", "", "", ""}},
	} {
		qs, maxv := Latencies(histOf(c.n), false)
		for i, q := range qs {
			if c.want[i] == "" {
				if !q.OK {
					t.Errorf("n=%d: %s missing (%s)", c.n, Quantiles[i].Name, q.Missing)
					continue
				}
				// Samples are 1..n µs: quantile p is about p% of n µs.
				want := time.Duration(float64(c.n)*Quantiles[i].Percent/100) * time.Microsecond
				if d := q.V - want; d < -want/100-time.Microsecond || d > want/100+time.Microsecond {
					t.Errorf("n=%d: %s = %v, want about %v", c.n, Quantiles[i].Name, q.V, want)
				}
			} else if q.OK || q.Missing != c.want[i] || q.String() != c.want[i] {
				t.Errorf("n=%d: %s = %+v, want missing %q", c.n, Quantiles[i].Name, q, c.want[i])
			}
		}
		if (c.n > 0) != maxv.OK {
			t.Errorf("n=%d: max %+v", c.n, maxv)
		}
	}
	// Out-of-range latencies are clamped, not dropped.
	h := NewHistogram()
	Record(h, -time.Second)
	Record(h, time.Hour)
	if h.TotalCount() != 2 || time.Duration(h.Max()) < 59*time.Second {
		t.Errorf("clamped histogram: %d samples, max %v", h.TotalCount(), time.Duration(h.Max()))
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		999:                      "999ns",
		1500:                     "1.50µs",
		52 * time.Microsecond:    "52.0µs",
		123456 * time.Nanosecond: "123µs",
		2500 * time.Microsecond:  "2.50ms",
		3 * time.Second:          "3.00s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

// testResults are two cells: one measured, one saturated.
func testResults() []*Result {
	ok := &Result{
		Cell: Cell{Scenario: Scenario{Name: "ping"}, Transport: "shm", Rate: 1000, Conns: 4, Workers: 16, Duration: 3 * time.Second},
		Sample: &Sample{Latency: histOf(3000), Lag: histOf(3000), Due: 3000, Completed: 3000, Errors: 30,
			Elapsed: 3 * time.Second},
		ClientCPU: 300 * time.Millisecond, ServerCPU: 150 * time.Millisecond,
		Memory: Memory{RssAnon: 2 << 20, VmRSS: 12 << 20},
	}
	sat := &Result{
		Cell:      Cell{Scenario: Scenario{Name: "tool"}, Transport: "json", Rate: 100000, Conns: 4, Workers: 16, Duration: 3 * time.Second},
		Sample:    &Sample{Latency: histOf(30000), Lag: histOf(30000), Due: 300000, Completed: 30000, Elapsed: 3 * time.Second},
		ClientCPU: time.Second, ServerCPU: -1,
		MemoryErr: errors.New("gone"),
	}
	return []*Result{ok, sat}
}

// TestBenchfmtRoundTrip: the benchfmt lines parse back with benchfmt's
// own reader, with the names, counts, units and values written; a
// saturated cell carries its throughput but no latency.
func TestBenchfmtRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	cfg := [][2]string{{"goos", "linux"}, {"cpu", "AMD EPYC test"}, {"daemon", "started /x/ringwired"}}
	if err := WriteBenchfmt(&buf, cfg, testResults()); err != nil {
		t.Fatal(err)
	}
	r := benchfmt.NewReader(&buf, "out.txt")
	var got []*benchfmt.Result
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			got = append(got, rec.Clone())
		case *benchfmt.SyntaxError:
			t.Fatalf("syntax error: %v\n%s", rec, buf.String())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d results, want 2:\n%s", len(got), buf.String())
	}
	a, b := got[0], got[1]
	if a.Name.String() != "Load/scenario=ping/transport=shm/rate=1000" || a.Iters != 3000 {
		t.Errorf("first result %s %d", a.Name, a.Iters)
	}
	if b.Name.String() != "Load/scenario=tool/transport=json/rate=100000" || b.Iters != 30000 {
		t.Errorf("second result %s %d", b.Name, b.Iters)
	}
	for _, kv := range [][2]string{{"cpu", "AMD EPYC test"}, {"daemon", "started /x/ringwired"}, {"conns", "4"}, {"workers", "16"}, {"duration", "3s"}} {
		if v := a.GetConfig(kv[0]); v != kv[1] {
			t.Errorf("config %s = %q, want %q", kv[0], v, kv[1])
		}
	}
	// benchfmt tidies ns to sec: p50-ns is read back as p50-sec.
	want := map[string]float64{
		"calls/s": 1000, "p50-sec": 1500e-6, "p90-sec": 2700e-6, "p99-sec": 2970e-6, "max-sec": 3000e-6,
		"errors/op": 0.01, "client-cpu-sec/op": 100e-6, "daemon-cpu-sec/op": 50e-6,
		"daemon-rssanon-B": 2 << 20, "daemon-vmrss-B": 12 << 20, "saturated": 0,
	}
	for unit, w := range want {
		v, ok := a.Value(unit)
		if !ok {
			t.Errorf("no %s in %v", unit, a.Values)
			continue
		}
		if d := v - w; d < -w/200 || d > w/200 {
			t.Errorf("%s = %v, want %v", unit, v, w)
		}
	}
	if _, ok := a.Value("p999-sec"); ok {
		t.Error("p999 from 3000 samples")
	}
	for _, unit := range []string{"p50-sec", "p99-sec", "p999-sec", "max-sec", "daemon-cpu-sec/op", "daemon-rssanon-B"} {
		if _, ok := b.Value(unit); ok {
			t.Errorf("saturated cell has %s", unit)
		}
	}
	if v, _ := b.Value("saturated"); v != 1 {
		t.Errorf("saturated = %v, want 1", v)
	}
	if v, _ := b.Value("calls/s"); v != 10000 {
		t.Errorf("saturated calls/s = %v, want 10000", v)
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, testResults()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", buf.String())
	}
	for _, want := range []string{"ping", "shm", "1000", "1.50ms", "2.97ms", "n<20000", "100µs", "50.0µs", "2.1MB", "12.6MB"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if n := strings.Count(lines[2], "saturated"); n != 5 {
		t.Errorf("saturated row %q names saturated %d times, want 5 (4 quantiles and max)", lines[2], n)
	}
	if !strings.Contains(lines[2], "10000") || !strings.Contains(lines[2], "?") {
		t.Errorf("saturated row %q", lines[2])
	}
	if err := WriteTable(io.Discard, nil); err != nil {
		t.Error(err)
	}
}

func TestRatios(t *testing.T) {
	rs := testResults()
	base := rs[0]
	other := &Result{
		Cell: Cell{Scenario: Scenario{Name: "ping"}, Transport: "json", Rate: 1000, Conns: 4, Workers: 16, Duration: 3 * time.Second},
		Sample: &Sample{Latency: histOf(6000), Lag: histOf(10), Due: 3000, Completed: 3000,
			Elapsed: 3 * time.Second},
		ClientCPU: 600 * time.Millisecond, ServerCPU: 600 * time.Millisecond,
		Memory: Memory{RssAnon: 6 << 20, VmRSS: 12 << 20},
	}
	var buf bytes.Buffer
	if err := WriteRatios(&buf, "shm", []*Result{base, other, rs[1]}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("ratios (the tool cell has no shm base, shm none to itself):\n%s", buf.String())
	}
	// p50 3 ms vs 1.5 ms, p99 5.94 vs 2.97 ms, same rate, CPU 2x and 4x, memory 3x.
	for _, want := range []string{"json", "2.00x", "1.00x", "4.00x", "3.00x"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if !strings.Contains(lines[0], "p50 vs shm") {
		t.Errorf("header %q", lines[0])
	}
}
