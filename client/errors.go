package client

import (
	"errors"
	"fmt"

	"github.com/ringwire/ringwire/protocol"
)

// Sentinel errors, matched with errors.Is. Errors the daemon reports for a
// call are *protocol.Error values (match them with errors.As).
var (
	// ErrClosed is returned by calls on a Client after Close.
	ErrClosed = errors.New("client: closed")

	// ErrUnavailable means no connection to the daemon could be made (it
	// is not running, or is restarting). Retryable: the client reconnects
	// by itself on a later call.
	ErrUnavailable = errors.New("client: daemon unavailable")

	// ErrConnLost means the connection died while the call was in flight
	// (the daemon exited, was killed, disconnected, or stopped answering
	// heartbeats). Retryable, but the call may or may not have taken effect
	// on the daemon: the client never retries it by itself.
	ErrConnLost = errors.New("client: connection to the daemon lost")

	// ErrRefused means the daemon refused the connection at setup, e.g. at
	// its connection limit; the error also wraps the daemon's
	// *protocol.Error (code TooManyConns, Unavailable, ...). Retryable.
	ErrRefused = errors.New("client: connection refused by the daemon")

	// ErrPeerUID means the daemon's socket is served by a process running
	// as another uid (checked with SO_PEERCRED, or LOCAL_PEERCRED on macOS
	// and FreeBSD, on either transport): the client does not talk to it,
	// since another user's process could be impersonating the daemon. The
	// error also wraps shmring.ErrPeerUID and names the uid. Not retryable.
	ErrPeerUID = errors.New("client: the daemon runs as another uid")

	// ErrProtocol means the daemon sent something that breaks the
	// protocol; the connection is closed. Not retryable.
	ErrProtocol = errors.New("client: protocol violation by the daemon")
)

// IsRetryable reports whether a call that failed with err may succeed if
// the caller makes it again: ErrUnavailable, ErrConnLost, ErrRefused, and
// daemon errors marked retryable (Overloaded, Unavailable); not ErrClosed,
// ErrProtocol or ErrPeerUID. The client itself never retries, because tool
// calls need not be idempotent.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConnLost) || errors.Is(err, ErrRefused) {
		return true
	}
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Retryable
}

// decodeError turns an Error payload into a *protocol.Error.
func decodeError(p []byte) error {
	var e protocol.Error
	if err := e.Unmarshal(p); err != nil {
		return fmt.Errorf("%w: undecodable Error payload: %w", ErrProtocol, err)
	}
	return &e
}
