//go:build linux

package shmring

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otherUID is the uid cross-user tests run their peer as ("nobody").
const otherUID = 65534

func TestUnixListenerDial(t *testing.T) {
	path := sockPath(t)
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("socket: %v %v", fi, err)
	}
	if ln.Path() != path || ln.Addr().String() != path {
		t.Errorf("Path %q, Addr %v", ln.Path(), ln.Addr())
	}
	if _, err := ListenUnix(path); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("second ListenUnix: %v", err)
	}
	if _, err := Listen(path); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("Listen on a ListenUnix path: %v", err)
	}
	type accepted struct {
		c    net.Conn
		peer PeerInfo
		err  error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, p, err := ln.AcceptUnix()
		ch <- accepted{c, p, err}
	}()
	d, peer, err := DialUnix(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if peer.PID != int32(os.Getpid()) || int(peer.UID) != os.Geteuid() || int(peer.GID) != os.Getegid() {
		t.Errorf("DialUnix peer %+v", peer)
	}
	a := <-ch
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.c.Close()
	if a.peer.PID != int32(os.Getpid()) || int(a.peer.UID) != os.Geteuid() {
		t.Errorf("AcceptUnix peer %+v", a.peer)
	}
	if _, err := d.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	if _, err := io.ReadFull(a.c, b[:]); err != nil || string(b[:]) != "ping" {
		t.Fatalf("read %q %v", b, err)
	}
	if p, err := PeerCredentials(a.c.(*net.UnixConn)); err != nil || p != a.peer {
		t.Errorf("PeerCredentials %+v %v", p, err)
	}

	go func() {
		c, err := ln.Accept()
		ch <- accepted{c: c, err: err}
	}()
	d2, _, err := DialUnix(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	d2.Close()
	if a := <-ch; a.err != nil {
		t.Fatal(a.err)
	} else {
		a.c.Close()
	}

	go func() {
		_, err := ln.Accept()
		ch <- accepted{err: err}
	}()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if a := <-ch; !errors.Is(a.err, net.ErrClosed) {
		t.Errorf("Accept across Close: %v", a.err)
	}
	if err := ln.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, p := range []string{path, path + ".lock"} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if ln.Refused() != 0 {
		t.Errorf("Refused = %d", ln.Refused())
	}
	if _, _, err := DialUnix(context.Background(), path); err == nil {
		t.Error("DialUnix after Close succeeded")
	}

	long := "/tmp/" + strings.Repeat("x", 120)
	if _, err := ListenUnix(long); !errors.Is(err, ErrPathTooLong) {
		t.Errorf("ListenUnix long path: %v", err)
	}
	if _, _, err := DialUnix(context.Background(), long); !errors.Is(err, ErrPathTooLong) {
		t.Errorf("DialUnix long path: %v", err)
	}
	if _, err := ListenUnix(filepath.Join(t.TempDir(), strings.Repeat("y", maxSocketPath))); !errors.Is(err, ErrPathTooLong) {
		t.Errorf("path one byte over: %v", err)
	}

	// A stale socket file is replaced.
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	ln, err = ListenUnix(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
}

func TestUIDAllowed(t *testing.T) {
	for _, c := range []struct {
		uid   uint32
		self  int
		allow []uint32
		want  bool
	}{
		{1000, 1000, nil, true},
		{0, 1000, nil, false}, // root is not trusted implicitly
		{0, 1000, []uint32{0}, true},
		{otherUID, 0, nil, false},
		{otherUID, 0, []uint32{7, otherUID}, true},
		{1001, 1000, []uint32{1002}, false},
	} {
		if got := uidAllowed(c.uid, c.self, c.allow); got != c.want {
			t.Errorf("uidAllowed(%d, self %d, allow %v) = %v", c.uid, c.self, c.allow, got)
		}
	}
}

// sharedDir returns a fresh directory that otherUID can reach.
func sharedDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "shmring-uid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// startChildAs runs the test binary as a peer in role under uid otherUID.
// The binary is copied where that uid can execute it; its coverage goes to
// a directory it can write and is merged into ours afterwards.
func startChildAs(t *testing.T, role, path string, env ...string) *child {
	t.Helper()
	base := sharedDir(t)
	bin := filepath.Join(base, "shmring.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^TestChildProcess$", "-test.v"}
	if f := flag.Lookup("test.gocoverdir"); f != nil && f.Value.String() != "" {
		cov := filepath.Join(base, "cov")
		if err := os.Mkdir(cov, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(cov, otherUID, otherUID); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-test.gocoverdir="+cov)
		t.Cleanup(func() { mergeCoverage(cov, f.Value.String()) })
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = base
	cmd.Env = append(os.Environ(), childEnv+"="+role, pathEnv+"="+path)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return &child{cmd: cmd, out: out}
}

// mergeCoverage copies the coverage files a child wrote into dst.
func mergeCoverage(src, dst string) {
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		to := filepath.Join(dst, e.Name())
		if _, err := os.Lstat(to); err == nil {
			continue // the meta-data file is the same for every process
		}
		if b, err := os.ReadFile(filepath.Join(src, e.Name())); err == nil {
			_ = os.WriteFile(to, b, 0o644)
		}
	}
}

// ownedDir returns a directory inside a sharedDir, owned by otherUID with
// mode 0700, for a child running as that uid to listen in.
func ownedDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(sharedDir(t), "d")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	return d
}

// runUIDChild is the peer of the cross-user tests, running as otherUID.
// "uid-listen" serves SHMRING_KIND (unix or shm) at path, allowing root to
// connect, until killed. "uid-dial" dials path as SHMRING_KIND, allowing a
// root listener, and checks that it is served ("served") or dropped.
func runUIDChild(t *testing.T, role, path string) {
	if os.Geteuid() != otherUID {
		t.Fatalf("child runs as uid %d", os.Geteuid())
	}
	kind, want := os.Getenv("SHMRING_KIND"), os.Getenv("SHMRING_WANT")
	ctx := context.Background()
	switch role + "/" + kind {
	case "uid-listen/unix":
		ln, err := ListenUnix(path, WithAllowUIDs(0))
		if err != nil {
			t.Fatal(err)
		}
		for {
			c, _, err := ln.AcceptUnix()
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte("hi"))
			c.Close()
		}
	case "uid-listen/shm":
		ln, err := Listen(path, WithAllowUIDs(0))
		if err != nil {
			t.Fatal(err)
		}
		for {
			c, err := ln.AcceptConn()
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer c.Close()
				m, err := c.ReadMsg(nil)
				if err == nil {
					_ = c.WriteMsg(m)
				}
			}()
		}
	case "uid-dial/unix":
		c, peer, err := DialUnix(ctx, path, WithAllowUIDs(0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if peer.UID != 0 {
			t.Fatalf("listener uid %d", peer.UID)
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := io.ReadAll(c)
		switch {
		case want == "served" && string(b) != "hi":
			t.Fatalf("not served: %q %v", b, err)
		case want != "served" && (len(b) != 0 || err != nil):
			t.Fatalf("not dropped: %q %v", b, err)
		}
	case "uid-dial/shm":
		c, err := Dial(ctx, path, WithAllowUIDs(0), WithHandshakeTimeout(20*time.Second))
		if want != "served" {
			if err == nil {
				c.Close()
				t.Fatal("Dial of a listener that must drop us succeeded")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.WriteMsg([]byte("hi")); err != nil {
			t.Fatal(err)
		}
		if m, err := c.ReadMsg(nil); err != nil || string(m) != "hi" {
			t.Fatalf("echo %q %v", m, err)
		}
	default:
		t.Fatalf("unknown uid child %s/%s", role, kind)
	}
}

// TestDialRefusesOtherUID: DialUnix and Dial refuse a listener running as
// another uid (ErrPeerUID) unless WithAllowUIDs lists it.
func TestDialRefusesOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a peer as another uid; TestUIDAllowed covers the rule")
	}
	for _, kind := range []string{"unix", "shm"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(ownedDir(t), "s.sock")
			ch := startChildAs(t, "uid-listen", path, "SHMRING_KIND="+kind)
			defer ch.kill()
			ctx := context.Background()
			deadline := time.Now().Add(30 * time.Second)
			for {
				var err error
				if kind == "unix" {
					_, _, err = DialUnix(ctx, path)
				} else {
					_, err = Dial(ctx, path)
				}
				if errors.Is(err, ErrPeerUID) {
					t.Logf("refused: %v", err)
					break
				}
				if err == nil || time.Now().After(deadline) {
					t.Fatalf("Dial of a uid-%d listener: %v\n%s", otherUID, err, ch.out.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if kind == "unix" {
				c, peer, err := DialUnix(ctx, path, WithAllowUIDs(otherUID))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if peer.UID != otherUID || peer.PID != int32(ch.cmd.Process.Pid) {
					t.Errorf("peer %+v, child pid %d", peer, ch.cmd.Process.Pid)
				}
				if b, err := io.ReadAll(c); string(b) != "hi" {
					t.Errorf("read %q %v", b, err)
				}
				return
			}
			c, err := Dial(ctx, path, WithAllowUIDs(otherUID))
			if err != nil {
				t.Fatalf("%v\n%s", err, ch.out.String())
			}
			defer c.Close()
			if c.PeerInfo().UID != otherUID {
				t.Errorf("peer %+v", c.PeerInfo())
			}
			if err := c.WriteMsg([]byte("echo")); err != nil {
				t.Fatal(err)
			}
			if m, err := c.ReadMsg(nil); err != nil || string(m) != "echo" {
				t.Errorf("echo %q %v", m, err)
			}
		})
	}
}

// TestSocketDirRule: the socket directory may be 0700 or 0755, but not
// writable by group or others (sticky or not), not another user's, and not
// a symbolic link; for ListenUnix and for Listen alike.
func TestSocketDirRule(t *testing.T) {
	listens := map[string]func(string) (io.Closer, error){
		"ListenUnix": func(p string) (io.Closer, error) { return ListenUnix(p) },
		"Listen":     func(p string) (io.Closer, error) { return Listen(p) },
	}
	type dirCase struct {
		mode  fs.FileMode
		owner int // -1: ours
		link  bool
		want  string // "" accepted; else part of the error
	}
	cases := map[string]dirCase{
		"0700":           {mode: 0o700, owner: -1},
		"0755":           {mode: 0o755, owner: -1},
		"0711":           {mode: 0o711, owner: -1},
		"group-writable": {mode: 0o775, owner: -1, want: "writable by group (mode 0775); run chmod g-w "},
		"other-writable": {mode: 0o757, owner: -1, want: "writable by others (mode 0757); run chmod o-w "},
		"world-writable": {mode: 0o777, owner: -1, want: "writable by group and others (mode 0777); run chmod go-w "},
		"sticky 1777":    {mode: 0o777 | fs.ModeSticky, owner: -1, want: "sticky like /tmp"},
		"symlink":        {mode: 0o700, owner: -1, link: true, want: "symbolic link"},
	}
	if os.Geteuid() == 0 {
		cases["other uid"] = dirCase{mode: 0o755, owner: otherUID, want: "owned by uid 65534"}
	}
	for lname, listen := range listens {
		for name, c := range cases {
			t.Run(lname+"/"+name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "d")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, c.mode); err != nil {
					t.Fatal(err)
				}
				if c.owner >= 0 {
					if err := os.Chown(dir, c.owner, c.owner); err != nil {
						t.Fatal(err)
					}
				}
				if c.link {
					link := filepath.Join(t.TempDir(), "link")
					if err := os.Symlink(dir, link); err != nil {
						t.Fatal(err)
					}
					dir = link
				}
				ln, err := listen(filepath.Join(dir, "s.sock"))
				if c.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					ln.Close()
					return
				}
				if err == nil {
					ln.Close()
					t.Fatal("accepted")
				}
				if !errors.Is(err, ErrInsecureDir) || !strings.Contains(err.Error(), c.want) ||
					!strings.HasPrefix(err.Error(), "shmring: insecure socket directory "+dir+": ") {
					t.Errorf("got %v, want ErrInsecureDir with %q", err, c.want)
				}
			})
		}
	}
	// A missing directory is created 0700.
	dir := filepath.Join(t.TempDir(), "new", "d")
	ln, err := ListenUnix(filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if fi, err := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v %v", fi.Mode(), err)
	}
	// A file in place of the directory.
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(filepath.Join(file, "s.sock")); err == nil {
		t.Error("a file as the directory accepted")
	}
}

// TestCheckDir covers the rule for owners the tests cannot create.
func TestCheckDir(t *testing.T) {
	for _, c := range []struct {
		mode  fs.FileMode
		owner uint32
		self  int
		want  string
	}{
		{fs.ModeDir | 0o755, 1000, 1000, ""},
		{fs.ModeDir | 0o755, 0, 1000, ""}, // root's directory
		{fs.ModeDir | 0o700, 1001, 1000, "owned by uid 1001, neither uid 1000 nor root"},
		{fs.ModeDir | 0o770, 0, 1000, "writable by group (mode 0770)"},
		{fs.ModeDir | fs.ModeSticky | 0o777, 0, 1000, "sticky like /tmp"},
		{fs.ModeDir | fs.ModeSticky | 0o775, 1000, 1000, "run chmod g-w /x"},
		{fs.ModeSymlink | 0o777, 1000, 1000, "symbolic link"},
		{0o600, 1000, 1000, "not a directory"},
	} {
		err := checkDir("/x", c.mode, c.owner, c.self)
		if c.want == "" {
			if err != nil {
				t.Errorf("%v owner %d self %d: %v", c.mode, c.owner, c.self, err)
			}
			continue
		}
		if !errors.Is(err, ErrInsecureDir) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v owner %d self %d: %v, want %q", c.mode, c.owner, c.self, err, c.want)
		}
	}
}

// TestAcceptDropsOtherUID: ListenUnix and Listen close a dialer running as
// another uid without returning it, and keep serving; WithAllowUIDs lets it
// in.
func TestAcceptDropsOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a peer as another uid; TestUIDAllowed covers the rule")
	}
	// The dialer must be able to reach and connect to the socket: a 0755
	// directory, and the socket opened to everyone by the test.
	open := func(path string) {
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("unix", func(t *testing.T) {
		path := filepath.Join(sharedDir(t), "s.sock")
		ln, err := ListenUnix(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		open(path)
		type accepted struct {
			c    *net.UnixConn
			peer PeerInfo
			err  error
		}
		ch := make(chan accepted, 1)
		go func() {
			c, p, err := ln.AcceptUnix()
			ch <- accepted{c, p, err}
		}()
		startChildAs(t, "uid-dial", path, "SHMRING_KIND=unix", "SHMRING_WANT=dropped").wait(t)
		if n := ln.Refused(); n != 1 {
			t.Errorf("Refused = %d, want 1", n)
		}
		select {
		case a := <-ch:
			t.Fatalf("AcceptUnix returned %+v", a)
		default:
		}
		d, _, err := DialUnix(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		a := <-ch
		if a.err != nil || a.peer.PID != int32(os.Getpid()) {
			t.Fatalf("accept after the drop: %+v", a)
		}
		a.c.Close()

		path2 := filepath.Join(sharedDir(t), "s.sock")
		ln2, err := ListenUnix(path2, WithAllowUIDs(otherUID))
		if err != nil {
			t.Fatal(err)
		}
		defer ln2.Close()
		open(path2)
		go func() {
			c, p, err := ln2.AcceptUnix()
			ch <- accepted{c, p, err}
		}()
		child := startChildAs(t, "uid-dial", path2, "SHMRING_KIND=unix", "SHMRING_WANT=served")
		a = <-ch
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.peer.UID != otherUID || a.peer.PID != int32(child.cmd.Process.Pid) {
			t.Errorf("allowed peer %+v, child pid %d", a.peer, child.cmd.Process.Pid)
		}
		_, _ = a.c.Write([]byte("hi"))
		a.c.Close()
		child.wait(t)
	})
	t.Run("shm", func(t *testing.T) {
		path := filepath.Join(sharedDir(t), "s.sock")
		ln, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		open(path)
		startChildAs(t, "uid-dial", path, "SHMRING_KIND=shm", "SHMRING_WANT=dropped").wait(t)
		if n := ln.ul.Refused(); n != 1 {
			t.Errorf("Refused = %d, want 1", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if c, err := ln.AcceptContext(ctx); err == nil {
			c.Close()
			t.Fatal("a dropped dialer was accepted")
		}

		path2 := filepath.Join(sharedDir(t), "s.sock")
		ln2, err := Listen(path2, WithAllowUIDs(otherUID))
		if err != nil {
			t.Fatal(err)
		}
		defer ln2.Close()
		open(path2)
		child := startChildAs(t, "uid-dial", path2, "SHMRING_KIND=shm", "SHMRING_WANT=served")
		c := acceptOne(t, ln2)
		defer c.Close()
		if c.PeerInfo().UID != otherUID {
			t.Errorf("peer %+v", c.PeerInfo())
		}
		m, err := c.ReadMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		child.wait(t)
	})
}
