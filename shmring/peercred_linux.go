package shmring

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// PeerCredentials returns the credentials of the process at the other end
// of a Unix socket, as the kernel recorded them when the connection was made
// (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS and FreeBSD, which report
// no pid: PID is 0 there). On other systems it returns ErrUnsupported.
func PeerCredentials(c *net.UnixConn) (PeerInfo, error) {
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
