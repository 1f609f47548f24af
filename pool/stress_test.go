package pool_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringwire/ringwire/pool"
)

// stressDuration reads RINGWIRE_STRESS (a time.Duration such as "30s"),
// default 300ms.
func stressDuration(t *testing.T) time.Duration {
	s := os.Getenv("RINGWIRE_STRESS")
	if s == "" {
		return 300 * time.Millisecond
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("RINGWIRE_STRESS=%q: %v", s, err)
	}
	return d
}

// TestStress runs goroutines doing random actions on one pool with short
// timeouts and flaky Constructor and HealthCheck, then checks that no value
// was handed to two holders at once and that every value was destroyed
// exactly once. Set RINGWIRE_STRESS=1m to run it longer.
func TestStress(t *testing.T) {
	tr := newTracker()
	var inUse sync.Map // value -> struct{}
	var flaky atomic.Bool
	var checks atomic.Int64
	cfg := pool.Config[int]{
		Constructor: func(ctx context.Context) (int, error) {
			if flaky.Load() && rand.IntN(10) == 0 {
				return 0, errConstruct
			}
			return tr.construct(ctx)
		},
		Destructor: tr.destroy,
		HealthCheck: func(ctx context.Context, v int) error {
			checks.Add(1)
			if rand.IntN(20) == 0 {
				return errors.New("unhealthy")
			}
			return nil
		},
		HealthCheckAfterIdle: time.Millisecond,
		HealthCheckPeriod:    5 * time.Millisecond,
		MaxSize:              8,
		MinIdle:              2,
		IdleTimeout:          10 * time.Millisecond,
		MaxLifetime:          50 * time.Millisecond,
		MaintenanceInterval:  2 * time.Millisecond,
	}
	p := mustNew(t, cfg)
	flaky.Store(true)

	deadline := time.Now().Add(stressDuration(t))
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				stressStep(t, p, &inUse)
			}
		})
	}
	wg.Wait()
	if s := p.Stat(); s.AcquiredResources != 0 || s.Waiting != 0 {
		t.Errorf("after the run Stat = %+v, want nothing acquired or waiting", s)
	}
	mustClose(t, p)
	tr.checkAllDestroyedOnce(t)
	s := p.Stat()
	if s.TotalResources != 0 || s.CreatedCount != s.DestroyedCount || s.CreatedCount != int64(tr.created()) {
		t.Errorf("after Close Stat = %+v, created %d", s, tr.created())
	}
	t.Logf("%+v, %d health checks", s, checks.Load())
}

func stressStep(t *testing.T, p *pool.Pool[int], inUse *sync.Map) {
	var res *pool.Resource[int]
	var err error
	switch rand.IntN(6) {
	case 0:
		res, err = p.TryAcquire(context.Background())
	case 1:
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(500))*time.Microsecond)
		res, err = p.Acquire(ctx)
		cancel()
	case 2:
		_ = p.Stat()
		return
	case 3:
		// Pause, so resources sit idle and get checked and reaped.
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		return
	default:
		res, err = p.Acquire(context.Background())
	}
	if err != nil {
		if !errors.Is(err, pool.ErrNotAvailable) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errConstruct) {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	if _, loaded := inUse.LoadOrStore(res.Value(), struct{}{}); loaded {
		t.Errorf("value %d handed out twice", res.Value())
	}
	if rand.IntN(3) == 0 {
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
	inUse.Delete(res.Value())
	if rand.IntN(10) == 0 {
		res.Destroy()
	} else {
		res.Release()
	}
}
