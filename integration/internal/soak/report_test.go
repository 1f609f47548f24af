package soak

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/load"
)

func TestParseStats(t *testing.T) {
	good, err := json.Marshal(daemon.Stats{Sessions: 3, Goroutines: 9, Memory: daemon.MemoryStats{RuntimeTotalBytes: 1 << 20, OpenFDs: 12}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStats(good)
	if err != nil || st.Sessions != 3 || st.Memory.OpenFDs != 12 {
		t.Fatalf("ParseStats = %+v, %v", st, err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", `{"sessions":`, "stats answer"},
		{"an older daemon", `{"sessions":1,"goroutines":5}`, "without memory"},
		{"negative", `{"sessions":-1,"goroutines":5,"memory":{"runtime_total_bytes":1}}`, "sessions -1"},
		{"no goroutines", `{"sessions":1,"goroutines":0,"memory":{"runtime_total_bytes":1}}`, "goroutines 0"},
		{"too large", `"` + strings.Repeat("x", maxStats) + `"`, "limit"},
	} {
		if _, err := ParseStats([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.name, err, tc.want)
		}
	}
}

func fixedReport() *Report {
	in := withCycles(healthy())
	rep := &Report{
		Config:     Config{Small: 100, Sessions: 1000, Rate: 200, Conns: 16, Sustained: time.Minute, Rules: rules},
		Input:      in,
		PerSession: 16.5 * 1024, PerSessionFromIdle: 16.7 * 1024,
		Released: 4, Took: 77 * time.Second,
		Load: &load.Result{Sample: &load.Sample{Completed: 12000, Elapsed: time.Minute}},
	}
	before := in.Left[0]
	before.Phase += ", before release"
	before.Proc.RssAnon = 19 << 20
	in.Left[0].Proc.RssAnon = 9 << 20
	rep.Readings = append([]Reading{in.Idle, before}, in.Left...)
	rep.Readings[0].Memory.GCCycles = 0
	rep.Readings[2].Memory.GCCycles = 3
	rep.Readings[2].Settle = 3500 * time.Millisecond
	rep.Checks = Judge(in, rules)
	return rep
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, fixedReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"phase", "RssAnon", "no GC yet", "cycle 1: left", "3.5s",
		"RssAnon per idle shm session: 16.5 KiB (from 100 to 1000 sessions)",
		"12000 requests (200/s)", "slopes after the 12s warm-up (48 samples",
		"RssAnon after the warm-up: 11.94 MiB to 12.06 MiB (a spread of +128.0 KiB)",
		"PASS  goroutines back to idle: 7 after each of 4 phases", "no leak", "took 77s",
		"cycle 1: left: RssAnon 19.00 MiB before the release, 9.00 MiB after (-10.00 MiB)", "returned by the daemon's idle release",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	rep := fixedReport()
	rep.Input.Left[1].Goroutines = 8
	rep.Checks = Judge(rep.Input, rules)
	b.Reset()
	_ = WriteTable(&b, rep)
	if !strings.Contains(b.String(), "FAIL  goroutines back to idle: cycle 2: left: 8, idle 7 (+1)") || !strings.Contains(b.String(), "LEAK SUSPECTED") {
		t.Errorf("a failing check is not shown:\n%s", b.String())
	}
}

func TestWriteBenchfmt(t *testing.T) {
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, fixedReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"BenchmarkSoak/phase=idle 1 1 sessions 7 goroutines 14 fds 0 shm-maps 409600 live-heap-B",
		"BenchmarkSoak/phase=cycle_1_left 1 ",
		"BenchmarkSoak/phase=cycle_1_left_before_release 1 ",
		"BenchmarkSoak/per-session 1 16896 RssAnon-B/session",
		"BenchmarkSoak/sustained 1 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("benchfmt lacks %q:\n%s", want, out)
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "Benchmark") && len(f)%2 != 0 {
			t.Errorf("benchfmt line with a value without unit: %q", line)
		}
	}
}

func TestEveryN(t *testing.T) {
	var b bytes.Buffer
	e := &everyN{w: &b, n: 3}
	for i := range 7 {
		e.Write([]byte{byte('0' + i)})
	}
	if b.String() != "25" {
		t.Fatalf("passed %q, want every third: 25", b.String())
	}
}
