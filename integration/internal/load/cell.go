package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Cell is one measurement of a report: a scenario over a transport at a
// rate.
type Cell struct {
	Scenario  Scenario
	Transport string
	// Rate is the target in requests per second; 0 is the maximum (a
	// closed loop).
	Rate float64
	// Conns is the number of connections; Workers the requests in
	// flight at most, spread over them.
	Conns, Workers int
	// Duration is what is measured, after Warmup at the same rate.
	Duration, Warmup time.Duration
	// Burst is the on/off shape of a bursty scenario.
	Burst Burst
}

// RateName is the rate as reports name it: "1000", or "max".
func (c *Cell) RateName() string {
	if c.Rate <= 0 {
		return "max"
	}
	return strconv.FormatFloat(c.Rate, 'f', -1, 64)
}

// Name is the cell's benchmark name below BenchmarkLoad.
func (c *Cell) Name() string {
	return fmt.Sprintf("Load/scenario=%s/transport=%s/rate=%s", c.Scenario.Name, c.Transport, c.RateName())
}

// Result is a measured cell.
type Result struct {
	Cell   Cell
	Sample *Sample
	// ClientCPU is this process's CPU time over the measurement (every
	// thread: the generator's own work included; getrusage), ServerCPU
	// the server process's (its threads' schedstat, see CPUTime); -1
	// when unknown.
	ClientCPU, ServerCPU time.Duration
	// Memory is the server's after the measurement; MemoryErr why not.
	Memory    Memory
	MemoryErr error
	// Unexpected counts requests whose outcome was not Expected;
	// FirstUnexpected is the first of their errors.
	Unexpected      int64
	FirstUnexpected error
}

// Saturated reports whether the cell achieved less than
// SaturationThreshold of its target rate.
func (r *Result) Saturated() bool { return r.Sample.Saturated(r.Cell.Rate) }

// PerOp divides d by the completed requests; false when unknown.
func (r *Result) PerOp(d time.Duration) (time.Duration, bool) {
	if d < 0 || r.Sample.Completed == 0 {
		return 0, false
	}
	return d / time.Duration(r.Sample.Completed), true
}

// Measure runs c against t: a warm-up, then the measured run, with the
// CPU time of this process and of server (a pid; 0 if unknown) around it
// and the server's memory after it. It prints progress to progress (if
// not nil) every second.
func Measure(ctx context.Context, c Cell, w *Workload, t Target, server int, progress io.Writer) *Result {
	res := &Result{Cell: c, ClientCPU: -1, ServerCPU: -1}
	burst := Burst{}
	if c.Scenario.Bursty {
		burst = c.Burst
	}
	conns := max(c.Conns, 1)
	workers := max(c.Workers, 1)
	pos := make([]int, workers)
	for i := range pos {
		pos[i] = w.Start(i)
	}
	var done, errs atomic.Int64
	var umu sync.Mutex
	do := func(ctx context.Context, worker int) error {
		op := w.Next(&pos[worker])
		err := t.Do(ctx, worker%conns, op)
		done.Add(1)
		if err != nil {
			errs.Add(1)
		}
		if !Expected(op, err) && ctx.Err() == nil {
			umu.Lock()
			if res.Unexpected++; res.FirstUnexpected == nil {
				res.FirstUnexpected = fmt.Errorf("%v request: %w", op.Kind, err)
			}
			umu.Unlock()
		}
		return err
	}
	run := Run{Rate: c.Rate, Burst: burst, Workers: workers}
	if c.Warmup > 0 {
		run.Duration = c.Warmup
		run.Execute(ctx, do)
		umu.Lock()
		res.Unexpected, res.FirstUnexpected = 0, nil // a warm-up's failures are reported by the run's own
		umu.Unlock()
	}
	done.Store(0)
	errs.Store(0)
	stop := make(chan struct{})
	var pwg sync.WaitGroup
	if progress != nil {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t0 := time.Now()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					fmt.Fprintf(progress, "  %s: %.0fs of %v, %d done, %d errors\n", c.Name(), time.Since(t0).Seconds(), c.Duration, done.Load(), errs.Load())
				}
			}
		}()
	}
	c0, cerr := SelfCPU()
	s0, serr := ProcCPU(server)
	run.Duration = c.Duration
	res.Sample = run.Execute(ctx, do)
	c1, cerr1 := SelfCPU()
	s1, serr1 := ProcCPU(server)
	close(stop)
	pwg.Wait()
	if cerr == nil && cerr1 == nil {
		res.ClientCPU = c1 - c0
	}
	if server > 0 && serr == nil && serr1 == nil {
		res.ServerCPU = s1.Sub(s0)
	} else if server > 0 && progress != nil {
		fmt.Fprintf(progress, "  %s: no server CPU time: %v\n", c.Name(), errors.Join(serr, serr1))
	}
	if server > 0 {
		res.Memory, res.MemoryErr = ProcMemory(server)
	} else {
		res.MemoryErr = fmt.Errorf("load: no server pid")
	}
	return res
}
