package pool

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by Acquire and TryAcquire on a closed pool, and to
// Acquire calls still waiting when Close is called.
var ErrClosed = errors.New("pool: closed")

// ErrNotAvailable is returned by TryAcquire when no idle resource is ready.
var ErrNotAvailable = errors.New("pool: no resource available")

// Pool is a generic pool of resources of type T. Its methods are safe for
// concurrent use. Create one with New and stop it with Close.
type Pool[T any] struct {
	mu sync.Mutex
	// idle is a stack: the most recently released resource is on top, so
	// busy periods reuse the same few resources and the rest age out.
	idle []*Resource[T]
	// waitHead and waitTail hold the FIFO of Acquire calls waiting.
	waitHead, waitTail *waiter[T]
	nwait              int
	total              int // idle + acquired + constructing + checking + being destroyed
	acquired           int
	constructing       int
	checking           int
	closed             bool
	drainedClosed      bool
	drained            chan struct{} // closed once closed && total == 0
	counts             counters

	// Fixed at New.
	epoch        time.Time
	constructor  func(context.Context) (T, error)
	destructor   func(T)
	healthCheck  func(context.Context, T) error
	maxSize      int
	minIdle      int
	idleTimeout  int64 // ns; <= 0 never
	maxLifetime  int64 // ns; 0 no limit
	checkAfter   int64 // ns; negative always
	checkPeriod  int64 // ns; <= 0 never
	needNow      bool  // Acquire must read the clock for lifetime or health checks
	waiters      sync.Pool
	baseCtx      context.Context
	cancelBase   context.CancelFunc
	stop         chan struct{}
	maintainDone chan struct{} // nil when there is no maintenance goroutine
	reapBuf      []*Resource[T]
	checkBuf     []*Resource[T]
}

type counters struct {
	acquires, reused, waits, canceled  int64
	waitNanos                          int64
	created, destroyed, healthFailures int64
	constructErrors                    int64
}

// New returns a pool configured by cfg, after validating it (see
// Config.Validate). If cfg.MinIdle is positive, New starts creating that
// many resources in the background; it does not wait for them.
func New[T any](cfg Config[T]) (*Pool[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pool[T]{
		drained:     make(chan struct{}),
		epoch:       time.Now(),
		constructor: cfg.Constructor,
		destructor:  cfg.Destructor,
		healthCheck: cfg.HealthCheck,
		maxSize:     cfg.maxSize(),
		minIdle:     cfg.MinIdle,
		idleTimeout: int64(orDefault(cfg.IdleTimeout, DefaultIdleTimeout)),
		maxLifetime: int64(cfg.MaxLifetime),
		checkAfter:  int64(orDefault(cfg.HealthCheckAfterIdle, DefaultHealthCheckAfterIdle)),
		checkPeriod: int64(orDefault(cfg.HealthCheckPeriod, DefaultHealthCheckPeriod)),
		stop:        make(chan struct{}),
	}
	if p.healthCheck == nil {
		p.checkPeriod = 0
	}
	p.needNow = p.healthCheck != nil || p.maxLifetime > 0
	p.idle = make([]*Resource[T], 0, p.maxSize)
	p.baseCtx, p.cancelBase = context.WithCancel(context.Background())
	if p.idleTimeout > 0 || p.maxLifetime > 0 || p.checkPeriod > 0 || p.minIdle > 0 {
		p.maintainDone = make(chan struct{})
		go p.maintain(orDefault(cfg.MaintenanceInterval, DefaultMaintenanceInterval))
	}
	p.mu.Lock()
	p.topUpLocked()
	p.mu.Unlock()
	return p, nil
}

func (p *Pool[T]) nanotime() int64 { return int64(time.Since(p.epoch)) }

// Acquire returns an idle resource, or waits for one. While it waits, the
// pool grows: it starts constructing a resource for every waiting call not
// already covered by a construction in flight, up to MaxSize, and a
// waiting call takes whichever comes first, a new resource or a released
// one. A resource that has sat idle for HealthCheckAfterIdle is
// health-checked first; one that fails is destroyed and Acquire moves on.
//
// Acquire returns ctx.Err() if ctx ends first, ErrClosed if the pool is or
// gets closed, and the Constructor's error if the construction started for
// this call fails. The caller must Release or Destroy the resource.
func (p *Pool[T]) Acquire(ctx context.Context) (*Resource[T], error) {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			p.mu.Lock()
			p.counts.canceled++
			p.mu.Unlock()
			return nil, ctx.Err()
		default:
		}
	}
	p.mu.Lock()
	res, err := p.acquireIdleLocked(ctx)
	if res != nil || err != nil {
		p.mu.Unlock()
		return res, err
	}
	return p.wait(ctx)
}

// TryAcquire returns an idle resource at once, or ErrNotAvailable if there
// is none. In that case, if the pool is below MaxSize, it starts
// constructing a resource in the background so a later call may succeed.
// It returns ErrClosed on a closed pool. The ctx is passed to the health
// check and, as values only, to the Constructor.
func (p *Pool[T]) TryAcquire(ctx context.Context) (*Resource[T], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	res, err := p.acquireIdleLocked(ctx)
	if res != nil || err != nil {
		return res, err
	}
	if p.total < p.maxSize {
		p.startConstructLocked(ctx)
	}
	return nil, ErrNotAvailable
}

// acquireIdleLocked hands out an idle resource, checking its lifetime and
// health first. It returns (nil, nil) when no idle resource is left. It is
// called with p.mu held and returns with it held, though it may release it
// on the way to run a health check or a destructor.
func (p *Pool[T]) acquireIdleLocked(ctx context.Context) (*Resource[T], error) {
	var now int64
	if p.needNow {
		now = p.nanotime()
	}
	for {
		if p.closed {
			return nil, ErrClosed
		}
		n := len(p.idle)
		if n == 0 {
			return nil, nil
		}
		res := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if !p.needNow {
			p.handOutLocked(res)
			return res, nil
		}
		if p.pastLifetime(res, now) {
			res.state = stateDestroyed
			p.mu.Unlock()
			p.destroy(res)
			p.mu.Lock()
			continue
		}
		if p.healthCheck != nil && now-res.lastVerified >= p.checkAfter {
			if !p.checkLocked(ctx, res) {
				continue
			}
		}
		p.handOutLocked(res)
		return res, nil
	}
}

// checkLocked runs the health check on res, taken off the idle stack, with
// p.mu released. It reports whether res passed; if not, res is destroyed.
func (p *Pool[T]) checkLocked(ctx context.Context, res *Resource[T]) bool {
	res.state = stateChecking
	p.checking++
	p.mu.Unlock()
	err := p.healthCheck(ctx, res.value)
	p.mu.Lock()
	p.checking--
	if err == nil && !p.closed {
		res.lastVerified = p.nanotime()
		return true
	}
	if err != nil && !p.closed {
		p.counts.healthFailures++
	}
	res.state = stateDestroyed
	p.mu.Unlock()
	p.destroy(res)
	p.mu.Lock()
	return false
}

// wait queues the caller for the next resource. It is called with p.mu held
// and returns with it released.
func (p *Pool[T]) wait(ctx context.Context) (*Resource[T], error) {
	w, _ := p.waiters.Get().(*waiter[T])
	if w == nil {
		w = &waiter[T]{ch: make(chan *Resource[T], 1)}
	}
	w.start = p.nanotime()
	p.enqueueLocked(w)
	p.counts.waits++
	p.growLocked(ctx)
	p.mu.Unlock()

	select {
	case res := <-w.ch:
		err := w.err
		w.err = nil
		p.waiters.Put(w)
		return res, err
	case <-ctx.Done():
	}
	p.mu.Lock()
	p.counts.canceled++
	if w.queued {
		p.dequeueLocked(w)
		p.mu.Unlock()
		p.waiters.Put(w)
		return nil, ctx.Err()
	}
	p.mu.Unlock()
	// Something was handed to w just as ctx ended: it is in the channel.
	res := <-w.ch
	w.err = nil
	p.waiters.Put(w)
	if res != nil {
		res.Release()
	}
	return nil, ctx.Err()
}

// growLocked starts constructions so that every waiting Acquire is covered
// by one, within MaxSize.
func (p *Pool[T]) growLocked(ctx context.Context) {
	for p.nwait > p.constructing && p.total < p.maxSize && !p.closed {
		p.startConstructLocked(ctx)
	}
}

// topUpLocked starts constructions until MinIdle resources are idle or on
// their way to being idle, within MaxSize.
func (p *Pool[T]) topUpLocked() {
	spare := max(p.constructing-p.nwait, 0)
	for need := p.minIdle - len(p.idle) - p.checking - spare; need > 0 && p.total < p.maxSize && !p.closed; need-- {
		p.startConstructLocked(p.baseCtx)
	}
}

func (p *Pool[T]) startConstructLocked(ctx context.Context) {
	p.total++
	p.constructing++
	go p.construct(context.WithoutCancel(ctx))
}

// construct runs the Constructor and delivers the result.
func (p *Pool[T]) construct(ctx context.Context) {
	v, err := p.constructor(ctx)
	now := p.nanotime()
	p.mu.Lock()
	p.constructing--
	if err != nil {
		p.total--
		p.counts.constructErrors++
		// Fail one waiter that no other construction in flight covers, so
		// that a broken Constructor surfaces instead of hanging Acquire.
		if p.nwait > p.constructing {
			w := p.waitHead
			p.dequeueLocked(w)
			p.counts.waitNanos += now - w.start
			w.err = err
			w.ch <- nil
		}
		p.drainCheckLocked()
		p.mu.Unlock()
		return
	}
	p.counts.created++
	res := &Resource[T]{pool: p, value: v, created: now, lastUsed: now, lastVerified: now}
	if p.closed {
		res.state = stateDestroyed
		p.mu.Unlock()
		p.destroy(res)
		return
	}
	p.deliverLocked(res, now)
	p.mu.Unlock()
}

// deliverLocked gives res to the longest-waiting Acquire, or makes it idle.
func (p *Pool[T]) deliverLocked(res *Resource[T], now int64) {
	if w := p.waitHead; w != nil {
		if now == unstamped {
			now = p.nanotime()
		}
		p.dequeueLocked(w)
		p.counts.waitNanos += now - w.start
		p.handOutLocked(res)
		w.ch <- res
		return
	}
	res.state = stateIdle
	p.idle = append(p.idle, res)
}

func (p *Pool[T]) handOutLocked(res *Resource[T]) {
	res.state = stateAcquired
	p.acquired++
	p.counts.acquires++
	if res.uses > 0 {
		p.counts.reused++
	}
	res.uses++
}

func (p *Pool[T]) pastLifetime(res *Resource[T], now int64) bool {
	return p.maxLifetime > 0 && now-res.created >= p.maxLifetime
}

// destroy runs the Destructor on res, already marked stateDestroyed and
// taken out of every list, then gives up its place in the pool. It is
// called without p.mu held.
func (p *Pool[T]) destroy(res *Resource[T]) {
	if p.destructor != nil {
		p.destructor(res.value)
	}
	p.mu.Lock()
	p.total--
	p.counts.destroyed++
	p.growLocked(p.baseCtx)
	p.drainCheckLocked()
	p.mu.Unlock()
}

func (p *Pool[T]) drainCheckLocked() {
	if p.closed && p.total == 0 && !p.drainedClosed {
		p.drainedClosed = true
		close(p.drained)
	}
}

// Close closes the pool: Acquire calls waiting and to come get ErrClosed,
// idle resources are destroyed at once, and acquired ones when they are
// released. Close waits until every resource is destroyed and the
// background maintenance has stopped, or until ctx ends, in which case it
// returns ctx.Err() and the remaining resources are still destroyed as
// they come back. Calling Close again waits the same way.
func (p *Pool[T]) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		idle := p.idle
		p.idle = nil
		for _, res := range idle {
			res.state = stateDestroyed
		}
		for w := p.waitHead; w != nil; w = p.waitHead {
			p.dequeueLocked(w)
			w.err = ErrClosed
			w.ch <- nil
		}
		close(p.stop)
		p.cancelBase()
		p.drainCheckLocked()
		p.mu.Unlock()
		for _, res := range idle {
			p.destroy(res)
		}
	} else {
		p.mu.Unlock()
	}
	if p.maintainDone != nil {
		select {
		case <-p.maintainDone:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-p.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
