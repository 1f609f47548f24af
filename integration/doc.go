// Package integration holds ringwire's end-to-end suites. Its tests build
// the real ringwired, run it as a child process, and drive it with the
// client: completions over both transports, faults (daemon SIGKILL and
// restart, client SIGKILL), 1000 concurrent connections, a stalled stream
// reader; its benchmarks measure round trips and pipelined throughput
// across processes. Sub-packages hold other suites (poolbench).
//
// Run them with:
//
//	go test -race ./...                        # tests
//	go test -run '^$' -bench . ./...           # benchmarks
//	RINGWIRE_E2E_CONNS=5000 go test -run Many  # a bigger connection test
package integration
