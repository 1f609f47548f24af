package shmring

import "os"

// SHMRING_TEST_HINTS=0 turns the CPU hints off by default in this test
// binary and the children it starts, SHMRING_TEST_WAIT=spin or predict
// picks the default wait policy: for A/B runs of the benchmarks.
func init() {
	if os.Getenv("SHMRING_TEST_HINTS") == "0" {
		defaultCPUHints = false
	}
	switch os.Getenv("SHMRING_TEST_WAIT") {
	case "predict":
		defaultWaitPolicy = WaitPredict
	case "spin":
		defaultWaitPolicy = WaitSpin
	}
}
