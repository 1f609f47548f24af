//go:build !linux

package shmring

import "net"

// NewListener returns ErrUnsupported: shmring needs Linux (memfd,
// eventfd). It closes ln.
func NewListener(ln *net.UnixListener, opts ...Option) (*Listener, error) {
	if ln != nil {
		ln.Close()
	}
	return nil, ErrUnsupported
}
