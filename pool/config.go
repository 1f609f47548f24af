package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	// DefaultIdleTimeout is used when Config.IdleTimeout is zero.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultHealthCheckAfterIdle is used when Config.HealthCheckAfterIdle is zero.
	DefaultHealthCheckAfterIdle = time.Second
	// DefaultHealthCheckPeriod is used when Config.HealthCheckPeriod is zero.
	DefaultHealthCheckPeriod = 30 * time.Second
	// DefaultMaintenanceInterval is used when Config.MaintenanceInterval is zero.
	DefaultMaintenanceInterval = time.Second
)

// ErrInvalidConfig is wrapped by the errors Validate and New return for a
// Config that cannot work.
var ErrInvalidConfig = errors.New("pool: invalid config")

// Config configures a Pool. Only Constructor is required; every other field
// has a usable zero value, documented beside it.
type Config[T any] struct {
	// Constructor creates a resource. It runs in a goroutine of its own, so
	// an Acquire that gives up does not waste a half-built resource. Its
	// ctx carries the values of the Acquire or TryAcquire call that caused
	// the construction, but not its cancellation or deadline. Required.
	Constructor func(ctx context.Context) (T, error)

	// Destructor releases what a resource holds. It is called exactly once
	// for every value the Constructor returned, in the goroutine that
	// destroys it (Destroy, Release after Close, Close, Acquire or the
	// background maintenance). Default: nil, nothing to do.
	Destructor func(value T)

	// HealthCheck reports whether an idle resource is still usable; an
	// error destroys it. It runs before a resource that has sat idle for
	// HealthCheckAfterIdle is handed out (with the Acquire call's ctx), and
	// in the background on resources that stay idle for HealthCheckPeriod
	// (with a ctx that Close cancels). Default: nil, no health checks.
	HealthCheck func(ctx context.Context, value T) error

	// HealthCheckAfterIdle is how long a resource may sit idle, since it
	// was released or last passed a check, before it is checked again.
	// Negative checks every idle resource before handing it out.
	// Default (zero): DefaultHealthCheckAfterIdle, 1 s.
	HealthCheckAfterIdle time.Duration

	// HealthCheckPeriod is how long a resource may stay idle, since it was
	// released or last passed a check, before the background maintenance
	// checks it. Negative turns background checks off. Default (zero):
	// DefaultHealthCheckPeriod, 30 s.
	HealthCheckPeriod time.Duration

	// MaxSize is the most resources the pool holds at once, counting those
	// idle, acquired and being constructed. Default (zero):
	// max(4, runtime.GOMAXPROCS(0)).
	MaxSize int

	// MinIdle is how many idle resources the pool keeps ready: the
	// background maintenance creates resources up to this count (within
	// MaxSize), and idle-timeout shrinking stops at it. Default: 0.
	MinIdle int

	// IdleTimeout is how long a resource beyond MinIdle may sit idle
	// before the background maintenance destroys it, shrinking the pool
	// after a burst. Idle time is measured at MaintenanceInterval
	// granularity. Negative never shrinks. Default (zero):
	// DefaultIdleTimeout, 5 min.
	IdleTimeout time.Duration

	// MaxLifetime is the age past which a resource is destroyed instead of
	// being handed out or returned to the pool. Default (zero): no limit.
	MaxLifetime time.Duration

	// MaintenanceInterval is how often the background maintenance runs
	// (idle timeout, max lifetime, background health checks, MinIdle).
	// Default (zero): DefaultMaintenanceInterval, 1 s.
	MaintenanceInterval time.Duration
}

// Validate reports whether c can configure a Pool. The errors it returns
// wrap ErrInvalidConfig.
func (c *Config[T]) Validate() error {
	switch {
	case c.Constructor == nil:
		return fmt.Errorf("%w: Constructor is nil", ErrInvalidConfig)
	case c.MaxSize < 0:
		return fmt.Errorf("%w: MaxSize %d is negative", ErrInvalidConfig, c.MaxSize)
	case c.MinIdle < 0:
		return fmt.Errorf("%w: MinIdle %d is negative", ErrInvalidConfig, c.MinIdle)
	case c.MinIdle > c.maxSize():
		return fmt.Errorf("%w: MinIdle %d exceeds MaxSize %d", ErrInvalidConfig, c.MinIdle, c.maxSize())
	case c.MaxLifetime < 0:
		return fmt.Errorf("%w: MaxLifetime %v is negative", ErrInvalidConfig, c.MaxLifetime)
	case c.MaintenanceInterval < 0:
		return fmt.Errorf("%w: MaintenanceInterval %v is negative", ErrInvalidConfig, c.MaintenanceInterval)
	}
	return nil
}

func (c *Config[T]) maxSize() int {
	if c.MaxSize > 0 {
		return c.MaxSize
	}
	return max(4, runtime.GOMAXPROCS(0))
}

// orDefault returns d when v is zero, v otherwise.
func orDefault(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}
