package load

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: latencies from 1 ns to 60 s, three significant digits.
const (
	histMin     = 1
	histMax     = int64(60 * time.Second)
	histSigFigs = 3
)

// NewHistogram returns an empty latency histogram in nanoseconds, as
// every cell records them.
func NewHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigFigs) }

// Record adds d to h, clamped into the histogram's range (a latency past
// 60 s is recorded as 60 s, never dropped).
func Record(h *hdrhistogram.Histogram, d time.Duration) {
	v := int64(d)
	if v < histMin {
		v = histMin
	}
	if v > histMax {
		v = histMax
	}
	_ = h.RecordValue(v)
}

// Burst shapes a schedule into on/off phases: requests only during the
// first On of every On+Off period, at the rate that keeps the period's
// average at the target rate. The zero value is a steady schedule.
type Burst struct {
	On, Off time.Duration
}

// steady reports whether b is no burst at all.
func (b Burst) steady() bool { return b.On <= 0 || b.Off <= 0 }

// Schedule is an open-loop schedule: request i is due at Offset(i) after
// the start, whatever happened to the requests before it.
type Schedule struct {
	Rate  float64 // requests per second, averaged over a burst period; > 0
	Burst Burst
}

// Offset returns when request i (from 0) is due, after the start.
func (s Schedule) Offset(i int64) time.Duration {
	if s.Burst.steady() {
		return time.Duration(math.Round(float64(i) * 1e9 / s.Rate))
	}
	period := s.Burst.On + s.Burst.Off
	perPeriod := s.Rate * period.Seconds() // requests per period, all in its On phase
	n := math.Floor(float64(i) / perPeriod)
	j := float64(i) - n*perPeriod
	return time.Duration(n)*period + time.Duration(math.Round(j*float64(s.Burst.On)/perPeriod))
}

// Count returns how many requests are due in [0, d).
func (s Schedule) Count(d time.Duration) int64 {
	// Offset is monotonic: search for the first i with Offset(i) >= d.
	hi := int64(math.Ceil(s.Rate*d.Seconds())) + 2
	lo := int64(0)
	for lo < hi {
		m := lo + (hi-lo)/2
		if s.Offset(m) < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Clock is the time source of a run: the real one (RealClock) or a test's.
type Clock interface {
	Now() time.Time
	// SleepUntil returns at t or later, or when ctx ends.
	SleepUntil(ctx context.Context, t time.Time)
}

// RealClock is the wall clock (time.Now, monotonic).
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// SleepUntil sleeps until t on a Go timer: when the process is otherwise
// idle it wakes about a millisecond late at best (see timerfdClock).
func (RealClock) SleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	select {
	case <-tm.C:
	case <-ctx.Done():
		tm.Stop()
	}
}

// DoFunc performs one request for worker w (0 <= w < Workers). A non-nil
// error counts the request as failed; it is still timed.
type DoFunc func(ctx context.Context, w int) error

// Run is one measurement: a schedule (open loop) or back-to-back calls
// (closed loop) for Duration.
type Run struct {
	// Rate is the target in requests per second over all workers; 0
	// runs a closed loop, every worker calling back to back.
	Rate float64
	// Burst applies on/off phases (open loop: the schedule; closed
	// loop: the workers pause during the off phases).
	Burst Burst
	// Duration is how long requests are scheduled (open loop) or
	// started (closed loop).
	Duration time.Duration
	// Workers is how many requests may be in flight at once.
	Workers int
	// Drain bounds how long requests already due may still complete
	// after Duration (open loop); what is still queued then is counted
	// as not completed. Default: Duration/2, at least 1 s.
	Drain time.Duration
	// Clock defaults to the wall clock, with the open loop's dispatcher
	// woken by a timerfd (see timerfdClock) and the closed loop's pauses
	// by Go timers.
	Clock Clock
}

// Sample is what a Run measured.
type Sample struct {
	// Latency holds every completed request's latency in ns: from its
	// scheduled time (open loop) or its start (closed loop) to its
	// answer. Failed requests are included.
	Latency *hdrhistogram.Histogram
	// Lag holds, in the open loop, how late each request started
	// compared with its schedule: the generator's own delay (waking
	// up, all workers busy), which Latency includes.
	Lag *hdrhistogram.Histogram
	// Due is how many requests the schedule held (open loop) or were
	// started (closed loop); Completed how many were answered (ok or
	// failed); Errors how many of those failed.
	Due, Completed, Errors int64
	// Elapsed is from the start to the end of the run or the last
	// answer, whichever is later.
	Elapsed time.Duration
}

// Throughput is completed requests per second of Elapsed.
func (s *Sample) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Completed) / s.Elapsed.Seconds()
}

// SaturationThreshold is the share of its target rate a cell must achieve
// to be reported with latencies; below it the cell is saturated.
const SaturationThreshold = 0.95

// Saturated reports whether an open-loop sample achieved less than
// SaturationThreshold of rate (requests per second). A closed loop
// (rate 0) is never saturated: it runs as fast as it can.
func (s *Sample) Saturated(rate float64) bool {
	return rate > 0 && s.Throughput() < SaturationThreshold*rate
}

// worker state kept per goroutine so recording takes no lock.
type workerHist struct {
	lat, lag   *hdrhistogram.Histogram
	done, errs int64
	last       time.Time
	_          [64]byte // keeps workers' counters off each other's cache lines
}

// Execute runs r, calling do for every request. It returns when every
// request it started has finished (or was abandoned at the drain
// deadline: do must honour ctx).
func (r Run) Execute(ctx context.Context, do DoFunc) *Sample {
	clk := r.Clock
	if clk == nil {
		clk = RealClock{}
		if r.Rate > 0 {
			if tc := newTimerfdClock(); tc != nil {
				defer tc.Close()
				clk = tc
			}
		}
	}
	workers := max(r.Workers, 1)
	ws := make([]workerHist, workers)
	for i := range ws {
		ws[i].lat, ws[i].lag = NewHistogram(), NewHistogram()
	}
	start := clk.Now()
	var due int64
	if r.Rate > 0 {
		due = r.openLoop(ctx, clk, start, ws, do)
	} else {
		due = r.closedLoop(ctx, clk, start, ws, do)
	}
	s := &Sample{Latency: NewHistogram(), Lag: NewHistogram(), Due: due}
	end := start.Add(r.Duration)
	for i := range ws {
		s.Latency.Merge(ws[i].lat)
		s.Lag.Merge(ws[i].lag)
		s.Completed += ws[i].done
		s.Errors += ws[i].errs
		if ws[i].last.After(end) {
			end = ws[i].last
		}
	}
	s.Elapsed = end.Sub(start)
	return s
}

// openLoop hands each request of the schedule, with its due time, to the
// first free worker. A request's latency runs from its due time, so a
// stall of the target (or of the generator) shows in the latency of every
// request due during it: no coordinated omission.
func (r Run) openLoop(ctx context.Context, clk Clock, start time.Time, ws []workerHist, do DoFunc) int64 {
	sched := Schedule{Rate: r.Rate, Burst: r.Burst}
	total := sched.Count(r.Duration)
	drain := r.Drain
	if drain <= 0 {
		drain = max(r.Duration/2, time.Second)
	}
	deadline := start.Add(r.Duration + drain)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The queue holds due times (ns after start). Its bound keeps a
	// saturated run's backlog, and so its drain, finite; when it is
	// full the dispatcher waits, and the requests it then hands out
	// late still count from their due time.
	queue := make(chan int64, max(4*len(ws), 1024))
	var abandoned atomic.Bool
	var wg sync.WaitGroup
	for w := range ws {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			st := &ws[w]
			for at := range queue {
				if abandoned.Load() {
					continue
				}
				dueAt := start.Add(time.Duration(at))
				now := clk.Now()
				if now.After(deadline) {
					abandoned.Store(true)
					continue
				}
				Record(st.lag, now.Sub(dueAt))
				err := do(dctx, w)
				now = clk.Now()
				if dctx.Err() != nil {
					abandoned.Store(true)
					continue // canceled at the drain deadline: not an answer
				}
				Record(st.lat, now.Sub(dueAt))
				st.done++
				if err != nil {
					st.errs++
				}
				st.last = now
			}
		}(w)
	}
	// The drain deadline cancels requests still running then.
	drainTimer := time.AfterFunc(time.Until(deadline), cancel)
	var i int64
	for ; i < total && ctx.Err() == nil; i++ {
		at := sched.Offset(i)
		clk.SleepUntil(ctx, start.Add(at))
		select {
		case queue <- int64(at):
		case <-dctx.Done():
		}
		if dctx.Err() != nil {
			break
		}
	}
	close(queue)
	wg.Wait()
	drainTimer.Stop()
	return total
}

// closedLoop runs every worker back to back until Duration is over
// (pausing in the off phases of a burst).
func (r Run) closedLoop(ctx context.Context, clk Clock, start time.Time, ws []workerHist, do DoFunc) int64 {
	end := start.Add(r.Duration)
	var started atomic.Int64
	var wg sync.WaitGroup
	for w := range ws {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			st := &ws[w]
			for ctx.Err() == nil {
				t0 := clk.Now()
				if !t0.Before(end) {
					return
				}
				if !r.Burst.steady() {
					period := r.Burst.On + r.Burst.Off
					if in := t0.Sub(start) % period; in >= r.Burst.On {
						clk.SleepUntil(ctx, t0.Add(period-in))
						continue
					}
				}
				started.Add(1)
				err := do(ctx, w)
				now := clk.Now()
				Record(st.lat, now.Sub(t0))
				st.done++
				if err != nil {
					st.errs++
				}
				st.last = now
			}
		}(w)
	}
	wg.Wait()
	return started.Load()
}
