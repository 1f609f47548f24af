package daemon

import (
	"math"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBounds are the upper bounds, in nanoseconds, of every duration
// histogram's buckets: half decades from 10 µs to 100 s (a Ping-sized
// request takes tens of µs, a model's answer seconds).
var latencyBounds = func() [15]int64 {
	var b [15]int64
	for i := range b {
		b[i] = int64(math.Round(1e4 * math.Pow(10, float64(i)/2)))
	}
	return b
}()

// durationHistogram is a histogram of durations observed in integer
// nanoseconds: an observation is two atomic adds (its bucket, the sum),
// lock-free and cheaper than prometheus.Histogram's (a float sum updated
// in a compare-and-swap loop, a hot/cold swap for consistent reads). A
// scrape may see an observation in its bucket before its sum, which
// Prometheus's rate() over scrapes does not notice.
type durationHistogram struct {
	sumNs  atomic.Uint64                         // first: on the cache line of the low buckets
	counts [len(latencyBounds) + 1]atomic.Uint64 // the last: above every bound (+Inf)
}

// observe adds a duration of ns nanoseconds (a negative one counts as 0).
func (h *durationHistogram) observe(ns int64) {
	ns = max(ns, 0)
	i := 0
	for i < len(latencyBounds) && ns > latencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(ns))
}

// histogramVec is a family of durationHistograms, one per combination of
// label values fixed when it is made; it is the Collector that exports
// them as Prometheus histograms in seconds. The histograms live where
// their users want them (side by side in metrics, for the hot path).
type histogramVec struct {
	desc     *prometheus.Desc
	children [][]*durationHistogram // each exported as the sum of its histograms
	values   [][]string             // the label values of children[i]
}

func newHistogramVec(name, help string, labels ...string) *histogramVec {
	return &histogramVec{desc: prometheus.NewDesc(name, help, labels, nil)}
}

// add exports the histograms hs, summed, as one histogram with the label
// values.
func (v *histogramVec) add(values []string, hs ...*durationHistogram) {
	v.children = append(v.children, hs)
	v.values = append(v.values, values)
}

func (v *histogramVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *histogramVec) Collect(ch chan<- prometheus.Metric) {
	for i, hs := range v.children {
		buckets := make(map[float64]uint64, len(latencyBounds))
		var n, sum uint64
		for j, b := range latencyBounds {
			for _, h := range hs {
				n += h.counts[j].Load()
			}
			buckets[float64(b)/1e9] = n
		}
		for _, h := range hs {
			n += h.counts[len(latencyBounds)].Load()
			sum += h.sumNs.Load()
		}
		ch <- prometheus.MustNewConstHistogram(v.desc, n, float64(sum)/1e9, buckets, v.values[i]...)
	}
}

// counterVec exports counters kept as atomic.Uint64s (side by side in
// metrics, where the hot path touches few cache lines: a
// prometheus.Counter is an object of its own behind an interface) as
// one Prometheus counter family, one counter per combination of label
// values fixed when it is made.
type counterVec struct {
	desc   *prometheus.Desc
	vals   []*atomic.Uint64
	values [][]string
}

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{desc: prometheus.NewDesc(name, help, labels, nil)}
}

// add exports c with the label values.
func (v *counterVec) add(c *atomic.Uint64, values ...string) {
	v.vals = append(v.vals, c)
	v.values = append(v.values, values)
}

func (v *counterVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *counterVec) Collect(ch chan<- prometheus.Metric) {
	for i, c := range v.vals {
		ch <- prometheus.MustNewConstMetric(v.desc, prometheus.CounterValue, float64(c.Load()), v.values[i]...)
	}
}
