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
package load
