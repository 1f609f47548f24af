package soak

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/daemon"
)

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		name   string
		xs, ys []float64
		want   float64
		ok     bool
	}{
		{"flat", []float64{0, 1, 2, 3}, []float64{5, 5, 5, 5}, 0, true},
		{"line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, true},
		{"falling", []float64{10, 20, 30}, []float64{9, 6, 3}, -0.3, true},
		// Least squares, not end points: noise around y = x.
		{"noisy", []float64{0, 1, 2, 3, 4}, []float64{1, 0, 3, 2, 4}, 0.8, true},
		{"one point", []float64{1}, []float64{1}, 0, false},
		{"no spread", []float64{2, 2, 2}, []float64{1, 2, 3}, 0, false},
		{"lengths differ", []float64{1, 2}, []float64{1}, 0, false},
	} {
		got, ok := Slope(tc.xs, tc.ys)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: Slope = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSlopeAfterSkipsWarmup(t *testing.T) {
	// Steep during the warm-up, flat after it.
	var ps []Point
	for i := range 20 {
		v := int64(10 << 20)
		if i < 5 {
			v = int64(i) << 20
		}
		ps = append(ps, Point{At: time.Duration(i) * time.Second, RssAnon: v, VmRSS: int64(i) << 20})
	}
	b, n, ok := SlopeAfter(ps, 5*time.Second, true)
	if !ok || n != 15 || b != 0 {
		t.Fatalf("RssAnon after warm-up: %v over %d, %v; want 0 over 15", b, n, ok)
	}
	if b, _, _ := SlopeAfter(ps, 5*time.Second, false); math.Abs(b-(1<<20)) > 1e-6 {
		t.Fatalf("VmRSS slope = %v, want 1 MiB/s", b)
	}
	if _, n, ok := SlopeAfter(ps, time.Hour, true); ok || n != 0 {
		t.Fatal("no point after the warm-up must not give a slope")
	}
}

func TestSlopeBound(t *testing.T) {
	if got := SlopeBound(512<<10, 48*time.Second); math.Abs(got-512*1024/48.0) > 1e-9 {
		t.Fatalf("SlopeBound = %v", got)
	}
	if SlopeBound(1, 0) != 0 {
		t.Fatal("an empty window has no bound")
	}
}

// reading is a reading at a level.
func reading(phase string, goroutines, fds, maps int, heap uint64) Reading {
	return Reading{Phase: phase, Sessions: 1, Goroutines: goroutines,
		Memory: daemon.MemoryStats{OpenFDs: fds, SharedMappings: maps, HeapLiveBytes: heap}}
}

// flat is the sustained run of a daemon that does not grow: RssAnon
// wobbling by ±64 KiB around 12 MiB.
func flat() []Point {
	var ps []Point
	for i := range 60 {
		w := int64(64 << 10)
		if i%2 == 0 {
			w = -w
		}
		ps = append(ps, Point{At: time.Duration(i) * time.Second, RssAnon: 12<<20 + w})
	}
	return ps
}

func healthy() Input {
	return Input{
		Idle: reading("idle", 7, 14, 0, 400<<10),
		Left: []Reading{
			reading("cycle 1: left", 7, 14, 0, 1700<<10),
			reading("cycle 2: left", 7, 14, 0, 1720<<10),
			reading("cycle 3: left", 7, 14, 0, 1750<<10),
			reading("sustained: left", 7, 14, 0, 1600<<10),
		},
		Sustained: flat(),
	}
}

func withCycles(in Input) Input {
	in.Cycles = in.Left[:3]
	return in
}

var rules = Rules{HeapGrowth: DefaultHeapGrowth, SlopeBound: SlopeBound(DefaultGrowthBudget, 48*time.Second), Warmup: 12 * time.Second}

func check(t *testing.T, cs []Check, prefix string) Check {
	t.Helper()
	for _, c := range cs {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, cs)
	return Check{}
}

func TestJudgeHealthyPasses(t *testing.T) {
	cs := Judge(withCycles(healthy()), rules)
	if !Passed(cs) {
		t.Fatalf("a healthy daemon fails: %+v", cs)
	}
	if len(cs) != 5 {
		t.Fatalf("%d checks, want 5", len(cs))
	}
}

func TestJudgeFailures(t *testing.T) {
	for _, tc := range []struct {
		name, check, reason string
		mutate              func(*Input)
	}{
		{"goroutines stay", "goroutines", "cycle 2: left: 9, idle 7 (+2)", func(in *Input) { in.Left[1].Goroutines = 9 }},
		{"goroutines below idle", "goroutines", "(-1)", func(in *Input) { in.Left[3].Goroutines = 6 }},
		{"an fd stays open", "open fds", "sustained: left: 15, idle 14 (+1)", func(in *Input) { in.Left[3].Memory.OpenFDs = 15 }},
		{"a ring stays mapped", "shared mappings", "cycle 1: left: 1, idle 0 (+1)", func(in *Input) { in.Left[0].Memory.SharedMappings = 1 }},
		{"fds unknown", "open fds", "unknown at idle", func(in *Input) { in.Idle.Memory.OpenFDs = -1 }},
		{"no reading after leaving", "goroutines", "no reading", func(in *Input) { in.Left = nil }},
		{"heap grows 11%", "live heap", "+11.0%", func(in *Input) { in.Left[2].Memory.HeapLiveBytes = 1700 << 10 * 111 / 100 }},
		{"one cycle only", "live heap", "1 cycles: need 2", func(in *Input) { in.Cycles = in.Left[:1] }},
		{"no heap after cycle 1", "live heap", "no live heap", func(in *Input) { in.Left[0].Memory.HeapLiveBytes = 0 }},
		{"RssAnon grows", "RssAnon slope", "over 48 samples", func(in *Input) {
			for i := range in.Sustained {
				in.Sustained[i].RssAnon += int64(i) * 128 << 10 // 128 KiB/s: 450 MiB/h, 6 MiB over the window
			}
		}},
		{"too short", "RssAnon slope", "1 samples after the warm-up", func(in *Input) { in.Sustained = in.Sustained[:13] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := withCycles(healthy())
			tc.mutate(&in)
			if in.Cycles == nil && in.Left != nil {
				in.Cycles = in.Left[:3]
			}
			cs := Judge(in, rules)
			c := check(t, cs, tc.check)
			if c.Pass || Passed(cs) {
				t.Fatalf("passes: %+v", cs)
			}
			if !strings.Contains(c.Reason, tc.reason) {
				t.Fatalf("reason %q, want it to say %q", c.Reason, tc.reason)
			}
		})
	}
}

// TestJudgeNoisyFlatPasses: RssAnon swinging by 2 MiB, as a flat
// daemon's does under the mixed load here, is no slope.
func TestJudgeNoisyFlatPasses(t *testing.T) {
	in := withCycles(healthy())
	for i := range in.Sustained {
		in.Sustained[i].RssAnon = 8<<20 + int64((i*7919)%5-2)*(512<<10) // 7..9 MiB, no trend
	}
	if c := check(t, Judge(in, rules), "RssAnon slope"); !c.Pass {
		t.Fatalf("noise fails: %+v", c)
	}
	// A slow leak under the budget passes too: 2 MiB over the 48 s window.
	in = withCycles(healthy())
	for i := range in.Sustained {
		in.Sustained[i].RssAnon += int64(i) * (2 << 20) / 48
	}
	if c := check(t, Judge(in, rules), "RssAnon slope"); !c.Pass {
		t.Fatalf("2 MiB over the window fails a 4 MiB budget: %+v", c)
	}
}

func TestJudgeHeapMayShrink(t *testing.T) {
	in := withCycles(healthy())
	in.Left[2].Memory.HeapLiveBytes = 1000 << 10
	in.Left[0].Memory.HeapLiveBytes = 1700 << 10
	if c := check(t, Judge(in, rules), "live heap"); !c.Pass {
		t.Fatalf("a smaller heap fails: %+v", c)
	}
	// 10% exactly passes.
	in.Left[2].Memory.HeapLiveBytes = 1700 << 10 * 110 / 100
	if c := check(t, Judge(in, rules), "live heap"); !c.Pass {
		t.Fatalf("+10%% fails: %+v", c)
	}
}

func TestPassedNeedsChecks(t *testing.T) {
	if Passed(nil) {
		t.Fatal("no check is no verdict")
	}
}
