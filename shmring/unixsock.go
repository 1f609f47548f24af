//go:build linux || darwin || freebsd

package shmring

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxSocketPath is the longest path that fits in sockaddr_un with its NUL
// (107 bytes on Linux, 103 on macOS and FreeBSD).
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// UnixListener is a net.Listener on a Unix stream socket secured as Listen's:
// the socket's directory must pass the directory rule (ErrInsecureDir), the
// socket file is mode 0600, a flock on path+".lock" keeps a second listener
// out (ErrAddrInUse) while a stale socket file is replaced, and only peers
// whose uid is ours or allowed with WithAllowUIDs are returned by Accept.
// It carries plain byte streams: Listen builds the shared-memory transport
// on it, and the socket transport uses it directly.
type UnixListener struct {
	ln      *net.UnixListener
	path    string
	lock    *os.File
	allow   []uint32
	refused atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// ListenUnix listens on the Unix stream socket at path under the same rules
// as Listen: the directory is created with mode 0700 if missing, and must be
// a real directory (no symbolic link) owned by this user or root that
// neither group nor others can write (ErrInsecureDir); a socket file left by a
// dead listener is replaced, a live listener is never displaced
// (ErrAddrInUse); the socket gets mode 0600; paths that do not fit in
// sockaddr_un fail with ErrPathTooLong.
//
// Options: WithAllowUIDs. On systems other than Linux, macOS and FreeBSD it
// returns ErrUnsupported.
func ListenUnix(path string, opts ...Option) (*UnixListener, error) {
	cfg := buildConfig(opts)
	return listenUnix(path, cfg.allowUIDs)
}

func listenUnix(path string, allow []uint32) (*UnixListener, error) {
	if err := checkSocketPath(path); err != nil {
		return nil, err
	}
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	lock, err := lockPath(path)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(path + ".lock")
			lock.Close()
		}
	}()
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("shmring: listen: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("shmring: chmod socket: %w", err)
	}
	ok = true
	return &UnixListener{ln: ln, path: path, lock: lock, allow: slices.Clone(allow)}, nil
}

// AcceptUnix waits for the next peer whose uid is ours or allowed
// (WithAllowUIDs) and returns its connection and credentials. Peers of other
// uids, and peers whose credentials cannot be read, are closed at once and
// not returned (Refused counts them); AcceptUnix keeps waiting. After Close
// it returns an error matching net.ErrClosed.
func (l *UnixListener) AcceptUnix() (*net.UnixConn, PeerInfo, error) {
	self := os.Geteuid()
	for {
		c, err := l.ln.AcceptUnix()
		if err != nil {
			return nil, PeerInfo{}, err
		}
		peer, err := PeerCredentials(c)
		if err == nil && uidAllowed(peer.UID, self, l.allow) {
			return c, peer, nil
		}
		c.Close()
		l.refused.Add(1)
	}
}

// Accept is AcceptUnix returning a net.Conn (a *net.UnixConn underneath).
func (l *UnixListener) Accept() (net.Conn, error) {
	c, _, err := l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Refused reports how many peers AcceptUnix has closed because their uid was
// not allowed or their credentials could not be read.
func (l *UnixListener) Refused() uint64 { return l.refused.Load() }

// Close stops listening, removes the socket and lock files and releases the
// lock; an adopted socket (NewUnixListener) is only closed, its file left to
// whoever created it. Connections already accepted stay open. Calling Close again does
// nothing and returns nil.
func (l *UnixListener) Close() error {
	err := error(nil)
	l.closeOnce.Do(func() {
		l.closeErr = l.ln.Close() // unlinks the socket, unless adopted
		if l.lock != nil {        // nil: adopted (NewUnixListener)
			_ = os.Remove(l.path + ".lock")
			_ = unix.Flock(int(l.lock.Fd()), unix.LOCK_UN)
			l.lock.Close()
		}
		err = l.closeErr
	})
	return err
}

// Addr returns the listener's Unix socket address.
func (l *UnixListener) Addr() net.Addr { return l.ln.Addr() }

// Path returns the path of the listener's socket file.
func (l *UnixListener) Path() string { return l.path }

// DialUnix connects to the Unix stream socket at path and checks the
// listener's uid: it must be ours or allowed with WithAllowUIDs, otherwise
// the connection is closed and the error matches ErrPeerUID. It returns the
// connection and the listener's credentials. ctx bounds the connect.
//
// Options: WithAllowUIDs. On systems other than Linux, macOS and FreeBSD it
// returns ErrUnsupported.
func DialUnix(ctx context.Context, path string, opts ...Option) (*net.UnixConn, PeerInfo, error) {
	cfg := buildConfig(opts)
	return dialUnix(ctx, path, cfg.allowUIDs)
}

func dialUnix(ctx context.Context, path string, allow []uint32) (*net.UnixConn, PeerInfo, error) {
	if err := checkSocketPath(path); err != nil {
		return nil, PeerInfo{}, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, PeerInfo{}, fmt.Errorf("shmring: dial: %w", err)
	}
	c := nc.(*net.UnixConn)
	peer, err := PeerCredentials(c)
	if err != nil {
		c.Close()
		return nil, PeerInfo{}, err
	}
	if !uidAllowed(peer.UID, os.Geteuid(), allow) {
		c.Close()
		return nil, PeerInfo{}, fmt.Errorf("%w: listener runs as uid %d", ErrPeerUID, peer.UID)
	}
	return c, peer, nil
}

// PeerCredentials returns the credentials of the process at the other end
// of a Unix socket, as the kernel recorded them when the connection was made
// (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS and FreeBSD, which report
// no pid: PID is 0 there). On other systems it returns ErrUnsupported.
func PeerCredentials(c *net.UnixConn) (PeerInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return PeerInfo{}, fmt.Errorf("shmring: raw socket: %w", err)
	}
	var p PeerInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) { p, gerr = getPeerCred(int(fd)) }); err != nil {
		return PeerInfo{}, fmt.Errorf("shmring: %s: %w", peerCredOpt, err)
	}
	if gerr != nil {
		return PeerInfo{}, fmt.Errorf("shmring: %s: %w", peerCredOpt, gerr)
	}
	return p, nil
}

// uidAllowed reports whether a peer running as uid may connect to a process
// whose effective uid is self: the same uid, or one listed in allow.
func uidAllowed(uid uint32, self int, allow []uint32) bool {
	return int64(uid) == int64(self) || slices.Contains(allow, uid)
}

func checkSocketPath(path string) error {
	if path == "" {
		return fmt.Errorf("shmring: empty socket path")
	}
	if len(path) > maxSocketPath {
		return fmt.Errorf("%w: %q is %d bytes, at most %d fit", ErrPathTooLong, path, len(path), maxSocketPath)
	}
	return nil
}

// lockPath takes an exclusive flock on path+".lock", failing with
// ErrAddrInUse if a live listener holds it. The lock dies with its process,
// so a stale lock file never keeps a new listener out.
func lockPath(path string) (*os.File, error) {
	lp := path + ".lock"
	for {
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("shmring: open lock file: %w", err)
		}
		err = ignoringEINTR(func() error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) })
		if errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("%w: %s", ErrAddrInUse, path)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("shmring: flock %s: %w", lp, err)
		}
		// A closing listener unlinks the lock file before unlocking it; make
		// sure the file locked is still the one at the path.
		var a, b unix.Stat_t
		if unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(lp, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			return f, nil
		}
		f.Close()
	}
}

// removeStale deletes a socket file left by a dead listener. It is called
// with the lock held; a connect probe double-checks that nobody answers.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shmring: lstat socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("shmring: %s exists and is not a socket", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("%w: %s answers connections", ErrAddrInUse, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("shmring: remove stale socket: %w", err)
	}
	return nil
}

// ignoringEINTR retries fn while it fails with EINTR.
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

var _ net.Listener = (*UnixListener)(nil)
