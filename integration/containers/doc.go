// Package containers holds the container suites of the integration module:
// the real ringwired, built static (CGO_ENABLED=0) and run in a FROM scratch
// image through testcontainers-go, its socket directory bind-mounted from
// the host, with the real client on the host talking to it over both
// transports (memfds and eventfds pass through the bind-mounted Unix
// socket). The suites then do to the container what happens to a deployed
// daemon: SIGKILL mid-stream and restart, pause and unpause, a graceful
// stop, hostile and silent clients, a memory limit, a thousand connections,
// and a deployment under a non-root uid. Each prints its measured figure
// on a "FIGURE" line (go test -v shows them) and fails past a generous
// bound: the 100 ms targets of the kill and restart are printed with a
// verdict and fail only past 2 s, since the machine may be shared.
//
// Memory is read from the container's cgroup on cgroup v2 (memory.current,
// memory.peak, memory.stat, memory.events: max, oom, oom_kill) or v1,
// hybrid hosts included (memory.usage_in_bytes, memory.max_usage_in_bytes,
// memory.failcnt, memory.stat, memory.oom_control), beside ringwired's
// RssAnon and VmRSS from /proc of its host pid (docker inspect's
// State.Pid) and, in the load test, the daemon's own stats. The memory
// limit test sizes -max-conns to its 64 MiB limit (16 MiB for the runtime,
// 3 MiB a connection) and checks each connection's cost against that
// budget. RINGWIRE_CONTAINERS_CONNS changes the load test's 1000
// connections.
//
// No registry is needed: the image is built FROM scratch around a binary
// the suite builds. Ryuk is disabled (TESTCONTAINERS_RYUK_DISABLED=true)
// and every test removes its container and its image.
//
// Without a reachable Docker daemon the suites skip, saying how to get one;
// with RINGWIRE_REQUIRE_ALL set (as .ci/run sets it) a missing Docker is a
// failure. -short skips them on purpose, and says so. They run under
// `go tool mage integration` and `go tool mage test`; .ci/run starts a
// dockerd for them (installing docker.io) when docker info fails.
//
//	RINGWIRE_REQUIRE_ALL=1 go test -race -v -count=1 ./containers/
package containers
