package poolbench_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/puddle/v2"

	"github.com/ringwire/ringwire/integration/poolbench"
	"github.com/ringwire/ringwire/pool"
)

var (
	poolSizes    = []int{1, 8, 64}
	clientCounts = []int{1, 8, 64}
)

// impl builds a filled pool of one implementation and returns one
// acquire+release operation on it and a function that closes it.
type impl struct {
	name string
	open func(tb testing.TB, size int) (op func() error, closePool func())
}

var impls = []impl{
	{"ringwire", openRingwire},
	{"puddle", openPuddle},
}

func openRingwire(tb testing.TB, size int) (func() error, func()) {
	var n atomic.Int64
	p, err := pool.New(pool.Config[int]{
		Constructor: func(context.Context) (int, error) { return int(n.Add(1)), nil },
		MaxSize:     size,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	held := make([]*pool.Resource[int], size)
	for i := range held {
		if held[i], err = p.Acquire(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	for _, r := range held {
		r.Release()
	}
	op := func() error {
		r, err := p.Acquire(ctx)
		if err != nil {
			return err
		}
		r.Release()
		return nil
	}
	return op, func() {
		if err := p.Close(ctx); err != nil {
			tb.Error(err)
		}
	}
}

func openPuddle(tb testing.TB, size int) (func() error, func()) {
	var n atomic.Int64
	p, err := puddle.NewPool(&puddle.Config[int]{
		Constructor: func(context.Context) (int, error) { return int(n.Add(1)), nil },
		Destructor:  func(int) {},
		MaxSize:     int32(size),
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	held := make([]*puddle.Resource[int], size)
	for i := range held {
		if held[i], err = p.Acquire(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	for _, r := range held {
		r.Release()
	}
	op := func() error {
		r, err := p.Acquire(ctx)
		if err != nil {
			return err
		}
		r.Release()
		return nil
	}
	return op, p.Close
}

// run performs op n times in total over clients goroutines and returns the
// elapsed time.
func run(tb testing.TB, n, clients int, op func() error) time.Duration {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := op(); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkAcquireRelease measures Acquire followed by Release for each
// implementation over the grid, named for benchstat:
// impl=ringwire/PoolSize=8/ClientCount=8.
func BenchmarkAcquireRelease(b *testing.B) {
	for _, im := range impls {
		for _, size := range poolSizes {
			for _, clients := range clientCounts {
				name := fmt.Sprintf("impl=%s/PoolSize=%d/ClientCount=%d", im.name, size, clients)
				b.Run(name, func(b *testing.B) {
					op, closePool := im.open(b, size)
					defer closePool()
					b.ReportAllocs()
					b.ResetTimer()
					run(b, b.N, clients, op)
				})
			}
		}
	}
}

// rounds is how many samples BenchmarkVersusPuddle takes of each
// implementation per grid point: RINGWIRE_POOLBENCH_ROUNDS, default 10
// (the fewest with which a U test can reach p < 0.05 comfortably).
func rounds(b *testing.B) int {
	s := os.Getenv("RINGWIRE_POOLBENCH_ROUNDS")
	if s == "" {
		return 10
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 {
		b.Fatalf("RINGWIRE_POOLBENCH_ROUNDS=%q: want an integer >= 2", s)
	}
	return n
}

// BenchmarkVersusPuddle takes, at each grid point, samples of both
// implementations in alternating rounds of b.N operations each, in the same
// process and run, and compares them with poolbench.Compare. It reports
// ns/op (ringwire's median), puddle-ns/op, time-vs-puddle (ringwire/puddle
// medians) and slower-than-puddle (1 if ringwire is significantly slower,
// by the Mann-Whitney U test whose p-value the logged verdicts show).
// It never fails on timing: noise would make that flaky.
func BenchmarkVersusPuddle(b *testing.B) {
	// Sub-benchmarks run several times while b.N is tuned: keep the last
	// verdict for each grid point, the one whose metrics are reported.
	verdicts := map[string]poolbench.Verdict{}
	var order []string
	for _, size := range poolSizes {
		for _, clients := range clientCounts {
			name := fmt.Sprintf("PoolSize=%d/ClientCount=%d", size, clients)
			b.Run(name, func(b *testing.B) {
				ops := make([]func() error, len(impls))
				for i, im := range impls {
					op, closePool := im.open(b, size)
					defer closePool()
					ops[i] = op
				}
				k := rounds(b)
				samples := make([][]float64, len(impls))
				for r := range k {
					for j := range impls {
						i := (r + j) % len(impls) // alternate which goes first
						d := run(b, b.N, clients, ops[i])
						samples[i] = append(samples[i], float64(d.Nanoseconds())/float64(b.N))
					}
				}
				v := poolbench.Compare(samples[0], samples[1])
				b.ReportMetric(v.Ringwire.Center, "ns/op")
				b.ReportMetric(v.Puddle.Center, "puddle-ns/op")
				// Units that say their direction (benchdash reads both as
				// lower-is-better): ringwire's time over puddle's, and 1 when
				// ringwire was significantly slower. The U-test's p-value is
				// in the verdict table, not a metric: it has no direction.
				b.ReportMetric(v.Ratio, "time-vs-puddle")
				slower := 0.0
				if v.Slower {
					slower = 1
				}
				b.ReportMetric(slower, "slower-than-puddle")
				if _, ok := verdicts[name]; !ok {
					order = append(order, name)
				}
				verdicts[name] = v
			})
		}
	}
	anySlower := false
	for _, name := range order {
		v := verdicts[name]
		anySlower = anySlower || v.Slower
		b.Logf("%s: %v", name, v)
	}
	b.Logf("ringwire significantly slower than puddle at any grid point: %v", anySlower)
}
