// Package load is the engine of ringwire-load: workloads (the
// scenarios' requests), an open-loop scheduler that measures each
// request's latency from the time it was due, a closed loop, the CPU
// and memory readings around a cell, and the reports (a table, and
// benchfmt lines for benchdash).
//
//	w, _ := load.NewWorkload(scenario, files, 1)
//	t, _ := load.DialRingwire(ctx, socket, protocol.TransportShm, 4)
//	res := load.Measure(ctx, load.Cell{Scenario: scenario, Transport: "shm",
//		Rate: 1000, Conns: 4, Workers: 16, Duration: 5 * time.Second}, w, t, daemonPID, os.Stderr)
//	load.WriteTable(os.Stdout, []*load.Result{res})
//
// Open loop: request i is due at start + Schedule.Offset(i), whatever
// happened to the ones before it; a free worker takes it, and its latency
// runs from the due time to the answer. A stall of the server (or of the
// generator itself, see Sample.Lag) therefore shows in the latency of
// every request due while it lasted, not only in the one that hit it (no
// coordinated omission). A cell that completes less than 95% of its
// target rate is saturated: its latency only measures how long the queue
// grew, and the reports give none. A latency quantile is reported only
// from 20 samples beyond it (p99 from 2,000, p999 from 20,000).
//
// Comparison: Compare pairs each cell with the base transport's cell of
// the same scenario and rate (ringwire-load uses shm) and computes the
// ratios of p50, p99, throughput, CPU per request and server RssAnon;
// WriteRatios prints them, WriteMarkdown writes the table with each
// figure's ratio, Findings states in sentences computed from the cells
// what holds at the lowest paced rate and at full speed (the issue's
// full-speed targets against Node, encoding/json and gRPC, met or not),
// WriteChart draws median latency against achieved rate as SVG (gonum
// plot, log axes, a line per transport, a panel per scenario), and
// WriteReport and RewriteBlock put all of it between the
// "<!-- compare:begin -->" and "<!-- compare:end -->" markers of a
// README, leaving the rest of the file byte for byte (`go tool mage
// compare`).
package load
