package shmring

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is; the errors returned by this
// package wrap them with context.
var (
	// ErrUnsupported is returned by Listen and Dial on systems other than
	// Linux, which lack memfd and eventfd, and by ListenUnix, DialUnix and
	// PeerCredentials on systems other than Linux, macOS and FreeBSD, where
	// a Unix socket peer's uid cannot be learnt.
	ErrUnsupported = errors.New("shmring: shared-memory transport is only supported on Linux")

	// ErrCorrupt reports that the peer wrote an impossible value into shared
	// memory (a position, a record header, the segment header) or sent a
	// malformed setup message. The connection is closed when it is detected.
	ErrCorrupt = errors.New("shmring: peer corrupted the connection")

	// ErrTooLarge reports a message larger than the configured maximum
	// (WithMaxMessage), or a zero-copy reservation larger than one record.
	ErrTooLarge = errors.New("shmring: message too large")

	// ErrPeerGone reports that the other process closed its Unix socket
	// without closing the connection: it exited or was killed.
	ErrPeerGone = errors.New("shmring: peer is gone")

	// ErrPeerClosed is returned by writes after the peer closed the
	// connection normally. Reads return io.EOF in that case, once the data
	// already in the ring has been drained.
	ErrPeerClosed = errors.New("shmring: peer closed the connection")

	// ErrRefused is matched (errors.Is) by a *RefusedError.
	ErrRefused = errors.New("shmring: connection refused by listener")

	// ErrAddrInUse is returned by Listen and ListenUnix when a live listener
	// already serves the path.
	ErrAddrInUse = errors.New("shmring: a live listener already serves this path")

	// ErrPathTooLong is returned when a socket path does not fit in
	// sockaddr_un with its terminating NUL (107 bytes on Linux, 103 on macOS
	// and FreeBSD).
	ErrPathTooLong = errors.New("shmring: socket path too long for sockaddr_un")

	// ErrInsecureDir is returned by Listen and ListenUnix when the socket's
	// directory is unsafe: a symbolic link or not a directory, owned by a uid
	// other than ours or root's, or writable by group or others (sticky or
	// not, as /tmp). The error says what to change.
	ErrInsecureDir = errors.New("shmring: insecure socket directory")

	// ErrPeerUID is returned by Dial and DialUnix when the listener's uid
	// (SO_PEERCRED, LOCAL_PEERCRED) is neither ours nor allowed with
	// WithAllowUIDs. Listeners close such peers without returning them.
	ErrPeerUID = errors.New("shmring: peer runs as a user that is not allowed")

	// ErrPending is returned when a call would interleave with an
	// outstanding zero-copy Reserve (before Commit) or conflict with the
	// state of the connection's read side.
	ErrPending = errors.New("shmring: a zero-copy reservation is pending")

	// ErrNoReservation is returned by Commit without a matching Reserve, or
	// with a length larger than the reservation.
	ErrNoReservation = errors.New("shmring: commit without a matching reservation")
)

// RefusedError is returned by Dial when the listener's admission hook
// (WithAdmit) refused the connection. Reason holds the bytes the application
// supplied, verbatim (for ringwire's daemon, an encoded protocol Error frame).
// It matches ErrRefused with errors.Is.
type RefusedError struct {
	Reason []byte
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("shmring: connection refused by listener (%d-byte reason)", len(e.Reason))
}

// Is reports whether target is ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// PeerInfo identifies the process at the other end of a connection, as the
// kernel reports it for the Unix socket (SO_PEERCRED; LOCAL_PEERCRED on macOS
// and FreeBSD, where PID is 0) when it was set up.
type PeerInfo struct {
	PID int32
	UID uint32
	GID uint32
}

// Stats is a snapshot of a connection's rings and counters, for monitoring.
// Occupancy figures are read from shared memory without locking and may be
// momentarily stale.
type Stats struct {
	TxCapacity   uint64 // bytes in the ring this side writes
	RxCapacity   uint64 // bytes in the ring this side reads
	TxUsed       uint64 // bytes written and not yet released by the peer
	RxUsed       uint64 // bytes the peer wrote that this side has not released
	MsgsSent     uint64 // records committed (message API and byte stream)
	MsgsReceived uint64 // records consumed
	TxPosition   uint64 // bytes ever written to the tx ring (records, headers, padding)
	RxPosition   uint64 // bytes ever released from the rx ring
	Parks        uint64 // times a call of this side parked on its eventfd
	Wakeups      uint64 // eventfd signals this side sent to a parked peer
	Unstacks     uint64 // times this side, woken on its waker's CPU, moved its thread off it

	// SpinHits counts waits that ended while spinning: the data (or space)
	// arrived within the spin bound, so no park was needed. SpinMisses
	// counts waits that spun their whole bound and then went on to park
	// (a few find the data at the re-check after raising the parked flag;
	// the rest pay for the spin and for the wake-up). With Parks they show
	// whether the spin pays for this traffic: mostly hits, spinning saves
	// wake-ups; mostly misses, it costs CPU for nothing (WithSpin(0) parks
	// at once; WaitPredict, the default policy, stops spinning when fewer
	// than four in five spins pay). A wait that parked without spinning (WithSpin(0),
	// WaitPredict parking at once, or a spin cut short because the
	// connection went down) counts in neither.
	SpinHits   uint64
	SpinMisses uint64
}
