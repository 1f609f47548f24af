//go:build darwin || freebsd

package shmring

import "golang.org/x/sys/unix"

// peerCredOpt names the socket option PeerCredentials reads.
const peerCredOpt = "LOCAL_PEERCRED"

// getPeerCred reads the peer's credentials of socket fd (LOCAL_PEERCRED,
// which reports no pid).
func getPeerCred(fd int) (PeerInfo, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return PeerInfo{}, err
	}
	p := PeerInfo{UID: cred.Uid}
	if cred.Ngroups > 0 {
		p.GID = cred.Groups[0] // the effective gid comes first
	}
	return p, nil
}
