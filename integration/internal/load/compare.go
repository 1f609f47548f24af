package load

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Ratio is one figure of a cell divided by the same figure of the base
// cell (same scenario and rate); OK is false when either cell lacks it
// (too few samples, saturated, unknown CPU or memory) or the base's is
// zero.
type Ratio struct {
	V  float64
	OK bool
}

// String formats r as "3.20x", or "-" without a value.
func (r Ratio) String() string {
	if !r.OK {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r.V)
}

func ratioOf(x, y float64, ok bool) Ratio {
	if !ok || y <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return Ratio{}
	}
	return Ratio{V: x / y, OK: true}
}

// Compared is a cell and its figures as ratios to its base cell. A ratio
// above 1 is more: slower for latencies and CPU, faster for throughput,
// bigger for memory.
type Compared struct {
	R, Base              *Result // Base is nil when the run has no base cell for R
	P50, P99             Ratio
	Throughput           Ratio
	ClientCPU, ServerCPU Ratio
	RssAnon              Ratio
	// What the table and findings print, from R.
	p50, p99                    Value
	clientCPU, serverCPU        Value
	hasMemory                   bool
	memRssAnon                  int64
	throughput                  float64
	satur                       bool
	rateName, scenario, transpt string
}

// Compare pairs every result with the result of transport base at the
// same scenario and rate and computes its ratios (the base cell's own
// ratios are 1 where it has the figure). The order of results is kept.
func Compare(base string, results []*Result) []Compared {
	type key struct {
		scenario string
		rate     float64
	}
	bases := map[key]*Result{}
	for _, r := range results {
		if r.Cell.Transport == base {
			bases[key{r.Cell.Scenario.Name, r.Cell.Rate}] = r
		}
	}
	out := make([]Compared, 0, len(results))
	for _, r := range results {
		c := Compared{R: r, Base: bases[key{r.Cell.Scenario.Name, r.Cell.Rate}]}
		rq, _ := Latencies(r.Sample.Latency, r.Saturated())
		c.p50, c.p99 = rq[0], rq[2]
		c.throughput = r.Sample.Throughput()
		c.satur = r.Saturated()
		c.rateName, c.scenario, c.transpt = r.Cell.RateName(), r.Cell.Scenario.Name, r.Cell.Transport
		v, ok := r.PerOp(r.ClientCPU)
		c.clientCPU = Value{V: v, OK: ok, Missing: "?"}
		v, ok = r.PerOp(r.ServerCPU)
		c.serverCPU = Value{V: v, OK: ok, Missing: "?"}
		c.hasMemory = r.MemoryErr == nil
		c.memRssAnon = r.Memory.RssAnon
		if b := c.Base; b != nil {
			bq, _ := Latencies(b.Sample.Latency, b.Saturated())
			c.P50 = ratioOf(float64(rq[0].V), float64(bq[0].V), rq[0].OK && bq[0].OK)
			c.P99 = ratioOf(float64(rq[2].V), float64(bq[2].V), rq[2].OK && bq[2].OK)
			c.Throughput = ratioOf(r.Sample.Throughput(), b.Sample.Throughput(), true)
			perOp := func(rd, bd time.Duration) Ratio {
				x, ok1 := r.PerOp(rd)
				y, ok2 := b.PerOp(bd)
				return ratioOf(float64(x), float64(y), ok1 && ok2)
			}
			c.ClientCPU = perOp(r.ClientCPU, b.ClientCPU)
			c.ServerCPU = perOp(r.ServerCPU, b.ServerCPU)
			c.RssAnon = ratioOf(float64(r.Memory.RssAnon), float64(b.Memory.RssAnon), r.MemoryErr == nil && b.MemoryErr == nil)
		}
		out = append(out, c)
	}
	return out
}

// TransportLabel names a transport for people: "ringwire shm", "Node
// NDJSON", ...; an unknown name is returned as it is.
func TransportLabel(t string) string {
	switch t {
	case "shm":
		return "ringwire shm"
	case "socket":
		return "ringwire socket"
	case "json":
		return "Go encoding/json"
	case "grpc":
		return "gRPC"
	case "node":
		return "Node NDJSON"
	case "eventfd":
		return "floor: Go eventfd wake-up"
	case "cacheline":
		return "floor: cache line"
	}
	return t
}

// WriteMarkdown writes results as a Markdown table, a row per cell
// grouped by scenario and rate, every figure followed by its ratio to
// the cell of transport base: p50, p99, throughput, CPU per request of
// the client and of the server, and the server's RssAnon (the daemon's,
// for the ringwire transports; the peer process's for the others).
func WriteMarkdown(w io.Writer, base string, results []*Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | rate/s | transport | p50 | p99 | calls/s | client CPU/req | server CPU/req | server RssAnon |\n")
	fmt.Fprintf(&b, "|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range Compare(base, results) {
		with := func(s string, r Ratio) string {
			if c.transpt == base || !r.OK {
				return s
			}
			return fmt.Sprintf("%s (%s)", s, strings.TrimSuffix(r.String(), "x")+"×")
		}
		rate := c.rateName
		if c.satur {
			rate += " (saturated)"
		}
		mem := "?"
		if c.hasMemory {
			mem = formatBytes(c.memRssAnon)
		}
		memRatio := c.RssAnon
		if isFloorTransport(c.transpt) {
			mem, memRatio = "—", Ratio{}
		}
		name := TransportLabel(c.transpt)
		if c.transpt == base {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.scenario, rate, name,
			with(c.p50.String(), c.P50), with(c.p99.String(), c.P99),
			with(fmt.Sprintf("%.0f", c.throughput), c.Throughput),
			with(c.clientCPU.String(), c.ClientCPU), with(c.serverCPU.String(), c.ServerCPU),
			with(mem, memRatio))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// isFloorTransport reports whether t is one of the floors, which have no
// server of their own worth a memory figure.
func isFloorTransport(t string) bool { return t == "eventfd" || t == "cacheline" }

// FullSpeedTargets are the targets at full speed for the ping
// and completion scenarios: how many times faster than each transport
// the base's median round trip is to be.
var FullSpeedTargets = []struct {
	Transport string
	Times     float64
}{{"node", 50}, {"json", 5}, {"grpc", 3}}

// Findings states, in sentences computed from results, what holds at
// editor rates (the lowest paced rate of the run) and what holds under
// load (full speed), for transport base against the others and against
// the floors; and which cells saturated.
func Findings(base string, results []*Result) []string {
	cmp := Compare(base, results)
	var paced []float64
	for _, c := range cmp {
		if r := c.R.Cell.Rate; r > 0 && !slices.Contains(paced, r) {
			paced = append(paced, r)
		}
	}
	slices.Sort(paced)
	var out []string
	scenarios := []string{}
	for _, c := range cmp {
		if !slices.Contains(scenarios, c.scenario) {
			scenarios = append(scenarios, c.scenario)
		}
	}
	cell := func(s, t string, rate float64) *Compared {
		for i := range cmp {
			if cmp[i].scenario == s && cmp[i].transpt == t && cmp[i].R.Cell.Rate == rate {
				return &cmp[i]
			}
		}
		return nil
	}
	// others lists, for scenario s at rate, every other transport's p50
	// as a ratio to base.
	others := func(s string, rate float64) string {
		var parts []string
		for _, c := range cmp {
			if c.scenario != s || c.R.Cell.Rate != rate || c.transpt == base || isFloorTransport(c.transpt) {
				continue
			}
			switch {
			case c.satur:
				parts = append(parts, TransportLabel(c.transpt)+" saturated")
			case c.P50.OK:
				parts = append(parts, fmt.Sprintf("%s %s (%.2f×)", TransportLabel(c.transpt), c.p50, c.P50.V))
			}
		}
		return strings.Join(parts, ", ")
	}
	if len(paced) > 0 {
		rate := paced[0]
		for _, s := range scenarios {
			b := cell(s, base, rate)
			if b == nil {
				continue
			}
			rn := b.rateName
			if b.satur || !b.p50.OK {
				out = append(out, fmt.Sprintf("At %s/s, %s: %s has no median (%s).", rn, s, TransportLabel(base), b.p50.Missing))
				continue
			}
			line := fmt.Sprintf("At %s/s (editor rates), %s: %s p50 %s", rn, s, TransportLabel(base), b.p50)
			if o := others(s, rate); o != "" {
				line += "; " + o
			}
			if f := cell(s, "eventfd", rate); f != nil && f.p50.OK {
				line += fmt.Sprintf("; the Go wake-up floor %s, so %s is %.1f× the floor", f.p50, TransportLabel(base), float64(b.p50.V)/float64(f.p50.V))
			}
			if so := cell(s, "socket", rate); so != nil && so.P50.OK {
				if so.P50.V < 1 {
					line += fmt.Sprintf(" — here the socket transport is faster than shared memory (%.2f×)", so.P50.V)
				} else {
					line += fmt.Sprintf(" — shared memory beats the socket transport by %.2f×", so.P50.V)
				}
			}
			out = append(out, line+".")
		}
	}
	for _, s := range scenarios {
		b := cell(s, base, 0)
		if b == nil || !b.p50.OK {
			continue
		}
		line := fmt.Sprintf("At full speed (closed loop), %s: %s p50 %s at %.0f calls/s", s, TransportLabel(base), b.p50, b.throughput)
		if o := others(s, 0); o != "" {
			line += "; " + o
		}
		if s == "ping" || s == "completion" {
			var met, missed []string
			for _, tg := range FullSpeedTargets {
				c := cell(s, tg.Transport, 0)
				if c == nil || !c.P50.OK {
					continue
				}
				t := fmt.Sprintf("≥ %.0f× %s (%.1f×)", tg.Times, TransportLabel(tg.Transport), c.P50.V)
				if c.P50.V >= tg.Times {
					met = append(met, t)
				} else {
					missed = append(missed, t)
				}
			}
			if len(met) > 0 {
				line += "; targets met: " + strings.Join(met, ", ")
			}
			if len(missed) > 0 {
				line += "; targets not met: " + strings.Join(missed, ", ")
			}
			if s == "completion" && len(met)+len(missed) > 0 {
				line += fmt.Sprintf(" (the targets are for a 1 KiB completion; this scenario sends %d–%d KiB with streamed replies)", MinCompletion>>10, MaxCompletion>>10)
			}
		}
		out = append(out, line+".")
	}
	var sat []string
	for _, c := range cmp {
		if c.satur {
			sat = append(sat, fmt.Sprintf("%s %s at %s/s (%.0f/s)", TransportLabel(c.transpt), c.scenario, c.rateName, c.throughput))
		}
	}
	if len(sat) > 0 {
		out = append(out, fmt.Sprintf("Saturated (below %.0f%% of the target rate, so no latency is reported): %s.", SaturationThreshold*100, strings.Join(sat, "; ")))
	}
	return out
}
