package soak

import (
	"fmt"
	"math"
	"time"

	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/load"
)

// Reading is the daemon at one moment: its own view (the Stats answer)
// and the kernel's (/proc/<pid>/status).
type Reading struct {
	Phase string
	// At is when it was taken, from the start of the soak.
	At time.Duration
	// Sessions and Goroutines are from Stats; the monitor's own session
	// (socket transport) is one of them in every reading.
	Sessions, Goroutines int
	Memory               daemon.MemoryStats
	Proc                 load.Memory
	// Settle is how long the levels took to come back, for a reading
	// taken after clients left.
	Settle time.Duration
}

// Point is one RssAnon sample of the sustained run.
type Point struct {
	At      time.Duration // from the start of the run
	RssAnon int64
	VmRSS   int64
}

// Slope fits y = a + b·x by least squares and returns b; ok is false for
// fewer than two points or all x equal.
func Slope(xs, ys []float64) (b float64, ok bool) {
	n := len(xs)
	if n < 2 || len(ys) != n {
		return 0, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx float64
	for i := range xs {
		dx := xs[i] - mx
		sxy += dx * (ys[i] - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0, false
	}
	return sxy / sxx, true
}

// SlopeAfter is the least-squares slope, in bytes per second, of the
// points at or after warmup, of RssAnon (anon) or VmRSS; ok false with
// fewer than two such points.
func SlopeAfter(ps []Point, warmup time.Duration, anon bool) (float64, int, bool) {
	var xs, ys []float64
	for _, p := range ps {
		if p.At < warmup {
			continue
		}
		xs = append(xs, p.At.Seconds())
		v := p.VmRSS
		if anon {
			v = p.RssAnon
		}
		ys = append(ys, float64(v))
	}
	b, ok := Slope(xs, ys)
	return b, len(xs), ok
}

// Rules are the verdict's bounds.
type Rules struct {
	// HeapGrowth is the most the live heap after the last cycle may
	// exceed the live heap after the first, as a share (0.10).
	HeapGrowth float64
	// SlopeBound is the most RssAnon may grow over the sustained run
	// after its warm-up, in bytes per second.
	SlopeBound float64
	// Warmup is the start of the sustained run the slope leaves out.
	Warmup time.Duration
}

// DefaultHeapGrowth is the 10%.
const DefaultHeapGrowth = 0.10

// DefaultGrowthBudget is the most RssAnon may grow, by its fitted slope,
// over the sustained run's measured window: 4 MiB. A flat daemon's
// RssAnon under the soak's mixed load moves within about 2.1 MiB here
// (6.8 to 8.9 MiB over a 5-minute run, slope -0.5 MiB/h: GC cycles and
// 64 KiB tool results taking and returning pages), so the budget is twice
// that spread. The default 60 s run (a 48 s window, 300 MiB/h) catches a
// leak of about 450 bytes per request at 200/s; the 1-hour run (a
// 48-minute window, 5 MiB/h) about 7 bytes per request.
const DefaultGrowthBudget = 4 << 20

// SlopeBound is the slope, in bytes per second, that grows budget bytes
// over window.
func SlopeBound(budget float64, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return budget / window.Seconds()
}

// Input is what the verdict judges.
type Input struct {
	// Idle is the daemon before any client (the monitor alone).
	Idle Reading
	// Left are the readings after clients left: after each cycle, then
	// after the sustained run; levels must equal Idle's.
	Left []Reading
	// Cycles are the readings after each cycle of sessions left, in
	// order (a subset of Left); the live heap of the last is compared
	// with the first.
	Cycles []Reading
	// Sustained are the samples of the sustained run.
	Sustained []Point
}

// Check is one rule's outcome.
type Check struct {
	Name   string
	Pass   bool
	Reason string
}

// Judge applies the rules to in. Every check is returned, passing or
// not, with its reason.
func Judge(in Input, r Rules) []Check {
	var cs []Check
	level := func(name string, idle int, get func(Reading) int) {
		c := Check{Name: name + " back to idle", Pass: true}
		if len(in.Left) == 0 {
			c.Pass, c.Reason = false, "no reading after clients left"
			cs = append(cs, c)
			return
		}
		if idle < 0 {
			c.Pass, c.Reason = false, "unknown at idle"
			cs = append(cs, c)
			return
		}
		for _, l := range in.Left {
			if v := get(l); v != idle {
				c.Pass = false
				c.Reason = fmt.Sprintf("%s: %d, idle %d (%+d)", l.Phase, v, idle, v-idle)
				break
			}
		}
		if c.Pass {
			c.Reason = fmt.Sprintf("%d after each of %d phases, as idle", idle, len(in.Left))
		}
		cs = append(cs, c)
	}
	level("goroutines", in.Idle.Goroutines, func(x Reading) int { return x.Goroutines })
	level("open fds", in.Idle.Memory.OpenFDs, func(x Reading) int { return x.Memory.OpenFDs })
	level("shared mappings", in.Idle.Memory.SharedMappings, func(x Reading) int { return x.Memory.SharedMappings })

	hc := Check{Name: fmt.Sprintf("live heap, last cycle vs first (≤ +%.0f%%)", r.HeapGrowth*100)}
	switch {
	case len(in.Cycles) < 2:
		hc.Reason = fmt.Sprintf("%d cycles: need 2", len(in.Cycles))
	case in.Cycles[0].Memory.HeapLiveBytes == 0:
		hc.Reason = "no live heap after the first cycle"
	default:
		first, last := in.Cycles[0].Memory.HeapLiveBytes, in.Cycles[len(in.Cycles)-1].Memory.HeapLiveBytes
		g := float64(last)/float64(first) - 1
		hc.Pass = g <= r.HeapGrowth+1e-9 // +10% exactly passes, whatever the rounding
		hc.Reason = fmt.Sprintf("%s after cycle 1, %s after cycle %d: %+.1f%%", mib(int64(first)), mib(int64(last)), len(in.Cycles), g*100)
	}
	cs = append(cs, hc)

	sc := Check{Name: fmt.Sprintf("RssAnon slope after %v warm-up (< %s/h)", r.Warmup, mib(int64(r.SlopeBound*3600)))}
	if b, n, ok := SlopeAfter(in.Sustained, r.Warmup, true); !ok {
		sc.Reason = fmt.Sprintf("%d samples after the warm-up: need 2", n)
	} else {
		sc.Pass = b < r.SlopeBound
		sc.Reason = fmt.Sprintf("%s/h over %d samples", signedMiB(b*3600), n)
	}
	cs = append(cs, sc)
	return cs
}

// Passed reports whether every check passed.
func Passed(cs []Check) bool {
	for _, c := range cs {
		if !c.Pass {
			return false
		}
	}
	return len(cs) > 0
}

func mib(b int64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

func signedMiB(b float64) string {
	if math.Abs(b) < 1<<20 {
		return fmt.Sprintf("%+.1f KiB", b/1024)
	}
	return fmt.Sprintf("%+.2f MiB", b/(1<<20))
}
