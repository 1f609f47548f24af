package daemon

import (
	"errors"
	"net"
	"syscall"

	"github.com/ringwire/ringwire/shmring"
)

// shmFrameConn adapts a shared-memory connection to frameConn. ReadMsg
// copies each message out of shared memory, so everything the session
// verifies and decodes is a private copy.
type shmFrameConn struct{ *shmring.Conn }

var errPeerGone = shmring.ErrPeerGone

// isTransportClosed reports errors that mean the connection is over rather
// than that the client sent something bad.
func isTransportClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, shmring.ErrPeerClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
