package pool

import "time"

// Stat is a snapshot of a pool's counters and sizes, for dashboards and
// tests. Counters count from New.
type Stat struct {
	// AcquireCount is how many resources Acquire and TryAcquire handed out.
	AcquireCount int64
	// ReusedCount is how many of those had been handed out before (the
	// rest were new).
	ReusedCount int64
	// WaitCount is how many Acquire calls found no idle resource and waited.
	WaitCount int64
	// WaitDuration is the total time those calls waited.
	WaitDuration time.Duration
	// CanceledAcquireCount is how many Acquire calls ended by their ctx.
	CanceledAcquireCount int64
	// CreatedCount is how many resources the Constructor created.
	CreatedCount int64
	// ConstructErrorCount is how many times the Constructor failed.
	ConstructErrorCount int64
	// DestroyedCount is how many resources were destroyed, for any reason.
	DestroyedCount int64
	// HealthCheckFailures is how many health checks failed.
	HealthCheckFailures int64

	// IdleResources is how many resources are idle (or being
	// health-checked in the background).
	IdleResources int
	// AcquiredResources is how many resources are in use.
	AcquiredResources int
	// ConstructingResources is how many resources are being constructed.
	ConstructingResources int
	// TotalResources is how many resources the pool holds, counting those
	// being constructed or destroyed.
	TotalResources int
	// MaxResources is the pool's MaxSize.
	MaxResources int
	// Waiting is how many Acquire calls are waiting now.
	Waiting int
}

// ReuseRate is the fraction of acquires that reused a resource, 0 before
// the first acquire.
func (s Stat) ReuseRate() float64 {
	if s.AcquireCount == 0 {
		return 0
	}
	return float64(s.ReusedCount) / float64(s.AcquireCount)
}

// Stat returns a snapshot of the pool's counters and sizes.
func (p *Pool[T]) Stat() Stat {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	return Stat{
		AcquireCount:          c.acquires,
		ReusedCount:           c.reused,
		WaitCount:             c.waits,
		WaitDuration:          time.Duration(c.waitNanos),
		CanceledAcquireCount:  c.canceled,
		CreatedCount:          c.created,
		ConstructErrorCount:   c.constructErrors,
		DestroyedCount:        c.destroyed,
		HealthCheckFailures:   c.healthFailures,
		IdleResources:         len(p.idle) + p.checking,
		AcquiredResources:     p.acquired,
		ConstructingResources: p.constructing,
		TotalResources:        p.total,
		MaxResources:          p.maxSize,
		Waiting:               p.nwait,
	}
}
