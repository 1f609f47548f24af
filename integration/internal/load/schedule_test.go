package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func TestScheduleSteady(t *testing.T) {
	s := Schedule{Rate: 1000}
	for _, c := range []struct {
		i    int64
		want time.Duration
	}{{0, 0}, {1, time.Millisecond}, {999, 999 * time.Millisecond}, {1000, time.Second}} {
		if got := s.Offset(c.i); got != c.want {
			t.Errorf("Offset(%d) = %v, want %v", c.i, got, c.want)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{{0, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1}, {time.Millisecond + 1, 2}, {time.Second, 1000}} {
		if got := s.Count(c.d); got != c.want {
			t.Errorf("Count(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestScheduleBurst(t *testing.T) {
	// 100/s on average in bursts of 100 ms every 500 ms: 50 requests per
	// burst, 2 ms apart, none in the silences.
	s := Schedule{Rate: 100, Burst: Burst{On: 100 * time.Millisecond, Off: 400 * time.Millisecond}}
	if got := s.Count(time.Second); got != 100 {
		t.Fatalf("Count(1s) = %d, want 100", got)
	}
	prev := time.Duration(-1)
	for i := range int64(200) {
		at := s.Offset(i)
		if at <= prev {
			t.Fatalf("Offset(%d) = %v, not after Offset(%d) = %v", i, at, i-1, prev)
		}
		prev = at
		period := at / (500 * time.Millisecond)
		if in := at - period*500*time.Millisecond; in >= 100*time.Millisecond {
			t.Fatalf("Offset(%d) = %v falls %v into its period, past the burst", i, at, in)
		}
		if want := time.Duration(i/50)*500*time.Millisecond + time.Duration(i%50)*2*time.Millisecond; at != want {
			t.Fatalf("Offset(%d) = %v, want %v", i, at, want)
		}
	}
}

// stallTarget answers at once, except that the stallAt-th call (from 0)
// holds a lock for stall, so every call during it waits too: a server
// that stops for a while.
type stallTarget struct {
	mu      sync.Mutex
	n       atomic.Int64
	stallAt int64
	stall   time.Duration
}

func (s *stallTarget) do(ctx context.Context, _ int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n.Add(1)-1 == s.stallAt {
		time.Sleep(s.stall)
	}
	return nil
}

// TestOpenLoopCountsStallFromSchedule: a 100 ms stall at 1000 requests/s
// delays the ~100 requests due during it; measured from their due time,
// about half of them wait 50 ms or more. Measured from when they were
// sent (coordinated omission) only the one that hit the stall would.
func TestOpenLoopCountsStallFromSchedule(t *testing.T) {
	tg := &stallTarget{stallAt: 100, stall: 100 * time.Millisecond}
	r := Run{Rate: 1000, Duration: 600 * time.Millisecond, Workers: 1}
	s := r.Execute(context.Background(), tg.do)
	if s.Due != 600 || s.Completed != 600 || s.Errors != 0 {
		t.Fatalf("due %d, completed %d, errors %d; want 600, 600, 0", s.Due, s.Completed, s.Errors)
	}
	if max := time.Duration(s.Latency.Max()); max < 100*time.Millisecond {
		t.Errorf("max latency %v, want at least the 100 ms stall", max)
	}
	slow := atLeast(s.Latency, 50*time.Millisecond)
	if slow < 40 {
		t.Errorf("%d requests took 50 ms or more, want about 50 (every request due in the first half of the stall)", slow)
	}
	// The closed loop, for contrast, sees the stall in one request (a
	// busy machine may stall another one or two by itself).
	tg = &stallTarget{stallAt: 100, stall: 100 * time.Millisecond}
	s = Run{Duration: 300 * time.Millisecond, Workers: 1}.Execute(context.Background(), tg.do)
	if slow := atLeast(s.Latency, 50*time.Millisecond); slow < 1 || slow > 5 {
		t.Errorf("closed loop: %d requests took 50 ms or more, want 1", slow)
	}
}

// atLeast counts the samples of h of d or more.
func atLeast(h *hdrhistogram.Histogram, d time.Duration) int64 {
	n := int64(0)
	for _, b := range h.Distribution() {
		if b.From >= int64(d) {
			n += b.Count
		}
	}
	return n
}

// slowTarget takes d per request, one at a time.
func slowTarget(d time.Duration) DoFunc {
	var mu sync.Mutex
	return func(ctx context.Context, _ int) error {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(d)
		return nil
	}
}

func TestSaturation(t *testing.T) {
	// 2 ms per request cannot keep up with 1000/s: about 500/s.
	r := Run{Rate: 1000, Duration: 400 * time.Millisecond, Workers: 4, Drain: 50 * time.Millisecond}
	s := r.Execute(context.Background(), slowTarget(2*time.Millisecond))
	if !s.Saturated(r.Rate) {
		t.Fatalf("%.0f/s of a 1000/s target is not saturated", s.Throughput())
	}
	if s.Completed >= s.Due {
		t.Errorf("completed %d of %d due: the drain deadline should have cut the backlog", s.Completed, s.Due)
	}
	qs, maxv := Latencies(s.Latency, s.Saturated(r.Rate))
	for i, q := range qs {
		if q.OK || q.Missing != "saturated" {
			t.Errorf("%s of a saturated cell = %+v, want saturated", Quantiles[i].Name, q)
		}
	}
	if maxv.OK {
		t.Errorf("max of a saturated cell = %v", maxv)
	}
	// 100/s is well within it (unless the last answer comes more than
	// 50 ms late: the achieved rate counts until then).
	r = Run{Rate: 100, Duration: time.Second, Workers: 4}
	if s := r.Execute(context.Background(), slowTarget(time.Millisecond)); s.Saturated(r.Rate) {
		t.Errorf("%.0f/s of a 100/s target (%d of %d) is saturated", s.Throughput(), s.Completed, s.Due)
	}
	// A closed loop never is.
	if s := (Run{Duration: 50 * time.Millisecond}).Execute(context.Background(), slowTarget(2*time.Millisecond)); s.Saturated(0) {
		t.Error("a closed loop is saturated")
	}
}

// TestDrainAbandons: requests still running at the drain deadline are
// canceled and not counted as answers; Execute returns.
func TestDrainAbandons(t *testing.T) {
	block := func(ctx context.Context, _ int) error {
		<-ctx.Done()
		return ctx.Err()
	}
	start := time.Now()
	s := Run{Rate: 100, Duration: 100 * time.Millisecond, Workers: 2, Drain: 50 * time.Millisecond}.Execute(context.Background(), block)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Execute took %v", el)
	}
	if s.Completed != 0 || s.Due != 10 {
		t.Errorf("completed %d of %d due, want 0 of 10", s.Completed, s.Due)
	}
	if !s.Saturated(100) {
		t.Error("no answers is not saturated")
	}
}

func TestClosedLoopBurst(t *testing.T) {
	// Bursts of 20 ms every 100 ms for 250 ms: three bursts of ~20 ms
	// of 1 ms requests, so about 60 requests, nowhere near 250.
	r := Run{Duration: 250 * time.Millisecond, Workers: 1, Burst: Burst{On: 20 * time.Millisecond, Off: 80 * time.Millisecond}}
	s := r.Execute(context.Background(), func(ctx context.Context, _ int) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if s.Completed < 10 || s.Completed > 120 {
		t.Errorf("completed %d requests in bursts, want about 60", s.Completed)
	}
	if s.Completed != s.Due {
		t.Errorf("completed %d, started %d", s.Completed, s.Due)
	}
}

func TestErrorsCounted(t *testing.T) {
	var n atomic.Int64
	s := Run{Rate: 2000, Duration: 100 * time.Millisecond, Workers: 2}.Execute(context.Background(), func(ctx context.Context, _ int) error {
		if n.Add(1)%4 == 0 {
			return ErrHandler
		}
		return nil
	})
	if s.Completed != 200 || s.Errors != 50 {
		t.Errorf("completed %d, errors %d; want 200, 50", s.Completed, s.Errors)
	}
	if s.Latency.TotalCount() != 200 {
		t.Errorf("%d latencies recorded, want 200 (failed requests are timed too)", s.Latency.TotalCount())
	}
}

func TestTimerfdClock(t *testing.T) {
	c := newTimerfdClock()
	if c == nil {
		t.Skip("no timerfd")
	}
	defer c.Close()
	for _, d := range []time.Duration{-time.Millisecond, 0, 10 * time.Microsecond, 100 * time.Microsecond, 30 * time.Millisecond} {
		at := time.Now().Add(d)
		c.SleepUntil(context.Background(), at)
		if now := time.Now(); now.Before(at) {
			t.Errorf("SleepUntil(now+%v) returned %v early", d, at.Sub(now))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	c.SleepUntil(ctx, start.Add(time.Hour))
	if time.Since(start) > time.Second {
		t.Error("SleepUntil ignored a canceled context")
	}
}

// BenchmarkOpenLoopOverhead is the generator's own cost per request: the
// schedule, the hand-off to a worker, two clock reads and two histogram
// records, with a request that does nothing (all b.N due at once).
func BenchmarkOpenLoopOverhead(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			nop := func(context.Context, int) error { return nil }
			r := Run{Rate: 1e9, Duration: time.Duration(b.N), Workers: workers}
			b.ReportAllocs()
			b.ResetTimer()
			s := r.Execute(context.Background(), nop)
			b.StopTimer()
			if s.Completed != int64(b.N) {
				b.Fatalf("completed %d of %d", s.Completed, b.N)
			}
		})
	}
}
