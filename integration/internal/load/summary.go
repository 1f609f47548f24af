package load

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Quantile is one latency column of a report.
type Quantile struct {
	Name    string  // "p50", "p90", "p99", "p999"
	Percent float64 // 50, 90, 99, 99.9
	// MinSamples is the fewest samples the column is printed from: 20
	// samples beyond the quantile (p99 from 2,000, p999 from 20,000),
	// so that its value rests on more than a handful of requests.
	MinSamples int64
}

// Quantiles are the latency columns, in order.
var Quantiles = []Quantile{
	{"p50", 50, 40},
	{"p90", 90, 200},
	{"p99", 99, 2000},
	{"p999", 99.9, 20000},
}

// Value is one figure of a report, or why it is missing.
type Value struct {
	V       time.Duration
	OK      bool
	Missing string // why there is no value, e.g. "n<2000", "saturated"
}

// String formats v for the table: a duration or the reason it is empty.
func (v Value) String() string {
	if !v.OK {
		return v.Missing
	}
	return FormatDuration(v.V)
}

// Latencies summarizes a latency histogram by Quantiles, plus its
// maximum, applying the sample-count rule of each column; a saturated
// cell reports none of them, since its latency is only how long the
// queue grew during the run.
func Latencies(h *hdrhistogram.Histogram, saturated bool) (qs []Value, maxv Value) {
	n := h.TotalCount()
	qs = make([]Value, len(Quantiles))
	for i, q := range Quantiles {
		switch {
		case saturated:
			qs[i] = Value{Missing: "saturated"}
		case n < q.MinSamples:
			qs[i] = Value{Missing: fmt.Sprintf("n<%d", q.MinSamples)}
		default:
			qs[i] = Value{V: time.Duration(h.ValueAtQuantile(q.Percent)), OK: true}
		}
	}
	switch {
	case saturated:
		maxv = Value{Missing: "saturated"}
	case n == 0:
		maxv = Value{Missing: "n=0"}
	default:
		maxv = Value{V: time.Duration(h.Max()), OK: true}
	}
	return qs, maxv
}

// FormatDuration prints d with three significant digits in a unit that
// fits (ns, µs, ms, s).
func FormatDuration(d time.Duration) string {
	f := float64(d)
	switch {
	case f < 1e3:
		return fmt.Sprintf("%.0fns", f)
	case f < 1e6:
		return sig3(f/1e3) + "µs"
	case f < 1e9:
		return sig3(f/1e6) + "ms"
	default:
		return sig3(f/1e9) + "s"
	}
}

func sig3(f float64) string {
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f", f)
	case f < 100:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.0f", f)
	}
}
