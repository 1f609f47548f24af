package shmring

import "net"

// NewListener adopts ln, a Unix stream socket already listening (one
// inherited from systemd's socket activation, see net.FileListener), as a
// shared-memory Listener: what Listen does, on a socket someone else
// created. The socket is checked and owned as NewUnixListener says: a
// listening stream socket in a directory that passes the directory rule;
// each dialer's uid is checked at accept; no lock is taken, and Close never
// removes the socket file.
//
// Options: as Listen's. ln belongs to the Listener from then on, also when
// NewListener fails (it is closed). On systems other than Linux it returns
// ErrUnsupported.
func NewListener(ln *net.UnixListener, opts ...Option) (*Listener, error) {
	cfg := buildConfig(opts)
	ul, err := adoptUnix(ln, cfg.allowUIDs)
	if err != nil {
		return nil, err
	}
	return startListener(ul, cfg), nil
}
