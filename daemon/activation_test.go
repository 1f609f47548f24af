package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

func TestListenFDs(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		env   map[string]string
		n     int
		names []string
		err   string
	}{
		{env: nil},
		{env: map[string]string{"LISTEN_FDS": "2"}}, // no LISTEN_PID: not ours
		{env: map[string]string{"LISTEN_PID": "4243", "LISTEN_FDS": "2"}},
		{env: map[string]string{"LISTEN_PID": "x", "LISTEN_FDS": "2"}},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "shm:stream"}, n: 2, names: []string{"shm", "stream"}},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2"}, n: 2},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "shm"}, n: 2}, // not one name each
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "0"}},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "two"}, err: `LISTEN_FDS="two"`},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "-1"}, err: "LISTEN_FDS"},
		{env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "100000"}, err: "LISTEN_FDS"},
	} {
		n, names, err := listenFDs(func(k string) string { return tc.env[k] }, pid)
		if n != tc.n || !slices.Equal(names, tc.names) || (err == nil) != (tc.err == "") ||
			(err != nil && (!strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrConfig))) {
			t.Errorf("%v: %d %q %v; want %d %q %q", tc.env, n, names, err, tc.n, tc.names, tc.err)
		}
	}
}

// activationSockets makes the two sockets a .socket unit would, in a
// fresh 0700 directory, and returns the shm socket's path and a
// descriptor of each (duplicates, as a service manager passes them; the
// listeners that made them are closed without removing the files).
func activationSockets(t *testing.T) (path string, shmFD, streamFD int) {
	t.Helper()
	dir, err := os.MkdirTemp("", "rwa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "d.sock")
	return path, listeningFD(t, path), listeningFD(t, protocol.StreamPath(path))
}

// listeningFD returns a descriptor of a Unix stream socket listening at
// path.
func listeningFD(t *testing.T, path string) int {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// inode returns the inode of what fd refers to (0 if it is not open).
func inode(fd int) uint64 {
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil {
		return 0
	}
	return st.Ino
}

// closedFDs reports whether none of fds still refers to what it referred
// to when ino was taken (their numbers may have been reused since).
func closedFDs(fds []int, ino []uint64) bool {
	for i, fd := range fds {
		if inode(fd) == ino[i] {
			return false
		}
	}
	return true
}

func inodes(fds ...int) []uint64 {
	ino := make([]uint64, len(fds))
	for i, fd := range fds {
		ino[i] = inode(fd)
	}
	return ino
}

// TestAdoptFDs: sockets are told apart by name, else by path; whatever
// cannot be placed is an error and every descriptor is closed.
func TestAdoptFDs(t *testing.T) {
	t.Run("names", func(t *testing.T) {
		path, a, b := activationSockets(t)
		// Named the other way round from their paths: names win.
		ino := inodes(a, b)
		shm, stream, err := adoptFDs([]int{a, b}, []string{"stream", "shm"}, "/elsewhere.sock")
		if err != nil {
			t.Fatal(err)
		}
		defer shm.Close()
		defer stream.Close()
		if shm.Addr().String() != protocol.StreamPath(path) || stream.Addr().String() != path {
			t.Errorf("shm %v, stream %v", shm.Addr(), stream.Addr())
		}
		if !closedFDs([]int{a, b}, ino) {
			t.Error("the passed descriptors were left open")
		}
	})
	t.Run("paths", func(t *testing.T) {
		path, a, b := activationSockets(t)
		// systemd's default names (the socket unit's) and no names.
		for _, names := range [][]string{{"ringwired.socket", "ringwired.socket"}, nil} {
			shm, stream, err := adoptFDs([]int{b, a}, names, path)
			if err != nil {
				t.Fatal(err)
			}
			if shm.Addr().String() != path || stream.Addr().String() != protocol.StreamPath(path) {
				t.Errorf("%q: shm %v, stream %v", names, shm.Addr(), stream.Addr())
			}
			// Fresh descriptors of the same sockets for the next round.
			a, b = dupListener(t, shm), dupListener(t, stream)
			shm.Close()
			stream.Close()
		}
		syscall.Close(a)
		syscall.Close(b)
	})
	t.Run("one", func(t *testing.T) {
		path, a, b := activationSockets(t)
		syscall.Close(a)
		shm, stream, err := adoptFDs([]int{b}, []string{"stream"}, path)
		if err != nil || shm != nil || stream == nil {
			t.Fatalf("%v %v %v", shm, stream, err)
		}
		stream.Close()
	})
	pipeFD := func(t *testing.T) int {
		var p [2]int
		if err := syscall.Pipe(p[:]); err != nil {
			t.Fatal(err)
		}
		syscall.Close(p[1])
		return p[0]
	}
	tcpFD := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fd, _ := syscall.Dup(int(f.Fd()))
		return fd
	}
	for _, tc := range []struct {
		name  string
		extra func(*testing.T) int // a third descriptor, or nil
		names []string
		want  string
	}{
		{"unknown name and path", nil, []string{"shm", "metrics"}, `descriptor`},
		{"twice shm", nil, []string{"shm", "shm"}, "second socket for the same transport"},
		{"pipe", pipeFD, []string{"shm", "stream", "x"}, "descriptor"},
		{"not open", func(*testing.T) int { return 1 << 20 }, []string{"shm", "stream", "x"}, "bad file descriptor"},
		{"tcp", tcpFD, []string{"shm", "stream", "x"}, "tcp socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, a, b := activationSockets(t)
			fds := []int{a, b}
			if tc.extra != nil {
				fds = append(fds, tc.extra(t))
			}
			ino := inodes(fds...)
			shm, stream, err := adoptFDs(fds, tc.names, "/nowhere.sock")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig) || shm != nil || stream != nil {
				t.Fatalf("%v %v %v; want %q", shm, stream, err, tc.want)
			}
			if !closedFDs(fds[:2], ino[:2]) {
				t.Errorf("descriptors %v left open", fds[:2])
			}
			if tc.name == "pipe" || tc.name == "not open" {
				// Not a socket: left alone, still the pipe.
				if inode(fds[2]) != ino[2] {
					t.Error("the descriptor that is no socket was closed")
				}
				syscall.Close(fds[2])
			}
		})
	}
}

func dupListener(t *testing.T, ln *net.UnixListener) int {
	t.Helper()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestInheritedListenersEnv: the environment is read once and unset,
// whoever it was meant for.
func TestInheritedListenersEnv(t *testing.T) {
	for _, pid := range []int{os.Getpid() + 1, os.Getpid()} {
		t.Setenv("LISTEN_PID", strconv.Itoa(pid))
		t.Setenv("LISTEN_FDS", "0")
		t.Setenv("LISTEN_FDNAMES", "")
		shm, stream, err := InheritedListeners("/x.sock")
		if shm != nil || stream != nil || err != nil {
			t.Errorf("pid %d: %v %v %v", pid, shm, stream, err)
		}
		for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			if _, ok := os.LookupEnv(k); ok {
				t.Errorf("%s still set", k)
			}
		}
	}
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("LISTEN_FDS", "many")
	if _, _, err := InheritedListeners("/x.sock"); err == nil {
		t.Error("LISTEN_FDS=many accepted")
	}
}

// TestServerAdopts: a Server given listening sockets serves both
// transports on them, reports the adopted path, and leaves the socket
// files (and no lock files) when it stops.
func TestServerAdopts(t *testing.T) {
	path, a, b := activationSockets(t)
	shm, stream, err := adoptFDs([]int{a, b}, []string{"shm", "stream"}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{ShmListener: shm, StreamListener: stream, SocketPath: "/ignored.sock",
		Transports: []protocol.Transport{protocol.TransportShm}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if srv.SocketPath() != path {
		t.Errorf("SocketPath %q, want the adopted %q", srv.SocketPath(), path)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	for _, tr := range transports {
		cl, err := client.Dial(context.Background(), path, client.WithTransport(tr))
		if err != nil {
			t.Fatalf("%v: %v", tr, err)
		}
		if _, err := cl.Ping(context.Background()); err != nil {
			t.Errorf("%v: ping: %v", tr, err)
		}
		cl.Close()
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, protocol.StreamPath(path)} {
		if fi, err := os.Lstat(p); err != nil || fi.Mode().Type() != os.ModeSocket {
			t.Errorf("%s removed on shutdown: %v", p, err)
		}
		if _, err := os.Lstat(p + ".lock"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s.lock: %v", p, err)
		}
	}
}

// TestServerAdoptsOne: only the stream socket given: only the socket
// transport is served, on it; a failing adoption closes the other
// listener.
func TestServerAdoptsOne(t *testing.T) {
	path, a, b := activationSockets(t)
	syscall.Close(a)
	_, stream, err := adoptFDs([]int{b}, []string{"stream"}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, Config{StreamListener: stream})
	if srv.SocketPath() != path {
		t.Errorf("SocketPath %q, want %q", srv.SocketPath(), path)
	}
	cl, err := client.Dial(context.Background(), path, client.WithTransport(protocol.TransportSocket))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Error(err)
	}
	cl.Close()
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		t.Error("the shm socket is served although not handed over")
	}

	// A datagram socket as ShmListener: Listen fails and closes both.
	dir := t.TempDir()
	dg, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "g.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := dg.File()
	dg.Close()
	nl, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, c, d := activationSockets(t)
	syscall.Close(c)
	_, stream2, err := adoptFDs([]int{d}, []string{"stream"}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := New(Config{ShmListener: nl.(*net.UnixListener), StreamListener: stream2, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv2.Listen(); err == nil || !strings.Contains(err.Error(), "not a stream socket") {
		t.Errorf("Listen with a datagram socket: %v", err)
	}
	if _, err := stream2.File(); err == nil {
		t.Error("the stream listener was left open")
	}
}
