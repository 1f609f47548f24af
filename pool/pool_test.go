package pool_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringwire/ringwire/pool"
)

// tracker builds pools whose values are numbered and records which values
// were destroyed, so tests can check that every value is destroyed once.
type tracker struct {
	mu        sync.Mutex
	next      int
	destroyed map[int]int
	fail      atomic.Bool   // Constructor fails while set
	delay     time.Duration // Constructor sleeps this long first
}

var errConstruct = errors.New("construct failed")

func newTracker() *tracker { return &tracker{destroyed: map[int]int{}} }

func (tr *tracker) construct(ctx context.Context) (int, error) {
	if tr.delay > 0 {
		time.Sleep(tr.delay)
	}
	if tr.fail.Load() {
		return 0, errConstruct
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.next++
	return tr.next, nil
}

func (tr *tracker) destroy(v int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.destroyed[v]++
}

func (tr *tracker) created() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.next
}

func (tr *tracker) destroyedCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.destroyed)
}

// checkAllDestroyedOnce fails unless every created value was destroyed
// exactly once.
func (tr *tracker) checkAllDestroyedOnce(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for v := 1; v <= tr.next; v++ {
		if n := tr.destroyed[v]; n != 1 {
			t.Errorf("value %d destroyed %d times, want 1", v, n)
		}
	}
}

func (tr *tracker) config(maxSize int) pool.Config[int] {
	return pool.Config[int]{
		Constructor: tr.construct,
		Destructor:  tr.destroy,
		MaxSize:     maxSize,
	}
}

func mustNew[T any](t *testing.T, cfg pool.Config[T]) *pool.Pool[T] {
	t.Helper()
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func mustAcquire[T any](t *testing.T, p *pool.Pool[T]) *pool.Resource[T] {
	t.Helper()
	res, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return res
}

func mustClose[T any](t *testing.T, p *pool.Pool[T]) {
	t.Helper()
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ctor := func(context.Context) (int, error) { return 0, nil }
	tests := []struct {
		name string
		cfg  pool.Config[int]
		ok   bool
	}{
		{"zero value plus Constructor", pool.Config[int]{Constructor: ctor}, true},
		{"all set", pool.Config[int]{Constructor: ctor, MaxSize: 4, MinIdle: 4, MaxLifetime: time.Hour, IdleTimeout: -1, HealthCheckAfterIdle: -1, HealthCheckPeriod: -1, MaintenanceInterval: time.Second}, true},
		{"no Constructor", pool.Config[int]{}, false},
		{"negative MaxSize", pool.Config[int]{Constructor: ctor, MaxSize: -1}, false},
		{"negative MinIdle", pool.Config[int]{Constructor: ctor, MinIdle: -1}, false},
		{"MinIdle above MaxSize", pool.Config[int]{Constructor: ctor, MaxSize: 2, MinIdle: 3}, false},
		{"negative MaxLifetime", pool.Config[int]{Constructor: ctor, MaxLifetime: -1}, false},
		{"negative MaintenanceInterval", pool.Config[int]{Constructor: ctor, MaintenanceInterval: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, pool.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, not ErrInvalidConfig", err)
			}
			p, err := pool.New(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("New() error = %v, want ok=%v", err, tt.ok)
			}
			if p != nil {
				mustClose(t, p)
			}
		})
	}
}

func TestDefaultMaxSize(t *testing.T) {
	p := mustNew(t, pool.Config[int]{Constructor: func(context.Context) (int, error) { return 0, nil }})
	defer mustClose(t, p)
	if got := p.Stat().MaxResources; got < 4 {
		t.Fatalf("MaxResources = %d, want >= 4", got)
	}
}

func TestAcquireReleaseReuses(t *testing.T) {
	tr := newTracker()
	p := mustNew(t, tr.config(2))
	start := time.Now()
	r1 := mustAcquire(t, p)
	if r1.Value() != 1 {
		t.Fatalf("Value = %d, want 1", r1.Value())
	}
	if at := r1.CreatedAt(); at.Before(start.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("CreatedAt = %v, want about %v", at, start)
	}
	r1.Release()
	r2 := mustAcquire(t, p)
	if r2 != r1 || r2.Value() != 1 {
		t.Fatalf("second Acquire got %d, want the released resource", r2.Value())
	}
	r2.Release()

	s := p.Stat()
	if s.AcquireCount != 2 || s.ReusedCount != 1 || s.CreatedCount != 1 || s.ReuseRate() != 0.5 {
		t.Fatalf("Stat = %+v, want 2 acquires, 1 reused, 1 created", s)
	}
	if s.IdleResources != 1 || s.TotalResources != 1 || s.AcquiredResources != 0 {
		t.Fatalf("Stat sizes = %+v, want 1 idle of 1", s)
	}
	mustClose(t, p)
	tr.checkAllDestroyedOnce(t)
	if s := p.Stat(); s.DestroyedCount != 1 || s.TotalResources != 0 {
		t.Fatalf("after Close Stat = %+v", s)
	}
}

func TestReuseRateEmpty(t *testing.T) {
	if r := (pool.Stat{}).ReuseRate(); r != 0 {
		t.Fatalf("ReuseRate of zero Stat = %v", r)
	}
}

func TestConstructorGetsValuesNotCancellation(t *testing.T) {
	type key struct{}
	got := make(chan error, 1)
	p := mustNew(t, pool.Config[int]{
		Constructor: func(ctx context.Context) (int, error) {
			if ctx.Value(key{}) != "v" {
				got <- errors.New("value missing")
			} else {
				got <- ctx.Err()
			}
			return 1, nil
		},
	})
	defer mustClose(t, p)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	res, err := p.Acquire(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Constructor ctx: %v", err)
	}
	res.Release()
}

func TestAcquireWaitsForRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		p := mustNew(t, tr.config(1))
		r1 := mustAcquire(t, p)
		got := make(chan *pool.Resource[int])
		go func() {
			res, err := p.Acquire(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- res
		}()
		synctest.Wait()
		if s := p.Stat(); s.Waiting != 1 || s.WaitCount != 2 { // the first waited for construction
			t.Fatalf("Stat = %+v, want one waiting", s)
		}
		time.Sleep(3 * time.Second)
		r1.Release()
		r2 := <-got
		if r2 != r1 {
			t.Fatalf("waiter got value %d, want the released one", r2.Value())
		}
		if s := p.Stat(); s.WaitDuration != 3*time.Second || s.Waiting != 0 || s.AcquiredResources != 1 {
			t.Fatalf("Stat = %+v, want 3s waited, none waiting, one acquired", s)
		}
		r2.Release()
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestAcquireCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		p := mustNew(t, tr.config(1))
		defer mustClose(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire(canceled) = %v", err)
		}

		r1 := mustAcquire(t, p)
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := p.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire(timeout) = %v", err)
		}
		s := p.Stat()
		if s.CanceledAcquireCount != 2 || s.Waiting != 0 {
			t.Fatalf("Stat = %+v, want 2 canceled, none waiting", s)
		}
		r1.Release()
	})
}

func TestTryAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		p := mustNew(t, tr.config(1))
		ctx := context.Background()
		if _, err := p.TryAcquire(ctx); !errors.Is(err, pool.ErrNotAvailable) {
			t.Fatalf("TryAcquire on empty pool = %v, want ErrNotAvailable", err)
		}
		synctest.Wait() // the construction it started
		r, err := p.TryAcquire(ctx)
		if err != nil {
			t.Fatalf("TryAcquire after construction: %v", err)
		}
		if _, err := p.TryAcquire(ctx); !errors.Is(err, pool.ErrNotAvailable) {
			t.Fatalf("TryAcquire on full pool = %v, want ErrNotAvailable", err)
		}
		synctest.Wait()
		if s := p.Stat(); s.CreatedCount != 1 {
			t.Fatalf("CreatedCount = %d, want 1 (no construction beyond MaxSize)", s.CreatedCount)
		}
		r.Release()
		mustClose(t, p)
		if _, err := p.TryAcquire(ctx); !errors.Is(err, pool.ErrClosed) {
			t.Fatalf("TryAcquire on closed pool = %v", err)
		}
	})
}

func TestConstructorError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		tr.fail.Store(true)
		p := mustNew(t, tr.config(2))
		if _, err := p.Acquire(context.Background()); !errors.Is(err, errConstruct) {
			t.Fatalf("Acquire = %v, want the constructor's error", err)
		}
		if s := p.Stat(); s.ConstructErrorCount != 1 || s.TotalResources != 0 {
			t.Fatalf("Stat = %+v", s)
		}
		tr.fail.Store(false)
		mustAcquire(t, p).Release()
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestDestroy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		p := mustNew(t, tr.config(1))
		r1 := mustAcquire(t, p)
		got := make(chan *pool.Resource[int])
		go func() {
			res, err := p.Acquire(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- res
		}()
		synctest.Wait()
		r1.Destroy() // frees the slot: the waiter gets a new resource
		r2 := <-got
		if r2.Value() != 2 {
			t.Fatalf("waiter got %d, want a new value 2", r2.Value())
		}
		if tr.destroyedCount() != 1 {
			t.Fatalf("destroyed %d values, want 1", tr.destroyedCount())
		}
		r2.Release()
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
		if s := p.Stat(); s.CreatedCount != 2 || s.DestroyedCount != 2 {
			t.Fatalf("Stat = %+v", s)
		}
	})
}

func TestMisusePanics(t *testing.T) {
	tr := newTracker()
	p := mustNew(t, tr.config(1))
	defer mustClose(t, p)
	res := mustAcquire(t, p)
	res.Release()
	for name, f := range map[string]func(){"Release": res.Release, "Destroy": res.Destroy} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("second %s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestCloseDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		p := mustNew(t, tr.config(2))
		held, other := mustAcquire(t, p), mustAcquire(t, p)
		waitErr := make(chan error)
		go func() {
			_, err := p.Acquire(context.Background())
			waitErr <- err
		}()
		synctest.Wait()

		closed := make(chan error)
		go func() { closed <- p.Close(context.Background()) }()
		if err := <-waitErr; !errors.Is(err, pool.ErrClosed) {
			t.Fatalf("waiting Acquire = %v, want ErrClosed", err)
		}
		synctest.Wait()
		select {
		case err := <-closed:
			t.Fatalf("Close returned %v before resources were released", err)
		default:
		}
		if _, err := p.Acquire(context.Background()); !errors.Is(err, pool.ErrClosed) {
			t.Fatalf("Acquire after Close = %v", err)
		}
		held.Release()
		other.Destroy()
		if err := <-closed; err != nil {
			t.Fatalf("Close = %v", err)
		}
		mustClose(t, p) // again
		tr.checkAllDestroyedOnce(t)
	})
}

func TestCloseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		p := mustNew(t, tr.config(1))
		held := mustAcquire(t, p)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want DeadlineExceeded", err)
		}
		held.Release() // destroyed, since the pool is closed
		if tr.destroyedCount() != 1 {
			t.Fatal("Release after Close did not destroy")
		}
		mustClose(t, p)
	})
}

func TestCloseCancelsConstruction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		tr.delay = time.Second
		p := mustNew(t, tr.config(1))
		if _, err := p.TryAcquire(context.Background()); !errors.Is(err, pool.ErrNotAvailable) {
			t.Fatal(err)
		}
		mustClose(t, p) // waits for the construction, then destroys it
		tr.checkAllDestroyedOnce(t)
		if tr.created() != 1 {
			t.Fatalf("created %d, want 1", tr.created())
		}
	})
}

func TestGrowsUnderWaitPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		tr.delay = time.Second
		p := mustNew(t, tr.config(4))
		var wg sync.WaitGroup
		res := make(chan *pool.Resource[int], 3)
		for range 3 {
			wg.Go(func() {
				r, err := p.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				res <- r
			})
		}
		synctest.Wait()
		if s := p.Stat(); s.ConstructingResources != 3 || s.Waiting != 3 {
			t.Fatalf("Stat = %+v, want 3 constructing for 3 waiting", s)
		}
		wg.Wait()
		if s := p.Stat(); s.AcquiredResources != 3 || s.WaitDuration != 3*time.Second {
			t.Fatalf("Stat = %+v", s)
		}
		r := <-res
		r.Release()
		// A waiter that gets a released resource leaves the construction
		// started for it as a spare.
		go func() {
			r, err := p.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			res <- r
		}()
		synctest.Wait()
		close(res)
		for r := range res {
			r.Release()
		}
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestSpareConstructionBecomesIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		tr.delay = time.Second
		p := mustNew(t, tr.config(2))
		held, err := p.Acquire(context.Background()) // 1 s to construct
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan *pool.Resource[int])
		go func() {
			r, err := p.Acquire(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
		synctest.Wait() // waiting, a construction started for it
		held.Release()  // handed to the waiter first
		r := <-got
		if r != held {
			t.Fatal("waiter did not get the released resource")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if s := p.Stat(); s.IdleResources != 1 || s.TotalResources != 2 {
			t.Fatalf("Stat = %+v, want the spare idle", s)
		}
		r.Release()
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestIdleTimeoutShrinksToMinIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		cfg := tr.config(4)
		cfg.MinIdle = 1
		cfg.IdleTimeout = 10 * time.Second
		p := mustNew(t, cfg)
		var held []*pool.Resource[int]
		for range 4 {
			held = append(held, mustAcquire(t, p))
		}
		for _, r := range held {
			r.Release()
		}
		time.Sleep(5 * time.Second)
		if s := p.Stat(); s.TotalResources != 4 {
			t.Fatalf("shrunk early: %+v", s)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if s := p.Stat(); s.TotalResources != 1 || s.IdleResources != 1 || s.DestroyedCount != 3 {
			t.Fatalf("Stat = %+v, want shrunk to MinIdle 1", s)
		}
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestMinIdleTopsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		cfg := tr.config(3)
		cfg.MinIdle = 2
		p := mustNew(t, cfg)
		synctest.Wait()
		if s := p.Stat(); s.IdleResources != 2 {
			t.Fatalf("Stat = %+v, want 2 idle after New", s)
		}
		a, b := mustAcquire(t, p), mustAcquire(t, p)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if s := p.Stat(); s.IdleResources != 1 || s.TotalResources != 3 {
			t.Fatalf("Stat = %+v, want topped up to MaxSize", s)
		}
		a.Release()
		b.Release()
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestMaxLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		cfg := tr.config(2)
		cfg.MaxLifetime = 10 * time.Second
		cfg.IdleTimeout = -1
		cfg.MaintenanceInterval = time.Hour
		p := mustNew(t, cfg)

		// Expired while acquired: destroyed on Release.
		r := mustAcquire(t, p)
		time.Sleep(10 * time.Second)
		r.Release()
		if tr.destroyedCount() != 1 {
			t.Fatal("expired resource not destroyed on Release")
		}
		// Expired while idle: skipped by Acquire.
		mustAcquire(t, p).Release()
		time.Sleep(10 * time.Second)
		r = mustAcquire(t, p)
		if r.Value() != 3 || tr.destroyedCount() != 2 {
			t.Fatalf("Acquire got %d, want a new value 3", r.Value())
		}
		r.Release()
		// Expired while idle: destroyed by the maintenance.
		time.Sleep(time.Hour)
		synctest.Wait()
		if s := p.Stat(); s.TotalResources != 0 {
			t.Fatalf("Stat = %+v, want expired resource gone", s)
		}
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestHealthCheckAfterIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		var checks atomic.Int32
		var bad atomic.Bool
		cfg := tr.config(2)
		cfg.HealthCheckAfterIdle = 5 * time.Second
		cfg.HealthCheckPeriod = -1
		cfg.HealthCheck = func(ctx context.Context, v int) error {
			checks.Add(1)
			if bad.Load() {
				return errors.New("unhealthy")
			}
			return nil
		}
		p := mustNew(t, cfg)
		mustAcquire(t, p).Release()
		time.Sleep(4 * time.Second)
		mustAcquire(t, p).Release()
		if checks.Load() != 0 {
			t.Fatal("checked a resource idle for less than HealthCheckAfterIdle")
		}
		time.Sleep(5 * time.Second)
		r := mustAcquire(t, p)
		if checks.Load() != 1 || r.Value() != 1 {
			t.Fatalf("checks = %d, value = %d; want 1 check, same value", checks.Load(), r.Value())
		}
		r.Release()
		time.Sleep(5 * time.Second)
		bad.Store(true)
		r = mustAcquire(t, p)
		if r.Value() != 2 {
			t.Fatalf("Acquire got %d, want a new value after a failed check", r.Value())
		}
		if s := p.Stat(); s.HealthCheckFailures != 1 || s.DestroyedCount != 1 {
			t.Fatalf("Stat = %+v", s)
		}
		r.Release()
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestHealthCheckEveryAcquire(t *testing.T) {
	tr := newTracker()
	var checks atomic.Int32
	cfg := tr.config(1)
	cfg.HealthCheckAfterIdle = -1
	cfg.HealthCheck = func(context.Context, int) error { checks.Add(1); return nil }
	p := mustNew(t, cfg)
	for range 3 {
		mustAcquire(t, p).Release()
	}
	if checks.Load() != 2 {
		t.Fatalf("checks = %d, want 2 (every reuse)", checks.Load())
	}
	mustClose(t, p)
}

func TestBackgroundHealthCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		var bad atomic.Bool
		cfg := tr.config(2)
		cfg.MinIdle = 1
		cfg.HealthCheckPeriod = 10 * time.Second
		cfg.HealthCheck = func(ctx context.Context, v int) error {
			if bad.Load() {
				return errors.New("unhealthy")
			}
			return nil
		}
		p := mustNew(t, cfg)
		synctest.Wait()
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if s := p.Stat(); s.IdleResources != 1 || s.HealthCheckFailures != 0 {
			t.Fatalf("Stat = %+v, want healthy idle resource kept", s)
		}
		bad.Store(true)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		s := p.Stat()
		if s.HealthCheckFailures == 0 || s.DestroyedCount == 0 || s.IdleResources != 1 {
			t.Fatalf("Stat = %+v, want the failed resource replaced", s)
		}
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
	})
}

func TestBackgroundCheckHandsToWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		release := make(chan struct{})
		cfg := tr.config(1)
		cfg.HealthCheckPeriod = 10 * time.Second
		cfg.HealthCheck = func(ctx context.Context, v int) error {
			<-release
			return nil
		}
		p := mustNew(t, cfg)
		mustAcquire(t, p).Release()
		time.Sleep(10 * time.Second)
		synctest.Wait() // the background check is running
		got := make(chan *pool.Resource[int])
		go func() {
			r, err := p.Acquire(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
		synctest.Wait()
		close(release)
		r := <-got
		if r.Value() != 1 {
			t.Fatalf("waiter got %d, want the checked resource", r.Value())
		}
		r.Release()
		mustClose(t, p)
	})
}

func TestCloseDuringHealthCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		cfg := tr.config(1)
		cfg.HealthCheckPeriod = 10 * time.Second
		cfg.HealthCheck = func(ctx context.Context, v int) error {
			<-ctx.Done() // hangs until Close cancels it
			return ctx.Err()
		}
		p := mustNew(t, cfg)
		mustAcquire(t, p).Release()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		mustClose(t, p)
		tr.checkAllDestroyedOnce(t)
		if s := p.Stat(); s.HealthCheckFailures != 0 {
			t.Fatalf("a check canceled by Close counted as a failure: %+v", s)
		}
	})
}
