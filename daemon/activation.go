package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/ringwire/ringwire/protocol"
)

// Names of the sockets a service manager hands ringwired, as systemd's
// FileDescriptorName= sets them (LISTEN_FDNAMES): the shared-memory
// transport's setup socket and the socket transport's socket.
const (
	ActivationNameShm    = "shm"
	ActivationNameStream = "stream"
)

// The sd_listen_fds(3) protocol: descriptors from listenFDsStart on.
const (
	listenFDsStart = 3
	// maxListenFDs bounds LISTEN_FDS: ringwired takes two sockets, a few
	// more are an error, a huge count is nonsense.
	maxListenFDs = 64
)

// InheritedListeners returns the listening sockets a service manager
// passed ringwired (systemd socket activation, sd_listen_fds(3)): when
// LISTEN_PID is this process's pid, LISTEN_FDS descriptors from 3 on. Each
// is told apart by its name in LISTEN_FDNAMES — ActivationNameShm ("shm")
// for the shared-memory transport, ActivationNameStream ("stream") for the
// socket transport — or, for a descriptor with another name or none, by
// the path it is bound to: socketPath, or protocol.StreamPath(socketPath).
// Either result may be nil (that socket was not passed); both are nil,
// with a nil error, when the process was not socket-activated.
//
// It unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in any case (so
// commands the daemon runs do not see them) and marks the descriptors
// close-on-exec. A descriptor that is not a listening Unix stream socket,
// two for the same transport, or one that matches neither is an error
// wrapping ErrConfig, and every passed socket is closed (a descriptor that
// is no socket at all is left alone: LISTEN_FDS may overstate what was
// passed, and the number may be one of this process's own).
func InheritedListeners(socketPath string) (shm, stream *net.UnixListener, err error) {
	n, names, err := listenFDs(os.Getenv, os.Getpid())
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		_ = os.Unsetenv(k)
	}
	if err != nil || n == 0 {
		return nil, nil, err
	}
	fds := make([]int, n)
	for i := range fds {
		fds[i] = listenFDsStart + i
		syscall.CloseOnExec(fds[i])
	}
	return adoptFDs(fds, names, socketPath)
}

// listenFDs reads the activation environment: how many descriptors were
// passed to pid (0 when LISTEN_PID is unset or names another process) and
// their names (nil when LISTEN_FDNAMES is unset or does not have one per
// descriptor).
func listenFDs(getenv func(string) string, pid int) (int, []string, error) {
	p := getenv("LISTEN_PID")
	if p == "" {
		return 0, nil, nil
	}
	if v, err := strconv.Atoi(p); err != nil || v != pid {
		return 0, nil, nil // meant for another process (a parent's leftovers)
	}
	n, err := strconv.Atoi(getenv("LISTEN_FDS"))
	if err != nil || n < 0 || n > maxListenFDs {
		return 0, nil, fmt.Errorf("%w: socket activation: LISTEN_FDS=%q is not a count in [0, %d]", ErrConfig, getenv("LISTEN_FDS"), maxListenFDs)
	}
	var names []string
	if v := getenv("LISTEN_FDNAMES"); v != "" {
		if names = strings.Split(v, ":"); len(names) != n {
			names = nil // not one per descriptor: match by path
		}
	}
	return n, names, nil
}

// adoptFDs turns the passed descriptors into listeners and assigns them
// to the transports. It closes every socket descriptor of fds (the
// listeners are duplicates), and the listeners too when it fails; a
// descriptor that is not a socket is an error and left alone.
func adoptFDs(fds []int, names []string, socketPath string) (shm, stream *net.UnixListener, err error) {
	lns := make([]*net.UnixListener, len(fds))
	defer func() {
		if err != nil {
			for _, ln := range lns {
				if ln != nil {
					ln.Close()
				}
			}
			shm, stream = nil, nil
		}
	}()
	for i, fd := range fds {
		// Only a socket is taken over (and its descriptor closed): a
		// LISTEN_FDS larger than what was passed must not make us close a
		// descriptor of our own, such as the runtime's epoll instance.
		var st syscall.Stat_t
		if serr := syscall.Fstat(fd, &st); serr != nil || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
			why := "not a socket"
			if serr != nil {
				why = serr.Error()
			}
			err = errors.Join(err, fmt.Errorf("%w: socket activation: descriptor %d: %s", ErrConfig, fd, why))
			continue
		}
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		nl, ferr := net.FileListener(f)
		f.Close()
		if ferr != nil {
			err = errors.Join(err, fmt.Errorf("%w: socket activation: descriptor %d is not a listening socket: %v", ErrConfig, fd, ferr))
			continue
		}
		ul, ok := nl.(*net.UnixListener)
		if !ok {
			nl.Close()
			err = errors.Join(err, fmt.Errorf("%w: socket activation: descriptor %d is a %s socket (%v), not a Unix one", ErrConfig, fd, nl.Addr().Network(), nl.Addr()))
			continue
		}
		lns[i] = ul
	}
	if err != nil {
		return nil, nil, err
	}
	for i, ln := range lns {
		name := ""
		if names != nil {
			name = names[i]
		}
		path := ln.Addr().String()
		var slot **net.UnixListener
		switch {
		case name == ActivationNameShm:
			slot = &shm
		case name == ActivationNameStream:
			slot = &stream
		case path == socketPath:
			slot = &shm
		case path == protocol.StreamPath(socketPath):
			slot = &stream
		default:
			return nil, nil, fmt.Errorf("%w: socket activation: descriptor %d (name %q, bound to %q) is neither %q nor %q, nor bound to %s or %s; set FileDescriptorName= in its .socket unit",
				ErrConfig, fds[i], name, path, ActivationNameShm, ActivationNameStream, socketPath, protocol.StreamPath(socketPath))
		}
		if *slot != nil {
			return nil, nil, fmt.Errorf("%w: socket activation: descriptor %d (name %q, bound to %q) is a second socket for the same transport", ErrConfig, fds[i], name, path)
		}
		*slot = ln
	}
	return shm, stream, nil
}
