package load

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/perf/benchfmt"
)

// WriteTable prints results as a table for people: per cell the achieved
// rate, the latency columns (or why each is empty), errors, CPU time per
// request of the client and of the server, and the server's memory.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"scenario", "transport", "rate/s", "achieved/s", "n"}
	for _, q := range Quantiles {
		head = append(head, q.Name)
	}
	head = append(head, "max", "lag p99", "errors", "unexpected", "client cpu/op", "server cpu/op", "server RssAnon", "server VmRSS")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range results {
		sat := r.Saturated()
		qs, maxv := Latencies(r.Sample.Latency, sat)
		row := []string{r.Cell.Scenario.Name, r.Cell.Transport, r.Cell.RateName(),
			fmt.Sprintf("%.0f", r.Sample.Throughput()), fmt.Sprint(r.Sample.Completed)}
		for _, q := range qs {
			row = append(row, q.String())
		}
		row = append(row, maxv.String())
		lag := "-"
		if r.Cell.Rate > 0 {
			lq, _ := Latencies(r.Sample.Lag, false)
			lag = lq[2].String()
		}
		row = append(row, lag, fmt.Sprint(r.Sample.Errors), fmt.Sprint(r.Unexpected))
		for _, d := range []time.Duration{r.ClientCPU, r.ServerCPU} {
			if v, ok := r.PerOp(d); ok {
				row = append(row, FormatDuration(v))
			} else {
				row = append(row, "?")
			}
		}
		if r.MemoryErr != nil {
			row = append(row, "?", "?")
		} else {
			row = append(row, formatBytes(r.Memory.RssAnon), formatBytes(r.Memory.VmRSS))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

func formatBytes(b int64) string {
	return fmt.Sprintf("%.1fMB", float64(b)/1e6)
}

// Units of the benchfmt lines. Latencies are in ns (benchfmt tidies
// them to seconds); a saturated cell, or one with too few samples for a
// quantile, has no line for it.
const (
	UnitThroughput = "calls/s"
	UnitErrors     = "errors/op"
	UnitClientCPU  = "client-cpu-ns/op"
	UnitServerCPU  = "daemon-cpu-ns/op"
	UnitRssAnon    = "daemon-rssanon-B"
	UnitVmRSS      = "daemon-vmrss-B"
	UnitSaturated  = "saturated"
	UnitMax        = "max-ns"
)

// QuantileUnit is the benchfmt unit of a latency quantile: "p99-ns".
func QuantileUnit(q Quantile) string { return q.Name + "-ns" }

// WriteBenchfmt writes results as benchmark lines
// (BenchmarkLoad/scenario=ping/transport=shm/rate=1000 N value unit ...),
// N the completed requests, after config lines (config: key/value pairs,
// e.g. the CPU and how the daemon was run) that benchfmt readers attach
// to every result.
func WriteBenchfmt(w io.Writer, config [][2]string, results []*Result) error {
	bw := benchfmt.NewWriter(w)
	for _, r := range results {
		var res benchfmt.Result
		kvs := append(config[:len(config):len(config)],
			[2]string{"conns", fmt.Sprint(r.Cell.Conns)},
			[2]string{"workers", fmt.Sprint(r.Cell.Workers)},
			[2]string{"duration", r.Cell.Duration.String()})
		for _, kv := range kvs {
			res.Config = append(res.Config, benchfmt.Config{Key: kv[0], Value: []byte(kv[1]), File: true})
		}
		res.Name = benchfmt.Name(r.Cell.Name())
		res.Iters = int(r.Sample.Completed)
		sat := r.Saturated()
		add := func(v float64, unit string) { res.Values = append(res.Values, benchfmt.Value{Value: v, Unit: unit}) }
		add(r.Sample.Throughput(), UnitThroughput)
		qs, maxv := Latencies(r.Sample.Latency, sat)
		for i, q := range Quantiles {
			if qs[i].OK {
				add(float64(qs[i].V.Nanoseconds()), QuantileUnit(q))
			}
		}
		if maxv.OK {
			add(float64(maxv.V.Nanoseconds()), UnitMax)
		}
		if r.Sample.Completed > 0 {
			add(float64(r.Sample.Errors)/float64(r.Sample.Completed), UnitErrors)
		}
		if v, ok := r.PerOp(r.ClientCPU); ok {
			add(float64(v.Nanoseconds()), UnitClientCPU)
		}
		if v, ok := r.PerOp(r.ServerCPU); ok {
			add(float64(v.Nanoseconds()), UnitServerCPU)
		}
		if r.MemoryErr == nil {
			add(float64(r.Memory.RssAnon), UnitRssAnon)
			add(float64(r.Memory.VmRSS), UnitVmRSS)
		}
		s := 0.0
		if sat {
			s = 1
		}
		add(s, UnitSaturated)
		if err := bw.Write(&res); err != nil {
			return err
		}
	}
	return nil
}

// WriteRatios prints, for each cell of results, its figures as ratios to
// the cell of transport base (e.g. "shm") with the same scenario and
// rate: p50, p99, throughput, CPU per request of client and server and
// the server's RssAnon. A ratio above 1 is more (slower, for latencies
// and CPU; faster, for throughput). A figure either cell lacks (too few
// samples, saturated, unknown) is "-"; cells without a base are left
// out.
func WriteRatios(w io.Writer, base string, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\ttransport\trate/s\tp50 vs %[1]s\tp99 vs %[1]s\tcalls/s vs %[1]s\tclient cpu vs %[1]s\tserver cpu vs %[1]s\tRssAnon vs %[1]s\t\n", base)
	for _, c := range Compare(base, results) {
		if c.Base == nil || c.R.Cell.Transport == base {
			continue
		}
		row := []string{c.R.Cell.Scenario.Name, c.R.Cell.Transport, c.R.Cell.RateName(),
			c.P50.String(), c.P99.String(), c.Throughput.String(), c.ClientCPU.String(), c.ServerCPU.String(), c.RssAnon.String()}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}
