// Package pairbench times two variants of one call against each other in a
// benchmark, paired finely: the calls alternate in runs of RunLen (long
// enough for the rings' spin-then-park wake-ups to stay on their fast path,
// short enough, about a millisecond, that a change of the machine's load
// slows both alike), the order swapped every pair of runs. The daemon's
// metrics benchmarks use it in process and across processes.
package pairbench

import (
	"sort"
	"testing"
	"time"
)

// RunLen is how many calls one side makes before the other side's turn.
const RunLen = 64

// Run warms both calls up (at least 2000 calls and 100 ms, alternating),
// calls afterWarmup if it is not nil, then makes b.N calls in all, in
// alternating runs, and reports a/b-ratio (the median, over the pairs of
// runs, of the ratio of side a's time to side b's; 1 is no difference),
// a-ns/call and b-ns/call, with allocations. It returns the calls each side
// made in the timed part, for per-call metrics of the caller's own.
func Run(b *testing.B, calls [2]func(), afterWarmup func()) (count [2]int) {
	start := time.Now()
	for i := 0; i < 2000 || time.Since(start) < 100*time.Millisecond; i++ {
		calls[(i/RunLen)%2]()
	}
	if afterWarmup != nil {
		afterWarmup()
	}
	var total [2]time.Duration
	var ratios []float64
	b.ReportAllocs()
	b.ResetTimer()
	for done, pair := 0, 0; done < b.N; pair++ {
		n := min(RunLen, (b.N-done+1)/2)
		var t [2]time.Duration
		for _, side := range [2]int{pair % 2, 1 - pair%2} {
			t0 := time.Now()
			for range n {
				calls[side]()
			}
			t[side] = time.Since(t0)
			total[side] += t[side]
			count[side] += n
		}
		done += 2 * n
		ratios = append(ratios, float64(t[0])/float64(t[1]))
	}
	b.StopTimer()
	sort.Float64s(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "a/b-ratio")
	b.ReportMetric(float64(total[0].Nanoseconds())/float64(count[0]), "a-ns/call")
	b.ReportMetric(float64(total[1].Nanoseconds())/float64(count[1]), "b-ns/call")
	return count
}
