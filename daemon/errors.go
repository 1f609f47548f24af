package daemon

import "errors"

// Sentinel errors. Match them with errors.Is: the errors this package
// returns wrap them with context.
var (
	// ErrConfig is wrapped by the errors New returns for an unusable
	// Config: a negative limit, a MaxPayload above
	// protocol.DefaultMaxPayload, an unknown transport. ParseTransports
	// wraps it too.
	ErrConfig = errors.New("daemon: invalid config")

	// ErrAddrInUse is returned by Listen (and so Serve) when a live daemon
	// already serves the socket path of one of the configured transports;
	// the error also wraps shmring.ErrAddrInUse. A socket file left by a
	// dead daemon is no such error: it is replaced.
	ErrAddrInUse = errors.New("daemon: address in use")

	// ErrServerClosed is returned by Listen and Serve once Shutdown has
	// been called: a Server cannot be restarted.
	ErrServerClosed = errors.New("daemon: server closed")

	// ErrCallDone is returned by the ResponseWriter methods when the call
	// has already ended: its terminal frame (Respond, End or Error) was
	// sent, the client canceled it, its session closed, or an inline
	// handler ran out of stream credit. The frame is not sent.
	ErrCallDone = errors.New("daemon: call already ended")
)
