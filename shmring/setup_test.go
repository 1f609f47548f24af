//go:build linux

package shmring

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestListenPaths(t *testing.T) {
	long := "/tmp/" + strings.Repeat("x", 120)
	if _, err := Listen(long); !errors.Is(err, ErrPathTooLong) {
		t.Errorf("long path: %v", err)
	}
	if _, err := Dial(context.Background(), long); !errors.Is(err, ErrPathTooLong) {
		t.Errorf("dial long path: %v", err)
	}
	if _, err := Listen(""); err == nil {
		t.Error("empty path accepted")
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(open, "s.sock")); !errors.Is(err, ErrInsecureDir) {
		t.Errorf("0777 dir: %v", err)
	}
	real := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(link, "s.sock")); !errors.Is(err, ErrInsecureDir) {
		t.Errorf("symlinked dir: %v", err)
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(t.TempDir(), "other")
		if err := os.Mkdir(other, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := Listen(filepath.Join(other, "s.sock")); !errors.Is(err, ErrInsecureDir) {
			t.Errorf("dir of another user: %v", err)
		}
	}

	// A regular file in the way is not removed.
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file at path: %v", err)
	}
}

func TestListenLiveAndStale(t *testing.T) {
	path := sockPath(t)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode: %v %v", fi.Mode(), err)
	}
	if _, err := Listen(path); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("second Listen on a live path: %v", err)
	}
	if ln.Addr().String() != path {
		t.Errorf("Addr = %v", ln.Addr())
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}

	// A socket file left behind by a dead listener (no lock held, nobody
	// answering) is replaced.
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatal("stale socket not left behind")
	}
	ln, err = Listen(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()

	// Someone answering on the path without holding the lock is not displaced.
	ul, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	if _, err := Listen(path); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("live foreign listener: %v", err)
	}
}

func TestDefaultSocketPath(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := DefaultSocketPath(); got != "/run/user/1000/ringwire/ringwired.sock" {
		t.Errorf("with XDG_RUNTIME_DIR: %s", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got := DefaultSocketPath(); !strings.HasPrefix(got, "/tmp/ringwire-") || !strings.HasSuffix(got, "/ringwired.sock") {
		t.Errorf("without: %s", got)
	}
}

func TestRefused(t *testing.T) {
	path := sockPath(t)
	seenc := make(chan PeerInfo, 1)
	ln, err := Listen(path, WithAdmit(func(p PeerInfo) ([]byte, bool) {
		seenc <- p
		return []byte("too many connections"), false
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Dial(context.Background(), path)
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || string(re.Reason) != "too many connections" {
		t.Fatalf("Dial: %v", err)
	}
	seen := <-seenc
	if seen.PID != int32(os.Getpid()) || int(seen.UID) != os.Geteuid() {
		t.Errorf("admit saw %+v", seen)
	}
	if !strings.Contains(re.Error(), "20-byte reason") {
		t.Errorf("Error() = %q", re.Error())
	}
}

func TestRingSizesAndOptions(t *testing.T) {
	d, l := pipe(t, []Option{WithMaxRingSize(64 << 10)}, []Option{WithRingSize(1 << 20), WithMaxMessage(100), WithHandshakeTimeout(time.Second), WithAllowUIDs(12345), nil})
	if tx, rx := d.RingSizes(); tx != 64<<10 || rx != 64<<10 {
		t.Errorf("granted %d/%d, want capped to 64 KiB", tx, rx)
	}
	if err := d.WriteMsg(make([]byte, 101)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteMsg over the limit: %v", err)
	}
	if p := l.PeerInfo(); p.PID != int32(os.Getpid()) {
		t.Errorf("PeerInfo %+v", p)
	}
	if d.LocalAddr() == nil || d.RemoteAddr() == nil {
		t.Error("nil addresses")
	}
	for n, want := range map[int]uint64{0: MinRingSize, 5000: 8192, 1 << 20: 1 << 20, 1 << 31: MaxRingSize} {
		if got := roundRingSize(n); got != want {
			t.Errorf("roundRingSize(%d) = %d, want %d", n, got, want)
		}
	}
	for n, want := range map[int]uint64{0: MinRingSize, 5000: 4096, 1 << 20: 1 << 20, 1 << 31: MaxRingSize} {
		if got := floorRingSize(n); got != want {
			t.Errorf("floorRingSize(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestZeroCopy covers Reserve/Commit and Peek/Release, including their
// misuse and the mapping outliving Close while a slice is out.
func TestZeroCopy(t *testing.T) {
	d, l := pipe(t, nil, []Option{WithRingSize(MinRingSize)})
	if _, err := d.Reserve(d.MaxRecord() + 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized Reserve: %v", err)
	}
	if err := d.Commit(1); !errors.Is(err, ErrNoReservation) {
		t.Errorf("Commit without Reserve: %v", err)
	}
	b, err := d.Reserve(10)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteMsg([]byte("x")); !errors.Is(err, ErrPending) {
		t.Errorf("WriteMsg during a reservation: %v", err)
	}
	if err := d.Commit(11); !errors.Is(err, ErrNoReservation) {
		t.Errorf("Commit beyond the reservation: %v", err)
	}
	copy(b, "hello")
	if err := d.Commit(5); err != nil {
		t.Fatal(err)
	}
	// A fragmented message then a small one; Peek reassembles the first.
	big := make([]byte, 3*d.MaxRecord())
	for i := range big {
		big[i] = byte(i)
	}
	go func() {
		_ = d.WriteMsg(big)
		_ = d.WriteMsg([]byte("tail"))
	}()
	m, err := l.Peek()
	if err != nil || string(m) != "hello" {
		t.Fatalf("Peek: %q %v", m, err)
	}
	if _, err := l.Peek(); !errors.Is(err, ErrPending) {
		t.Errorf("Peek of a fragmented message with one pending: %v", err)
	}
	l.Release()
	m, err = l.Peek()
	if err != nil || len(m) != len(big) || m[len(m)-1] != big[len(big)-1] {
		t.Fatalf("Peek of fragmented: %d %v", len(m), err)
	}
	l.Release()
	// Keep a peeked slice across Close: the memory stays mapped.
	m, err = l.Peek()
	if err != nil || string(m) != "tail" {
		t.Fatalf("Peek tail: %q %v", m, err)
	}
	// Reserve outstanding at Close, committed after.
	if _, err := d.Reserve(8); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if string(m) != "tail" {
		t.Error("peeked slice changed")
	}
	l.Release()
	if _, err := l.Peek(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Peek after Close: %v", err)
	}
	d.Close()
	if err := d.Commit(8); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	if err := d.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if err := d.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetDeadline after Close: %v", err)
	}
}

func TestContextAndDeadlines(t *testing.T) {
	d, l := pipe(t, nil, []Option{WithRingSize(MinRingSize)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.ReadMsgContext(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadMsgContext: %v", err)
	}
	if _, err := l.ReadMsgContext(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadMsgContext with expired ctx: %v", err)
	}
	// Fill the ring, then a write must time out without a partial message.
	for {
		_ = d.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		if err := d.WriteMsg(make([]byte, 1000)); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("WriteMsg: %v", err)
			}
			break
		}
	}
	// A fragmented message that times out half way is dropped by the reader.
	_ = d.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if err := d.WriteMsg(make([]byte, 10000)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("fragmented WriteMsg: %v", err)
	}
	_ = d.SetWriteDeadline(time.Time{})
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel2)
	if _, err := d.ReserveContext(ctx2, 2000); !errors.Is(err, context.Canceled) {
		t.Errorf("ReserveContext: %v", err)
	}
	_ = d.SetWriteDeadline(time.Time{})
	n := 0
	go func() { _ = d.WriteMsg([]byte("after")) }()
	var buf []byte
	var err error
	for {
		buf, err = l.ReadMsg(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf) == "after" {
			break
		}
		if len(buf) != 1000 {
			t.Fatalf("got a %d-byte message", len(buf))
		}
		n++
	}
	t.Logf("%d whole messages before the one after the timeouts", n)
	st := l.Stats()
	if st.RxCapacity != MinRingSize || st.MsgsReceived == 0 {
		t.Errorf("stats %+v", st)
	}
}

// fakeListener serves one dialer with a hand-made accept: fds and body.
func fakeListener(t *testing.T, reply func(s *net.UnixConn)) string {
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := ul.AcceptUnix()
		if err != nil {
			return
		}
		defer s.Close()
		var hb [setupHdr + helloBody]byte
		if _, err := recvFull(s, hb[:]); err != nil {
			return
		}
		reply(s)
		var b [1]byte
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = s.Read(b[:])
	}()
	t.Cleanup(func() { ul.Close(); <-done })
	return path
}

// TestDialValidation: a hostile listener's bad segments, seals, fds and
// messages are refused with ErrCorrupt, and every descriptor it sent is
// closed.
func TestDialValidation(t *testing.T) {
	const c0 = MinRingSize
	good := accept{capDialToListen: c0, capListenToDial: c0, segSize: newLayout(c0, c0).size}
	memfd := func(size int64, seal bool, scribble func([]byte)) int {
		fd, err := unix.MemfdCreate("t", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			t.Fatal(err)
		}
		_ = unix.Ftruncate(fd, size)
		if size >= headerSize {
			mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err != nil {
				t.Fatal(err)
			}
			newLayout(c0, c0).writeHeader(mem)
			if scribble != nil {
				scribble(mem)
			}
			_ = unix.Munmap(mem)
		}
		if seal {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, wantSeals)
		}
		return fd
	}
	efd := func() int {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	send := func(body []byte, fds ...int) func(s *net.UnixConn) {
		return func(s *net.UnixConn) {
			_ = sendFull(s, body, fds)
			closeFDs(fds)
		}
	}
	size := int64(good.segSize)
	p1, p2, _ := os.Pipe()
	defer p2.Close()
	pipefd, _ := unix.Dup(int(p1.Fd()))
	p1.Close()
	cases := map[string]func(s *net.UnixConn){
		"no fds":       send(good.append(nil)),
		"unsealed":     send(good.append(nil), memfd(size, false, nil), efd(), efd(), efd(), efd()),
		"short memfd":  send(good.append(nil), memfd(size-4096, true, nil), efd(), efd(), efd(), efd()),
		"bad magic":    send(good.append(nil), memfd(size, true, func(m []byte) { m[0] ^= 1 }), efd(), efd(), efd(), efd()),
		"not eventfd":  send(good.append(nil), memfd(size, true, nil), efd(), efd(), efd(), pipefd),
		"bad caps":     send(accept{capDialToListen: 5000, capListenToDial: c0, segSize: 1}.append(nil), memfd(size, true, nil), efd(), efd(), efd(), efd()),
		"garbage":      send([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")),
		"eof":          func(s *net.UnixConn) { s.Close() },
		"hello back":   send(hello{}.append(nil)),
		"big refusal":  send(appendRefuse(nil, make([]byte, 70000))),
		"memfd is dir": send(good.append(nil), mustOpen(t, "/"), efd(), efd(), efd(), efd()),
	}
	before := countFDs(t)
	for name, reply := range cases {
		path := fakeListener(t, reply)
		_, err := Dial(context.Background(), path, WithRingSize(MinRingSize), WithHandshakeTimeout(5*time.Second))
		if err == nil {
			t.Errorf("%s: Dial succeeded", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if name != "eof" && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if after := countFDs(t); after > before {
		t.Errorf("descriptors leaked: %d → %d", before, after)
	}
	// A context cancelled mid-setup aborts Dial.
	path := fakeListener(t, func(s *net.UnixConn) { time.Sleep(200 * time.Millisecond) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial with a short context: %v", err)
	}
}

func mustOpen(t *testing.T, path string) int {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestListenerValidation: bad dialers (garbage, descriptors attached,
// hanging up) cost the listener nothing and it keeps serving.
func TestListenerValidation(t *testing.T) {
	path := sockPath(t)
	ln, err := Listen(path, WithHandshakeTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialAccept := func() (*Conn, *Conn) {
		ch := make(chan *Conn, 1)
		go func() { ch <- acceptOne(t, ln) }()
		d, err := Dial(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return d, <-ch
	}
	d, l := dialAccept() // warm up whatever the runtime creates lazily
	d.Close()
	l.Close()
	efd, _ := unix.Eventfd(0, unix.EFD_CLOEXEC)
	defer unix.Close(efd)
	before := countFDs(t)
	raw := func(msg []byte, fds ...int) {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = sendFull(nc.(*net.UnixConn), msg, fds)
		var b [64]byte
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = nc.Read(b[:])
	}
	raw([]byte("GET / HTTP/1.0\r\n\r\n"))
	raw(hello{reqDialToListen: 4096, reqListenToDial: 4096}.append(nil), efd)
	raw(append(hello{}.append(nil)[:setupHdr], make([]byte, helloBody)...)[:setupHdr+4])
	bad := hello{}.append(nil)
	bad[setupHdr+10] = 1
	raw(bad)
	// Valid hello, then garbage instead of ready, with a descriptor.
	raw(append(hello{reqDialToListen: 4096, reqListenToDial: 4096}.append(nil), appendReady(nil)...), efd)
	d, l = dialAccept()
	if err := d.WriteMsg([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if m, err := l.ReadMsg(nil); err != nil || string(m) != "ok" {
		t.Fatalf("%q %v", m, err)
	}
	d.Close()
	l.Close()
	if after := countFDs(t); after > before {
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			t.Logf("fd %s → %s", e.Name(), l)
		}
		t.Errorf("descriptors leaked: %d → %d", before, after)
	}
}
