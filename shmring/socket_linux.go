package shmring

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// maxSocketPath is the longest path that fits in sockaddr_un with its NUL.
const maxSocketPath = 107

func checkSocketPath(path string) error {
	if path == "" {
		return fmt.Errorf("shmring: empty socket path")
	}
	if len(path) > maxSocketPath {
		return fmt.Errorf("%w: %q is %d bytes", ErrPathTooLong, path, len(path))
	}
	return nil
}

// prepareDir creates the socket's directory with mode 0700 if needed and
// checks, with lstat, that it is a real directory owned by this user that
// no one else can enter or write: another user may have created it first.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("shmring: create socket directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("shmring: lstat socket directory: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%w: %s is not a directory", ErrInsecureDir, dir)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not %d", ErrInsecureDir, dir, st.Uid, os.Geteuid())
	}
	if st.Mode&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %#o, want 0700", ErrInsecureDir, dir, st.Mode&0o777)
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

// peerCred returns the credentials of the process at the other end.
func peerCred(c *net.UnixConn) (PeerInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return PeerInfo{}, fmt.Errorf("shmring: raw socket: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return PeerInfo{}, fmt.Errorf("shmring: SO_PEERCRED: %w", err)
	}
	if cerr != nil {
		return PeerInfo{}, fmt.Errorf("shmring: SO_PEERCRED: %w", cerr)
	}
	return PeerInfo{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}

func uidAllowed(uid uint32, allow []uint32) bool {
	return int(uid) == os.Geteuid() || slices.Contains(allow, uid)
}

// sendFull writes b (and, with its first byte, the descriptors fds).
func sendFull(c *net.UnixConn, b []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return fmt.Errorf("shmring: setup write: %w", err)
	}
	if n < len(b) {
		if _, err := c.Write(b[n:]); err != nil {
			return fmt.Errorf("shmring: setup write: %w", err)
		}
	}
	return nil
}

// maxRecvFDs bounds the descriptors read in one control message; a peer
// sending more makes the kernel truncate, which is an error.
const maxRecvFDs = 8

// recvFull fills b from the socket and returns every descriptor that came
// with it. On error the descriptors received so far are closed.
func recvFull(c *net.UnixConn, b []byte) (fds []int, err error) {
	oob := make([]byte, unix.CmsgSpace(maxRecvFDs*4))
	defer func() {
		if err != nil {
			closeFDs(fds)
			fds = nil
		}
	}()
	for n := 0; n < len(b); {
		k, oobn, flags, _, err := c.ReadMsgUnix(b[n:], oob)
		if oobn > 0 {
			got, perr := parseRights(oob[:oobn])
			fds = append(fds, got...)
			if perr != nil {
				return fds, perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return fds, fmt.Errorf("%w: peer sent more than %d descriptors", ErrCorrupt, maxRecvFDs)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fds, fmt.Errorf("shmring: setup read: %w", err)
		}
		if k == 0 {
			return fds, fmt.Errorf("shmring: setup read: %w", io.ErrUnexpectedEOF)
		}
		n += k
	}
	return fds, nil
}

// parseRights extracts SCM_RIGHTS descriptors from control data.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %v", ErrCorrupt, err)
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, fmt.Errorf("%w: SCM_RIGHTS: %v", ErrCorrupt, err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

// recvMsg reads one setup message of an expected type, closing any
// descriptor a peer attached when none was expected.
func recvMsg(c *net.UnixConn, want ...uint8) (setupHeader, []byte, []int, error) {
	var hb [setupHdr]byte
	fds, err := recvFull(c, hb[:])
	if err != nil {
		return setupHeader{}, nil, nil, err
	}
	h, err := parseSetupHeader(hb[:], want...)
	if err != nil {
		closeFDs(fds)
		return setupHeader{}, nil, nil, err
	}
	body := make([]byte, h.bodyLen)
	more, err := recvFull(c, body)
	fds = append(fds, more...)
	if err != nil {
		closeFDs(fds)
		return setupHeader{}, nil, nil, err
	}
	return h, body, fds, nil
}
