// Package soak is the engine of ringwire-soak: it drives a running
// ringwired through idle, 100 and 1000 idle shared-memory sessions,
// cycles of 1000 sessions connecting and leaving, and a sustained mixed
// load (package load's workload and open-loop schedule), reads the
// daemon's own view of itself after each phase (the Stats answer: live
// heap after its last GC, goroutines, open fds, shared mappings) and the
// kernel's (RssAnon, VmRSS), and judges them:
//
//   - goroutines, open fds and shared mappings back exactly to their
//     idle level after the clients leave (polled for up to a settle time,
//     each reading after the daemon's idle release has run);
//   - the live heap after the last cycle at most 10% above the live heap
//     after the first;
//   - the least-squares slope of RssAnon over the sustained run, after
//     its warm-up, below a bound: DefaultGrowthBudget over the window.
//
// Run takes the readings and judges them; Judge is the verdict alone, on
// fixed inputs:
//
//	rep, err := soak.Run(ctx, soak.Config{Socket: sock, PID: pid, ...})
//	soak.WriteTable(os.Stdout, rep)
package soak
