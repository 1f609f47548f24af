//go:build !linux && !darwin && !freebsd

package shmring

import (
	"context"
	"net"
)

// UnixListener is unavailable on this system, which offers no way to learn
// a Unix socket peer's uid: ListenUnix returns ErrUnsupported.
type UnixListener struct{}

// ListenUnix returns ErrUnsupported: serving peers whose uid cannot be
// checked is not an option.
func ListenUnix(path string, opts ...Option) (*UnixListener, error) { return nil, ErrUnsupported }

// NewUnixListener returns ErrUnsupported. It closes ln.
func NewUnixListener(ln *net.UnixListener, opts ...Option) (*UnixListener, error) {
	if ln != nil {
		ln.Close()
	}
	return nil, ErrUnsupported
}

// AcceptUnix returns ErrUnsupported.
func (l *UnixListener) AcceptUnix() (*net.UnixConn, PeerInfo, error) {
	return nil, PeerInfo{}, ErrUnsupported
}

// Accept returns ErrUnsupported.
func (l *UnixListener) Accept() (net.Conn, error) { return nil, ErrUnsupported }

// Refused returns 0.
func (l *UnixListener) Refused() uint64 { return 0 }

// Close returns ErrUnsupported.
func (l *UnixListener) Close() error { return ErrUnsupported }

// Addr returns nil.
func (l *UnixListener) Addr() net.Addr { return nil }

// Path returns "".
func (l *UnixListener) Path() string { return "" }

// DialUnix returns ErrUnsupported: the listener's uid cannot be checked.
func DialUnix(ctx context.Context, path string, opts ...Option) (*net.UnixConn, PeerInfo, error) {
	return nil, PeerInfo{}, ErrUnsupported
}

// PeerCredentials returns ErrUnsupported.
func PeerCredentials(c *net.UnixConn) (PeerInfo, error) { return PeerInfo{}, ErrUnsupported }

var _ net.Listener = (*UnixListener)(nil)
