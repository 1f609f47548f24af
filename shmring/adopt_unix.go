//go:build linux || darwin || freebsd

package shmring

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// NewUnixListener adopts ln, a Unix stream socket already listening (one
// inherited from systemd's socket activation, see net.FileListener), as a
// UnixListener. Accept checks each peer's uid exactly as ListenUnix's does
// (ours, or allowed with WithAllowUIDs). Whoever created the socket owns
// its file: NewUnixListener takes no lock, and Close closes the listening
// descriptor but never removes the socket file (ln.SetUnlinkOnClose(false)).
//
// The socket must be a listening SOCK_STREAM socket; a socket bound to a
// path must sit in a directory that passes Listen's directory rule, checked
// with lstat (ErrInsecureDir): whoever can write it can put their own
// socket in its place. An abstract socket (a name starting with "@") has no
// directory; the uid check is then its only protection.
//
// Options: WithAllowUIDs. ln belongs to the UnixListener from then on,
// also when NewUnixListener fails (it is closed). On systems other than
// Linux, macOS and FreeBSD it returns ErrUnsupported.
func NewUnixListener(ln *net.UnixListener, opts ...Option) (*UnixListener, error) {
	cfg := buildConfig(opts)
	return adoptUnix(ln, cfg.allowUIDs)
}

func adoptUnix(ln *net.UnixListener, allow []uint32) (*UnixListener, error) {
	if ln == nil {
		return nil, fmt.Errorf("shmring: adopt: nil listener")
	}
	ul, err := checkAdopted(ln, allow)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return ul, nil
}

func checkAdopted(ln *net.UnixListener, allow []uint32) (*UnixListener, error) {
	ln.SetUnlinkOnClose(false)
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("shmring: adopt: %w", err)
	}
	var typ, acc int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); serr != nil {
			return
		}
		acc, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	}); err != nil {
		return nil, fmt.Errorf("shmring: adopt: %w", err)
	}
	addr, _ := ln.Addr().(*net.UnixAddr)
	path := ""
	if addr != nil {
		path = addr.Name
	}
	switch {
	case serr != nil:
		return nil, fmt.Errorf("shmring: adopt %s: getsockopt: %w", path, serr)
	case typ != unix.SOCK_STREAM:
		return nil, fmt.Errorf("shmring: adopt %s: not a stream socket (SO_TYPE %d)", path, typ)
	case acc == 0:
		return nil, fmt.Errorf("shmring: adopt %s: the socket is not listening", path)
	}
	if path != "" && path[0] != '@' {
		dir := filepath.Dir(path)
		fi, err := os.Lstat(dir)
		if err != nil {
			return nil, fmt.Errorf("shmring: adopt: lstat socket directory: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil, fmt.Errorf("shmring: adopt: lstat socket directory %s: no owner reported", dir)
		}
		if err := checkDir(dir, fi.Mode(), st.Uid, os.Geteuid()); err != nil {
			return nil, err
		}
	}
	return &UnixListener{ln: ln, path: path, allow: append([]uint32(nil), allow...)}, nil
}
