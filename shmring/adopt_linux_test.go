package shmring

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inherited makes a listening Unix socket at path the way a socket-activated
// process gets one: created elsewhere (here, by package net, whose listener
// is then closed without unlinking the file), handed over as a descriptor,
// turned into a *net.UnixListener by net.FileListener.
func inherited(t *testing.T, path string) *net.UnixListener {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	return fromFD(t, ln)
}

// fromFD passes a socket through a raw descriptor (File, then
// net.FileListener), as systemd's fds arrive, and closes the original
// without unlinking its file.
func fromFD(t *testing.T, s interface {
	File() (*os.File, error)
	Close() error
}) *net.UnixListener {
	t.Helper()
	if ul, ok := s.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	f, err := s.File()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	defer f.Close()
	nl, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	return nl.(*net.UnixListener)
}

// TestNewUnixListener: an adopted socket serves peers of our uid with
// their credentials, takes no lock and leaves its file on Close.
func TestNewUnixListener(t *testing.T) {
	path := sockPath(t)
	ul, err := NewUnixListener(inherited(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if ul.Path() != path || ul.Addr().String() != path {
		t.Errorf("Path %q, Addr %v; want %s", ul.Path(), ul.Addr(), path)
	}
	done := make(chan error, 1)
	go func() {
		c, peer, err := ul.AcceptUnix()
		if err == nil {
			if peer.PID != int32(os.Getpid()) || int(peer.UID) != os.Geteuid() {
				err = errors.New("wrong peer credentials")
			}
			_, _ = c.Write([]byte("hi"))
			c.Close()
		}
		done <- err
	}()
	c, peer, err := DialUnix(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 2)
	if _, err := c.Read(b); err != nil || string(b) != "hi" || peer.PID != int32(os.Getpid()) {
		t.Errorf("read %q %v, peer %+v", b, err, peer)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an adopted socket has a lock file: %v", err)
	}
	// A second, ordinary listener on the same path is refused: the
	// adopted socket answers.
	if l2, err := ListenUnix(path); !errors.Is(err, ErrAddrInUse) {
		if l2 != nil {
			l2.Close()
		}
		t.Errorf("ListenUnix over an adopted live socket: %v", err)
	}
	if err := ul.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ul.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("Close removed the adopted socket's file: %v", err)
	}
	if _, _, err := ul.AcceptUnix(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("AcceptUnix after Close: %v", err)
	}
}

// TestNewListener: a shared-memory connection over an adopted socket, a
// message each way; Close leaves the socket file.
func TestNewListener(t *testing.T) {
	path := sockPath(t)
	ln, err := NewListener(inherited(t, path), WithMaxRingSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	ch := startChild(t, "echo", path, "SHMRING_RING=1048576")
	c := acceptOne(t, ln)
	if tx, rx := c.RingSizes(); tx != 64<<10 || rx != 64<<10 {
		t.Errorf("ring sizes %d, %d; want the listener's cap, 64 KiB", tx, rx)
	}
	if pi := c.PeerInfo(); pi.PID != int32(ch.cmd.Process.Pid) {
		t.Errorf("peer %+v, child %d", pi, ch.cmd.Process.Pid)
	}
	if err := c.WriteMsg([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if m, err := c.ReadMsg(nil); err != nil || string(m) != "ping" {
		t.Fatalf("echo %q %v", m, err)
	}
	c.Close()
	ch.wait(t)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Close removed the adopted socket's file: %v", err)
	}
}

// TestAdoptRefuses: what is not a listening stream socket in a safe
// directory is refused, and closed.
func TestAdoptRefuses(t *testing.T) {
	if _, err := NewUnixListener(nil); err == nil {
		t.Error("nil listener adopted")
	}
	// A datagram socket: net.FileListener makes a *net.UnixListener of it.
	dg := func(t *testing.T) *net.UnixListener {
		path := sockPath(t)
		_ = os.MkdirAll(filepath.Dir(path), 0o700)
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		return fromFD(t, c)
	}
	// A stream socket bound but not listening.
	unlistened := func(t *testing.T) *net.UnixListener {
		path := sockPath(t)
		_ = os.MkdirAll(filepath.Dir(path), 0o700)
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), "unlistened")
		defer f.Close()
		nl, err := net.FileListener(f)
		if err != nil {
			t.Fatal(err)
		}
		return nl.(*net.UnixListener)
	}
	// A listening socket in a directory others can write.
	insecure := func(t *testing.T) *net.UnixListener {
		dir := filepath.Join(t.TempDir(), "open")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		ln := inherited(t, filepath.Join(dir, "s.sock"))
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		return ln
	}
	for _, tc := range []struct {
		name string
		make func(*testing.T) *net.UnixListener
		want string
	}{
		{"datagram", dg, "not a stream socket"},
		{"not listening", unlistened, "not listening"},
		{"insecure directory", insecure, "writable by group and others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, adopt := range []func(*net.UnixListener) (net.Listener, error){
				func(l *net.UnixListener) (net.Listener, error) { return NewUnixListener(l) },
				func(l *net.UnixListener) (net.Listener, error) { return NewListener(l) },
			} {
				nl := tc.make(t)
				ln, err := adopt(nl)
				if err == nil {
					ln.Close()
					t.Fatal("adopted")
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q, want %q", err, tc.want)
				}
				if tc.name == "insecure directory" && !errors.Is(err, ErrInsecureDir) {
					t.Errorf("error %v does not match ErrInsecureDir", err)
				}
				if _, err := nl.File(); err == nil {
					t.Error("the refused listener was left open")
				}
			}
		})
	}
}

// TestAdoptedDropsOtherUID: the uid check applies to adopted sockets on
// both layers.
func TestAdoptedDropsOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a peer as another uid; TestUIDAllowed covers the rule")
	}
	for _, kind := range []string{"unix", "shm"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(sharedDir(t), "s.sock")
			nl := inherited(t, path)
			if err := os.Chmod(path, 0o666); err != nil {
				t.Fatal(err)
			}
			var refused func() uint64
			var closeFn func() error
			if kind == "unix" {
				ul, err := NewUnixListener(nl)
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					if c, _, err := ul.AcceptUnix(); err == nil {
						c.Close()
					}
				}()
				refused, closeFn = ul.Refused, ul.Close
			} else {
				ln, err := NewListener(nl)
				if err != nil {
					t.Fatal(err)
				}
				refused, closeFn = ln.ul.Refused, ln.Close
			}
			startChildAs(t, "uid-dial", path, "SHMRING_KIND="+kind, "SHMRING_WANT=dropped").wait(t)
			if n := refused(); n != 1 {
				t.Errorf("Refused = %d, want 1", n)
			}
			if err := closeFn(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestAdoptEdges: an abstract socket (no directory to check) is adopted; a
// closed listener and one whose directory is gone are refused.
func TestAdoptEdges(t *testing.T) {
	name := "@shmring-adopt-test-" + strconv.Itoa(os.Getpid())
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul, err := NewUnixListener(ln)
	if err != nil {
		t.Fatalf("abstract socket: %v", err)
	}
	if ul.Path() != name {
		t.Errorf("Path %q", ul.Path())
	}
	ul.Close()

	closedLn := inherited(t, sockPath(t))
	closedLn.Close()
	if _, err := NewUnixListener(closedLn); err == nil {
		t.Error("a closed listener was adopted")
	}

	path := sockPath(t)
	gone := inherited(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewListener(gone); err == nil || !strings.Contains(err.Error(), "lstat socket directory") {
		t.Errorf("socket whose directory is gone: %v", err)
	}
}
