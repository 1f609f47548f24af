package shmring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

func expired(dl *atomic.Int64) bool {
	d := dl.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

// waitRx waits until the receive ring holds something, the connection goes
// down, the deadline passes or ctx is done. Called with rxMu held.
func (c *Conn) waitRx(ctx context.Context) error {
	w, r := c.rxWait, &c.rx.consumer
	ready := func() (bool, error) {
		e, err := r.empty()
		return !e, err
	}
	// WaitPredict keeps apart the waits that follow a publish which had
	// to ring the peer awake: its answer comes after a wake-up, and a
	// spin here holds the CPU the woken peer would have run on.
	pred := &c.rxPred
	if c.txRang.Load() != 0 {
		pred = &c.rxPredRang
	}
	return c.failOnCorrupt(c.wait(ctx, w, pred, &c.rdl, r.consParked, r.prodCPU, ready, c.rxErr))
}

// waitTx waits until the consumer released space. Called with txMu held.
func (c *Conn) waitTx(ctx context.Context) error {
	w, p := c.txWait, &c.tx.producer
	ready := func() (bool, error) { return p.cons.Load() != p.consSeen, nil }
	return c.failOnCorrupt(c.wait(ctx, w, &c.txPred, &c.wdl, p.prodParked, p.consCPU, ready, c.txErr))
}

// failOnCorrupt ends the connection when a wait found a corrupt position.
func (c *Conn) failOnCorrupt(err error) error {
	if err != nil && errors.Is(err, ErrCorrupt) && c.state.Load()&stFailed == 0 {
		c.fail(err)
	}
	return err
}

// gsFirst is how long a wait spins before its first runtime.Gosched; the
// next ones come at doubling times.
const gsFirst = 16 * time.Microsecond

// wait is the spin-then-park loop (SPEC.md, "Wake-ups"): spin on ready for a
// bounded, adaptive time; then set the parked flag, re-check, and block in
// the netpoller on the eventfd. The flag store and the re-check are
// sequentially consistent, as are the peer's position store and flag load,
// so a signal cannot be lost. After a park it moves the thread off the CPU
// the peer woke it from (wakerCPU, the peer's hint; see unstack).
func (c *Conn) wait(ctx context.Context, w *waiter, pred *predictor, dl *atomic.Int64, parked interface {
	Store(uint32)
	Swap(uint32) uint32
}, wakerCPU *atomic.Uint32, ready func() (bool, error), downErr func(uint32) error) error {
	down := func() error {
		st := c.state.Load()
		if st == 0 {
			return nil
		}
		if st&stPeerDown != 0 && st&(stClosed|stFailed) == 0 {
			// Whatever the peer published before it went is still readable.
			if ok, err := ready(); ok || err != nil {
				return err
			}
		}
		return downErr(st)
	}
	spin := w.spin
	var begin time.Time // when a WaitPredict wait that parks at once began
	if c.policy == WaitPredict {
		if spin = pred.bound(w.spinMax); spin == 0 {
			begin = time.Now()
		}
	}
	var start time.Time
	if spin > 0 {
		start = time.Now()
		gsAt := gsFirst
		for i := 1; ; i++ {
			if ok, err := ready(); ok || err != nil {
				if ok {
					c.stSpinHits.Add(1)
					pred.hit()
				}
				return err
			}
			if c.state.Load() != 0 {
				break
			}
			if i&63 != 0 {
				continue
			}
			spun := time.Since(start)
			if spun >= spin {
				c.stSpinMisses.Add(1)
				pred.miss()
				break
			}
			// Now and then, not in a short wait, let this process's other
			// runnable goroutines (other connections, handlers) have the
			// P. A Gosched with nothing else runnable is not free: the
			// runtime wakes an idle P's thread to look for work (a futex
			// wake-up, and CPU taken from the peer in the middle of the
			// exchange we wait for). A caller that just readied
			// goroutines of its own yields itself before it waits (the
			// client's reader after handing answers over, the daemon
			// after starting handlers). The CPU is not yielded to other
			// threads (sched_yield) while spinning: with two processes
			// spinning on two CPUs a yield lets the kernel stack both on
			// one CPU, taking turns at each yield; a yield every 256
			// probes (~8 µs) made the ring's round-trip p99 ~9 µs, a yield
			// after 16 µs made the client's ~60 µs; with none it is 1-4 µs.
			if spun >= gsAt {
				runtime.Gosched()
				gsAt *= 2
			}
		}
	}
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if err := down(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, w.wakeFn)
		}
		if expired(dl) {
			return os.ErrDeadlineExceeded
		}
		// Swap, not Store: the flag must be visible before ready re-reads
		// the position (a full fence even under the race detector, whose
		// atomic stores are release-only).
		parked.Swap(1)
		if ok, err := ready(); ok || err != nil {
			parked.Store(0)
			return err
		}
		if err := down(); err != nil {
			parked.Store(0)
			return err
		}
		c.stParks.Add(1)
		err := w.park()
		parked.Store(0)
		if err == nil && !begin.IsZero() && !pred.rang && time.Since(begin) < w.spinMax {
			// Answered, wake-up included, within a spin's bound: the
			// spin would have paid. Spin again. Not after ringing the
			// peer: parking gave the woken peer this CPU, which is why
			// the answer came so soon; a spin would have kept it.
			pred.hit()
		}
		// Unstack only a side about to spin: one that parks at once
		// leaves its CPU to the peer anyway.
		if err == nil && c.hints && w.spinMax > 0 && (c.policy != WaitPredict || !pred.parking()) && unstack(wakerCPU) {
			c.stUnstacks.Add(1)
		}
		if !start.IsZero() && c.policy != WaitPredict {
			w.adapt(time.Since(start))
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return os.ErrDeadlineExceeded
			}
			if st := c.state.Load(); st != 0 {
				return downErr(st)
			}
			return fmt.Errorf("shmring: park: %w", err)
		}
		if ok, err := ready(); ok || err != nil {
			return err
		}
	}
}

// predictor is WaitPredict's state for one kind of wait (used with the
// direction's mutex held): whether spinning has been paying.
//
// A spin that pays saves this side a wake-up; one that runs out costs the
// spin and the wake-up both, late. The score rises by one for a spin that
// paid and falls by predictMissCost for one that ran out, so spinning goes
// on only while at least four in five spins pay (two misses in a row from
// a fresh start). Below predictPark the side parks at once, but for a
// probe every every-th wait; a probe that pays lets it spin again on
// probation (one more miss parks it), one that runs out doubles the probe
// interval up to predictProbeMax, so a steady peer whose answers do not
// come within the spin pays a probe on at most 1 wait in predictProbeMax.
// The interval comes back to predictProbe once the score is full again
// (twelve paying spins in a row after a paying probe).
type predictor struct {
	score   int8   // spin while > predictPark
	probing bool   // the current wait is a probe
	rang    bool   // waits that follow a publish that rang the peer
	waits   uint32 // waits since parking began or since the last probe
	every   uint32 // probe every every-th wait; 0 = predictProbe
}

const (
	predictMissCost = 4
	predictPark     = -2 * predictMissCost
	predictScoreMax = 8
	predictProbe    = 16
	predictProbeMax = 256
)

// parking reports whether waits park at once (but for probes).
func (p *predictor) parking() bool { return p.score <= predictPark }

// bound is how long the next wait spins.
func (p *predictor) bound(spinMax time.Duration) time.Duration {
	if !p.parking() {
		return spinMax
	}
	p.waits++
	if p.every == 0 {
		p.every = predictProbe
	}
	if p.waits%p.every == 0 {
		p.probing = true
		return spinMax
	}
	return 0
}

// hit records a wait that ended while spinning.
func (p *predictor) hit() {
	if p.probing || p.parking() {
		p.probing, p.waits = false, 0
		p.score = predictPark + predictMissCost
		return
	}
	if p.score < predictScoreMax {
		p.score++
	}
	if p.score == predictScoreMax {
		p.every = 0
	}
}

// miss records a wait whose spin ran out.
func (p *predictor) miss() {
	if p.probing {
		p.probing, p.waits = false, 0
		p.every = min(2*max(p.every, predictProbe), predictProbeMax)
	}
	p.score = max(p.score-predictMissCost, predictPark)
}

// releaseRx publishes consumed records and rings the peer if it is parked.
func (c *Conn) releaseRx() {
	if c.rx.release() {
		c.stWakeups.Add(1)
		if c.hints {
			c.rx.consCPU.Store(cpuHint())
		}
		c.rxSignal.ring()
	}
}

// releaseRxLazy publishes consumed records only once an eighth of the ring
// has built up or the producer is parked waiting for space. A release is a
// store to a cache line the producer reads: made per message, it costs a
// cache-line transfer per message. Whoever is about to wait calls releaseRx,
// so consumed space is never held while this side blocks.
func (c *Conn) releaseRxLazy() {
	if c.rx.pos-c.rx.released >= c.rx.capacity/8 || c.rx.prodParked.Load() != 0 {
		c.releaseRx()
	}
}

// publishTx publishes written records and rings the peer if it is parked.
func (c *Conn) publishTx() {
	rang := c.tx.publish()
	if r := b2u(rang); c.txRang.Load() != r {
		c.txRang.Store(r)
	}
	if rang {
		c.stWakeups.Add(1)
		if c.hints {
			c.tx.prodCPU.Store(cpuHint())
		}
		c.txSignal.ring()
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
