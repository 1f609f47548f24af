package pool

import "time"

type state uint8

// unstamped marks a time not read yet; see Release and maintainOnce.
const unstamped = -1 << 63

const (
	stateIdle state = iota + 1
	stateAcquired
	stateChecking
	stateDestroyed
)

// Resource is the handle to one pooled value. The pool keeps one Resource
// per value and hands the same handle out again after it is released, so
// acquiring allocates nothing; a handle must not be used after Release or
// Destroy.
type Resource[T any] struct {
	pool  *Pool[T]
	value T
	state state // guarded by pool.mu
	uses  int64 // guarded by pool.mu
	// Nanoseconds since pool.epoch. created never changes; the others are
	// guarded by pool.mu.
	created, lastUsed, lastVerified int64
}

// Value returns the pooled value.
func (r *Resource[T]) Value() T { return r.value }

// CreatedAt returns when the Constructor returned the value.
func (r *Resource[T]) CreatedAt() time.Time {
	return r.pool.epoch.Add(time.Duration(r.created))
}

// Release returns the resource to the pool: to the longest-waiting Acquire
// if there is one, else to the idle resources. The resource is destroyed
// instead if the pool is closed or the resource is past MaxLifetime.
// Release panics if the resource is not acquired.
func (r *Resource[T]) Release() {
	p := r.pool
	// Without health checks or MaxLifetime, only the idle timeout needs to
	// know when the resource was released, and the maintenance stamps that
	// on its next run: the hot path reads no clock.
	now := int64(unstamped)
	if p.needNow {
		now = p.nanotime()
	}
	p.mu.Lock()
	if r.state != stateAcquired {
		p.mu.Unlock()
		panic("pool: Release of a resource that is not acquired")
	}
	p.acquired--
	if p.closed || p.pastLifetime(r, now) {
		r.state = stateDestroyed
		p.mu.Unlock()
		p.destroy(r)
		return
	}
	r.lastUsed = now
	r.lastVerified = now
	p.deliverLocked(r, now)
	p.mu.Unlock()
}

// Destroy removes the resource from the pool and runs the Destructor on its
// value, in the calling goroutine. A waiting Acquire may then get a new
// resource in its place. Destroy panics if the resource is not acquired.
func (r *Resource[T]) Destroy() {
	p := r.pool
	p.mu.Lock()
	if r.state != stateAcquired {
		p.mu.Unlock()
		panic("pool: Destroy of a resource that is not acquired")
	}
	p.acquired--
	r.state = stateDestroyed
	p.mu.Unlock()
	p.destroy(r)
}
