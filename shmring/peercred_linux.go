package shmring

import "golang.org/x/sys/unix"

// peerCredOpt names the socket option PeerCredentials reads.
const peerCredOpt = "SO_PEERCRED"

// getPeerCred reads the peer's credentials of socket fd (SO_PEERCRED).
func getPeerCred(fd int) (PeerInfo, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return PeerInfo{}, err
	}
	return PeerInfo{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}
