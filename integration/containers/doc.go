// Package containers holds the container suites of the integration module:
// the real ringwired, built static (CGO_ENABLED=0) and run in a FROM scratch
// image through testcontainers-go, its socket directory bind-mounted from
// the host, with the real client on the host talking to it over both
// transports (memfds and eventfds pass through the bind-mounted Unix
// socket). The suites then do to the container what happens to a deployed
// daemon: SIGKILL mid-stream and restart, pause and unpause, a graceful
// stop, hostile and silent clients, a memory limit, a thousand connections,
// and a deployment under a non-root uid; each prints its measured figure.
//
// No registry is needed: the image is built FROM scratch around a binary
// the suite builds. Ryuk is disabled (TESTCONTAINERS_RYUK_DISABLED=true)
// and every test removes its container and its image.
//
// Without a reachable Docker daemon the suites skip, saying how to get one;
// with RINGWIRE_REQUIRE_ALL set (as .ci/run sets it) a missing Docker is a
// failure. -short skips them on purpose, and says so.
//
//	go test -race -run Container ./containers/
package containers
