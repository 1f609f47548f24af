package store

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
)

// BenchmarkIngest stores runs of 200 benchmarks × 10 samples (sec/op
// only), one Ingest each, on each store; parallel=8 has 8 goroutines
// ingesting at once into one Store.
func BenchmarkIngest(b *testing.B) {
	for _, be := range backends {
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/parallel=%d", be.name, par), func(b *testing.B) {
				st, err := Open(b.Context(), be.dsnB(b))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
				runs := make([]*Run, b.N)
				for i := range runs {
					runs[i], err = ParseBytes(benchgen.File(benchgen.Spec{Commit: fmt.Sprint(i), Machine: fmt.Sprint("m", i%par), Date: t0.Add(time.Duration(i) * time.Minute),
						Pkg: "p", Benchmarks: 200, Samples: 10, Seed: uint64(i), Noise: 0.01}), "f", Overrides{})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				next := make(chan *Run)
				for range par {
					wg.Go(func() {
						for r := range next {
							if _, err := st.Ingest(b.Context(), r); err != nil {
								b.Error(err)
							}
						}
					})
				}
				for _, r := range runs {
					next <- r
				}
				close(next)
				wg.Wait()
				b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/run")
			})
		}
	}
}
