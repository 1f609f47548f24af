//go:build !linux

package shmring

import (
	"context"
	"net"
	"time"
)

// Listener is unavailable on this system: Listen returns ErrUnsupported.
type Listener struct{}

// Listen returns ErrUnsupported: shmring needs Linux (memfd, eventfd).
func Listen(path string, opts ...Option) (*Listener, error) { return nil, ErrUnsupported }

// Accept returns ErrUnsupported.
func (l *Listener) Accept() (net.Conn, error) { return nil, ErrUnsupported }

// AcceptConn returns ErrUnsupported.
func (l *Listener) AcceptConn() (*Conn, error) { return nil, ErrUnsupported }

// AcceptContext returns ErrUnsupported.
func (l *Listener) AcceptContext(ctx context.Context) (*Conn, error) { return nil, ErrUnsupported }

// Close returns ErrUnsupported.
func (l *Listener) Close() error { return ErrUnsupported }

// Addr returns nil.
func (l *Listener) Addr() net.Addr { return nil }

// Conn is unavailable on this system: Dial returns ErrUnsupported.
type Conn struct{}

// Dial returns ErrUnsupported: shmring needs Linux (memfd, eventfd).
func Dial(ctx context.Context, path string, opts ...Option) (*Conn, error) {
	return nil, ErrUnsupported
}

// Read returns ErrUnsupported.
func (c *Conn) Read(p []byte) (int, error) { return 0, ErrUnsupported }

// Write returns ErrUnsupported.
func (c *Conn) Write(p []byte) (int, error) { return 0, ErrUnsupported }

// ReadMsg returns ErrUnsupported.
func (c *Conn) ReadMsg(buf []byte) ([]byte, error) { return buf[:0], ErrUnsupported }

// ReadMsgContext returns ErrUnsupported.
func (c *Conn) ReadMsgContext(ctx context.Context, buf []byte) ([]byte, error) {
	return buf[:0], ErrUnsupported
}

// WriteMsg returns ErrUnsupported.
func (c *Conn) WriteMsg(p []byte) error { return ErrUnsupported }

// WriteMsgContext returns ErrUnsupported.
func (c *Conn) WriteMsgContext(ctx context.Context, p []byte) error { return ErrUnsupported }

// WriteMsgs returns ErrUnsupported.
func (c *Conn) WriteMsgs(msgs [][]byte) (int, error) { return 0, ErrUnsupported }

// Peek returns ErrUnsupported.
func (c *Conn) Peek() ([]byte, error) { return nil, ErrUnsupported }

// PeekContext returns ErrUnsupported.
func (c *Conn) PeekContext(ctx context.Context) ([]byte, error) { return nil, ErrUnsupported }

// PeekBatch returns ErrUnsupported.
func (c *Conn) PeekBatch(dst [][]byte) ([][]byte, error) { return dst, ErrUnsupported }

// Release does nothing.
func (c *Conn) Release() {}

// MaxRecord returns 0.
func (c *Conn) MaxRecord() int { return 0 }

// Reserve returns ErrUnsupported.
func (c *Conn) Reserve(n int) ([]byte, error) { return nil, ErrUnsupported }

// ReserveContext returns ErrUnsupported.
func (c *Conn) ReserveContext(ctx context.Context, n int) ([]byte, error) {
	return nil, ErrUnsupported
}

// Commit returns ErrUnsupported.
func (c *Conn) Commit(n int) error { return ErrUnsupported }

// Close returns ErrUnsupported.
func (c *Conn) Close() error { return ErrUnsupported }

// Done returns a closed channel.
func (c *Conn) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Err returns ErrUnsupported.
func (c *Conn) Err() error { return ErrUnsupported }

// PeerInfo returns the zero PeerInfo.
func (c *Conn) PeerInfo() PeerInfo { return PeerInfo{} }

// RingSizes returns zeros.
func (c *Conn) RingSizes() (tx, rx int) { return 0, 0 }

// Stats returns the zero Stats.
func (c *Conn) Stats() Stats { return Stats{} }

// LocalAddr returns nil.
func (c *Conn) LocalAddr() net.Addr { return nil }

// RemoteAddr returns nil.
func (c *Conn) RemoteAddr() net.Addr { return nil }

// SetDeadline returns ErrUnsupported.
func (c *Conn) SetDeadline(t time.Time) error { return ErrUnsupported }

// SetReadDeadline returns ErrUnsupported.
func (c *Conn) SetReadDeadline(t time.Time) error { return ErrUnsupported }

// SetWriteDeadline returns ErrUnsupported.
func (c *Conn) SetWriteDeadline(t time.Time) error { return ErrUnsupported }

var (
	_ net.Conn     = (*Conn)(nil)
	_ net.Listener = (*Listener)(nil)
)
