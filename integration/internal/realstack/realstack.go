// Package realstack runs real Go network stacks — net/http and gRPC — over
// ringwire's shared-memory transport (shmring.Conn, a net.Conn) and over a
// plain Unix socket, so the integration benchmarks and the stress test can
// put the stack's server in one process and its client in another and
// compare the transports under the stack a user would run.
//
// The services:
//
//	HTTP  POST /echo                       the request body, echoed
//	gRPC  grpc.health.v1.Health/Check      the standard health service (SERVING)
//	gRPC  /ringwire.realstack.Stress/Echo  bidirectional stream of
//	      wrapperspb.BytesValue: each message checked (sequence number in
//	      its first 8 bytes, in order, once; its payload derived from the
//	      sequence) and echoed, with optional random pauses
package realstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ringwire/ringwire/shmring"
)

// Transports the stacks run over.
const (
	Shm  = "shm"  // shmring.Listen / shmring.Dial
	Unix = "unix" // net.Listen("unix") / net.Dial("unix")
)

// ErrTransport is returned for a transport name that is neither Shm nor Unix.
var ErrTransport = errors.New("realstack: unknown transport")

// Listen listens on path over transport; opts apply to Shm only.
func Listen(transport, path string, opts ...shmring.Option) (net.Listener, error) {
	switch transport {
	case Shm:
		return shmring.Listen(path, opts...)
	case Unix:
		return net.Listen("unix", path)
	}
	return nil, fmt.Errorf("%w %q", ErrTransport, transport)
}

// Dialer returns a dial function for the stacks' clients that connects to
// path over transport, whatever address the stack asks for; opts apply to
// Shm only.
func Dialer(transport, path string, opts ...shmring.Option) (func(ctx context.Context, addr string) (net.Conn, error), error) {
	switch transport {
	case Shm:
		return func(ctx context.Context, _ string) (net.Conn, error) {
			return shmring.Dial(ctx, path, opts...)
		}, nil
	case Unix:
		var d net.Dialer
		return func(ctx context.Context, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrTransport, transport)
}

// Pauses inserts random pauses into a stream: after a message, with
// probability 1/Every, a pause uniformly distributed in [0, Max). The zero
// value never pauses.
type Pauses struct {
	Every int
	Max   time.Duration
}

// after pauses, or not, after a message; r is the caller's random source.
func (p Pauses) after(r interface{ IntN(int) int }) {
	if p.Every <= 0 || p.Max <= 0 || r.IntN(p.Every) != 0 {
		return
	}
	time.Sleep(time.Duration(r.IntN(int(p.Max))))
}
