//go:build darwin || freebsd

package daemon

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// checkPeer verifies that the process at the other end of a socket
// transport connection runs as this user (LOCAL_PEERCRED). The pid is not
// reported on these systems (0).
func checkPeer(c *net.UnixConn) (int32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Xucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("LOCAL_PEERCRED: %w", serr)
	}
	if int(cred.Uid) != os.Geteuid() {
		return 0, fmt.Errorf("peer uid %d is not ours (%d)", cred.Uid, os.Geteuid())
	}
	return 0, nil
}
