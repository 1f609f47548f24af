// Package loadpeers holds the comparison peers of ringwire-load: the
// same workloads served and called over other transports, so that
// ringwire's figures stand beside what an engineer would otherwise
// write. Each peer is a server (run by ringwire-load in a process of its
// own) and a load.Target:
//
//   - JSON: newline-delimited encoding/json over a Unix socket
//     (JSONServer, DialJSON);
//   - gRPC over a Unix socket (google.golang.org/grpc), a hand-written
//     service whose messages are ringwire's FlatBuffers payloads carried
//     as bytes by a codec, so no code generator is needed (GRPCServer,
//     DialGRPC);
//   - Node.js: server.js and client.js in two node processes, Node's
//     built-ins only (Node, WriteOps, Node.Measure: the client runs a
//     cell itself and prints its latencies);
//
// and the floors: CacheLine (two spinning threads) and Eventfd (a bare
// eventfd round trip between two Go processes, ServeEventfd the echo).
//
// The servers answer completions with ringwired's own mock provider and
// read_file from an os.Root on the same workspace, so both sides do the
// same work. It lives under integration/internal so that importing the
// client or protocol never downloads a peer's dependencies.
package loadpeers
