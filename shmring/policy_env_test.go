package shmring

import "os"

// SHMRING_TEST_HINTS=0 turns the CPU hints off by default in this test
// binary and the children it starts, for A/B runs of the benchmarks.
func init() {
	if os.Getenv("SHMRING_TEST_HINTS") == "0" {
		defaultCPUHints = false
	}
}
