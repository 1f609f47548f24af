package daemon

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// checkPeer verifies that the process at the other end of a socket
// transport connection runs as this user (SO_PEERCRED) and returns its pid.
func checkPeer(c *net.UnixConn) (int32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	if int(cred.Uid) != os.Geteuid() {
		return 0, fmt.Errorf("peer uid %d is not ours (%d)", cred.Uid, os.Geteuid())
	}
	return cred.Pid, nil
}
