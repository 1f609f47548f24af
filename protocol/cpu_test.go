package protocol

import "testing"

// cpuPerOp starts measuring the process's CPU time; the function it returns,
// called after the benchmark's loop, reports it per operation as cpu-ns/op.
//
// On a shared machine, sec/op of a CPU-bound benchmark is wall time: when
// another process takes the core for half of a 100 ms run, the benchmark
// reads twice as slow although its code did the same work (here, with the
// machine busy, one unchanged frame benchmark spread from 143 to 329 ns
// between rounds). The CPU time the benchmark itself used does not count the
// time it waited for the core, so cpu-ns/op stays steady on a busy machine
// and is what lets `mage bench` gate these benchmarks there. The protocol's
// benchmarks run one goroutine, so the process's CPU time is their own work
// (with, for the JSON ones that allocate, their garbage collection).
func cpuPerOp(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		end, ok2 := processCPU()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
