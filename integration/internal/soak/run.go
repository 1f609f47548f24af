package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/load"
	"github.com/ringwire/ringwire/protocol"
)

// Config is a soak of one running ringwired.
type Config struct {
	// Socket is the daemon's socket, PID its process, Workspace its
	// -workspace (the sustained run's tool calls read files there).
	Socket    string
	PID       int
	Workspace string
	// Small and Sessions are the two levels of idle sessions measured
	// (100, 1000); Cycles how many times Sessions connect and leave (3).
	Small, Sessions, Cycles int
	// Sustained is the length of the mixed run; Rate its requests per
	// second over Conns connections.
	Sustained time.Duration
	Rate      float64
	Conns     int
	// Sample is the sustained run's RssAnon sampling interval.
	Sample time.Duration
	// Settle bounds the wait for the levels to come back after clients
	// leave; ReleaseWait is the quiet time given the daemon before each
	// reading after that (its IdleReleaseDelay and a margin).
	Settle, ReleaseWait time.Duration
	Rules               Rules
	// Progress receives a line per step (nil: none).
	Progress io.Writer
}

// Report is a finished soak.
type Report struct {
	Config   Config
	Readings []Reading
	Input    Input
	Checks   []Check
	// PerSession is RssAnon per idle session, from Small to Sessions
	// ((RssAnon@Sessions − RssAnon@Small) / (Sessions − Small)), and
	// PerSessionFromIdle from none.
	PerSession, PerSessionFromIdle float64
	// Released counts the daemon's idle releases over the soak.
	Released uint64
	// Load is the sustained run's measurement.
	Load *load.Result
	// Took is the soak's wall time.
	Took time.Duration
}

type runner struct {
	cfg   Config
	start time.Time
	rep   *Report
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "soak %6.1fs: "+format+"\n", append([]any{time.Since(r.start).Seconds()}, args...)...)
	}
}

// Run soaks the daemon of cfg: idle, Small then Sessions idle sessions
// on shared memory, Cycles cycles of Sessions connecting and leaving,
// the sustained mixed run, and judges the readings.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r := &runner{cfg: cfg, start: time.Now(), rep: &Report{Config: cfg}}
	err := r.run(ctx)
	r.rep.Took = time.Since(r.start)
	return r.rep, err
}

func (r *runner) run(ctx context.Context) error {
	cfg := r.cfg
	idle, err := r.read(ctx, "idle")
	if err != nil {
		return err
	}
	r.rep.Input.Idle = idle
	r.logf("idle: %d goroutines, %d fds, RssAnon %s", idle.Goroutines, idle.Memory.OpenFDs, mib(idle.Proc.RssAnon))
	releases0 := idle.Memory.IdleReleases

	for cycle := 1; cycle <= cfg.Cycles; cycle++ {
		var sessions []*client.Client
		levels := []int{cfg.Sessions}
		if cycle == 1 && cfg.Small > 0 && cfg.Small < cfg.Sessions {
			levels = []int{cfg.Small, cfg.Sessions}
		}
		for _, n := range levels {
			more, err := r.connect(ctx, n-len(sessions))
			sessions = append(sessions, more...)
			if err != nil {
				closeAll(sessions)
				return err
			}
			rd, err := r.read(ctx, fmt.Sprintf("cycle %d: %d sessions", cycle, n))
			if err != nil {
				closeAll(sessions)
				return err
			}
			r.logf("%s: RssAnon %s, %d goroutines", rd.Phase, mib(rd.Proc.RssAnon), rd.Goroutines)
			if cycle == 1 {
				r.perSession(n, rd)
			}
		}
		closeAll(sessions)
		rd, err := r.left(ctx, fmt.Sprintf("cycle %d: left", cycle))
		if err != nil {
			return err
		}
		r.rep.Input.Cycles = append(r.rep.Input.Cycles, rd)
	}

	if cfg.Sustained > 0 {
		if err := r.sustained(ctx); err != nil {
			return err
		}
		if _, err := r.left(ctx, "sustained: left"); err != nil {
			return err
		}
	}
	last := r.rep.Readings[len(r.rep.Readings)-1]
	r.rep.Released = last.Memory.IdleReleases - releases0
	r.rep.Checks = Judge(r.rep.Input, cfg.Rules)
	return ctx.Err()
}

// perSession records RssAnon per session at n sessions.
func (r *runner) perSession(n int, rd Reading) {
	idle := r.rep.Input.Idle.Proc.RssAnon
	if n == r.cfg.Sessions {
		r.rep.PerSessionFromIdle = float64(rd.Proc.RssAnon-idle) / float64(n)
		for _, x := range r.rep.Readings {
			if x.Phase == fmt.Sprintf("cycle 1: %d sessions", r.cfg.Small) && r.cfg.Small < n {
				r.rep.PerSession = float64(rd.Proc.RssAnon-x.Proc.RssAnon) / float64(n-r.cfg.Small)
			}
		}
	}
}

// connect dials n shared-memory sessions, each answering a ping, with a
// few dials at once.
func (r *runner) connect(ctx context.Context, n int) ([]*client.Client, error) {
	out := make([]*client.Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	const par = 8
	for w := range par {
		wg.Go(func() {
			for i := w; i < n; i += par {
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				cl, err := client.Dial(dctx, r.cfg.Socket, client.WithTransport(protocol.TransportShm))
				if err == nil {
					out[i] = cl
					_, err = cl.Ping(dctx)
				}
				cancel()
				if err != nil {
					errs[i] = fmt.Errorf("soak: session %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var got []*client.Client
	for _, cl := range out {
		if cl != nil {
			got = append(got, cl)
		}
	}
	return got, errors.Join(errs...)
}

func closeAll(cls []*client.Client) {
	for _, cl := range cls {
		cl.Close()
	}
}

// BeforeRelease is when, after clients left, the reading before the
// daemon's idle release is taken.
const BeforeRelease = 500 * time.Millisecond

// left takes a reading BeforeRelease after clients left, then waits for
// the daemon's levels to come back to idle and its idle release to run
// (up to Settle), each time after ReleaseWait without a session so the
// release can run, and records the reading.
func (r *runner) left(ctx context.Context, phase string) (Reading, error) {
	t0 := time.Now()
	idle := r.rep.Input.Idle
	// First a look before the daemon's idle release: what the runtime
	// holds of what the sessions freed.
	select {
	case <-ctx.Done():
		return Reading{}, ctx.Err()
	case <-time.After(BeforeRelease):
	}
	rd, err := r.probe(ctx, phase+", before release")
	if err != nil {
		return rd, err
	}
	rd.Settle = time.Since(t0)
	r.rep.Readings = append(r.rep.Readings, rd)
	released := rd.Memory.IdleReleases
	for {
		select {
		case <-ctx.Done():
			return rd, ctx.Err()
		case <-time.After(r.cfg.ReleaseWait):
		}
		rd, err = r.probe(ctx, phase)
		if err != nil {
			return rd, err
		}
		back := rd.Goroutines == idle.Goroutines && rd.Memory.OpenFDs == idle.Memory.OpenFDs &&
			rd.Memory.SharedMappings == idle.Memory.SharedMappings && rd.Sessions == idle.Sessions &&
			rd.Memory.IdleReleases > released
		if back || time.Since(t0) >= r.cfg.Settle {
			break
		}
	}
	rd.Settle = time.Since(t0)
	r.rep.Readings = append(r.rep.Readings, rd)
	r.rep.Input.Left = append(r.rep.Input.Left, rd)
	r.logf("%s: RssAnon %s, live heap %s, %d goroutines (idle %d), settled in %.1fs",
		phase, mib(rd.Proc.RssAnon), mib(int64(rd.Memory.HeapLiveBytes)), rd.Goroutines, idle.Goroutines, rd.Settle.Seconds())
	return rd, nil
}

// read takes a reading and records it.
func (r *runner) read(ctx context.Context, phase string) (Reading, error) {
	rd, err := r.probe(ctx, phase)
	if err == nil {
		r.rep.Readings = append(r.rep.Readings, rd)
	}
	return rd, err
}

// probe asks the daemon for its Stats over a fresh socket-transport
// session (the monitor) and reads its /proc status.
func (r *runner) probe(ctx context.Context, phase string) (Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, r.cfg.Socket, client.WithTransport(protocol.TransportSocket))
	if err != nil {
		return Reading{}, fmt.Errorf("soak: monitor: %w", err)
	}
	defer cl.Close()
	b, err := cl.Stats(ctx)
	if err != nil {
		return Reading{}, fmt.Errorf("soak: stats: %w", err)
	}
	st, err := ParseStats(b)
	if err != nil {
		return Reading{}, err
	}
	pm, err := load.ProcMemory(r.cfg.PID)
	if err != nil {
		return Reading{}, err
	}
	return Reading{Phase: phase, At: time.Since(r.start), Sessions: st.Sessions, Goroutines: st.Goroutines,
		Memory: st.Memory, Proc: pm}, nil
}

// maxStats bounds the Stats answer read (1000 sessions' list is ~200 KB).
const maxStats = 16 << 20

// ParseStats decodes a Stats answer: a JSON object, from another process,
// so bounded and checked.
func ParseStats(b []byte) (daemon.Stats, error) {
	var st daemon.Stats
	if len(b) > maxStats {
		return st, fmt.Errorf("soak: stats answer of %d bytes (limit %d)", len(b), maxStats)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("soak: stats answer: %w", err)
	}
	if st.Sessions < 0 || st.Goroutines <= 0 {
		return st, fmt.Errorf("soak: stats answer: sessions %d, goroutines %d", st.Sessions, st.Goroutines)
	}
	if st.Memory.RuntimeTotalBytes == 0 {
		return st, errors.New("soak: stats answer without memory (a ringwired older than the soak?)")
	}
	return st, nil
}

// sustained runs the mixed scenario at Rate over Conns sessions for
// Sustained, sampling the daemon's memory every Sample.
func (r *runner) sustained(ctx context.Context) error {
	cfg := r.cfg
	sc, err := load.LookupScenario("mixed", load.DefaultErrorShare)
	if err != nil {
		return err
	}
	files, err := load.PrepareWorkspace(cfg.Workspace)
	if err != nil {
		return err
	}
	defer load.RemoveWorkspace(cfg.Workspace)
	w, err := load.NewWorkload(sc, files, 1)
	if err != nil {
		return err
	}
	t, err := load.DialRingwire(ctx, cfg.Socket, protocol.TransportShm, cfg.Conns)
	if err != nil {
		return err
	}
	defer t.Close()
	cell := load.Cell{Scenario: sc, Transport: "shm", Rate: cfg.Rate, Conns: cfg.Conns, Workers: cfg.Conns * 4, Duration: cfg.Sustained}
	r.logf("sustained: mixed at %v/s over %d sessions for %v", cfg.Rate, cfg.Conns, cfg.Sustained)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(cfg.Sample)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if m, err := load.ProcMemory(cfg.PID); err == nil {
					r.rep.Input.Sustained = append(r.rep.Input.Sustained, Point{At: time.Since(t0), RssAnon: m.RssAnon, VmRSS: m.VmRSS})
				}
			}
		}
	})
	var progress io.Writer
	if cfg.Progress != nil && cfg.Sustained >= 10*time.Second {
		progress = &everyN{w: cfg.Progress, n: 10}
	}
	res := load.Measure(ctx, cell, w, t, cfg.PID, progress)
	close(stop)
	wg.Wait()
	r.rep.Load = res
	if _, err := r.read(ctx, "sustained: under load"); err != nil {
		return err
	}
	if res.Unexpected > 0 {
		return fmt.Errorf("soak: sustained run: %d unexpected outcomes, first: %w", res.Unexpected, res.FirstUnexpected)
	}
	return nil
}

// everyN passes on one write in n (Measure writes a progress line a
// second; a 1-hour soak wants fewer).
type everyN struct {
	w    io.Writer
	n, i int
}

func (e *everyN) Write(p []byte) (int, error) {
	e.i++
	if e.i%e.n == 0 {
		return e.w.Write(p)
	}
	return len(p), nil
}
