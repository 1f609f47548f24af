package daemon

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// otherUID is a uid that is not ours: nobody on most systems.
const otherUID = 65534

// TestSocketDirRule: both transports apply shmring's socket-directory
// rule. A directory owned by us (or root) that neither group nor others
// can write is accepted; one that others can write, sticky or not, one
// owned by another uid and a symbolic link are refused with
// shmring.ErrInsecureDir and a message saying what to change.
func TestSocketDirRule(t *testing.T) {
	type dirCase struct {
		name    string
		mode    os.FileMode
		owner   int  // chown the directory to this uid; -1: leave it
		symlink bool // give the path through a symbolic link to the directory
		want    string
	}
	cases := []dirCase{
		{name: "0700", mode: 0o700, owner: -1},
		{name: "0755", mode: 0o755, owner: -1},
		{name: "0775", mode: 0o775, owner: -1, want: "chmod g-w"},
		{name: "0757", mode: 0o757, owner: -1, want: "chmod o-w"},
		{name: "0777", mode: 0o777, owner: -1, want: "chmod go-w"},
		{name: "1777", mode: 0o777 | os.ModeSticky, owner: -1, want: "mkdir -m 0700"},
		{name: "other uid", mode: 0o755, owner: otherUID, want: "owned by uid 65534"},
		{name: "symlink", mode: 0o700, owner: -1, symlink: true, want: "symbolic link"},
	}
	for _, tr := range transports {
		for _, c := range cases {
			t.Run(tr.String()+"/"+c.name, func(t *testing.T) {
				if tr == protocol.TransportShm && runtime.GOOS != "linux" {
					t.Skip("shared memory is Linux only")
				}
				if c.owner >= 0 && os.Geteuid() != 0 {
					t.Skip("needs root to give a directory to another uid")
				}
				base := t.TempDir()
				dir := filepath.Join(base, "d")
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
				if c.symlink {
					link := filepath.Join(base, "link")
					if err := os.Symlink(dir, link); err != nil {
						t.Fatal(err)
					}
					dir = link
				}
				srv, err := New(Config{SocketPath: filepath.Join(dir, "d.sock"), Transports: []protocol.Transport{tr}, Logger: testLogger()})
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Shutdown(context.Background())
				err = srv.Listen()
				if c.want == "" {
					if err != nil {
						t.Fatalf("Listen in a %v directory: %v", c.mode, err)
					}
					done := make(chan error, 1)
					go func() { done <- srv.Serve(context.Background()) }()
					cl, err := client.Dial(context.Background(), srv.SocketPath(), client.WithTransport(tr))
					if err != nil {
						t.Fatal(err)
					}
					if _, err := cl.Ping(context.Background()); err != nil {
						t.Fatal(err)
					}
					cl.Close()
					srv.Shutdown(context.Background())
					if err := <-done; err != nil {
						t.Fatal(err)
					}
					return
				}
				if !errors.Is(err, shmring.ErrInsecureDir) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Listen: %v; want shmring.ErrInsecureDir saying %q", err, c.want)
				}
			})
		}
	}
}

// TestListenPathTooLong: a socket path that does not fit in sockaddr_un
// is refused; when only the socket transport's longer path is too long,
// the shared-memory listener opened first is closed again.
func TestListenPathTooLong(t *testing.T) {
	dir := t.TempDir()
	short := len(dir) + 1
	for _, tc := range []struct {
		name string
		tr   []protocol.Transport
		n    int // length of the shared-memory socket path
	}{
		{"shm", []protocol.Transport{protocol.TransportShm}, 200},
		{"socket", []protocol.Transport{protocol.TransportSocket}, 200},
		// The shared-memory path fits; the socket transport's, 7 bytes
		// longer, does not.
		{"both", []protocol.Transport{protocol.TransportShm, protocol.TransportSocket}, 102},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tr[0] == protocol.TransportShm && runtime.GOOS != "linux" {
				t.Skip("shared memory is Linux only")
			}
			path := filepath.Join(dir, strings.Repeat("x", tc.n-short))
			srv, err := New(Config{SocketPath: path, Transports: tc.tr, Logger: testLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			if err := srv.Listen(); !errors.Is(err, shmring.ErrPathTooLong) {
				t.Fatalf("Listen(%d-byte path): %v", len(path), err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("shared-memory socket left behind: %v", err)
			}
		})
	}
}

// TestSocketRefusesOtherUID: the socket transport closes a peer of another
// uid at once, without a word, counts it in Stats.RefusedUID and goes on
// serving.
func TestSocketRefusesOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a peer as another uid")
	}
	// A directory the other uid can reach, and a copy of the test binary
	// it can run.
	dir, err := os.MkdirTemp("", "rwd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "daemon.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, Config{SocketPath: filepath.Join(dir, "d.sock"), Transports: []protocol.Transport{protocol.TransportSocket}})
	stream := protocol.StreamPath(srv.SocketPath())
	if err := os.Chmod(stream, 0o666); err != nil { // let the other uid connect
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), dialEnv+"="+stream)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("peer as uid %d: %v: %s", otherUID, err, out)
	}
	// The listener counts the peer just after closing it.
	st := srv.Stats()
	for i := 0; i < 1000 && st.RefusedUID == 0; i++ {
		time.Sleep(time.Millisecond)
		st = srv.Stats()
	}
	if st.RefusedUID != 1 || st.Refused != 0 || st.Accepted != 0 {
		t.Fatalf("Stats after a peer of another uid: refused_uid %d, refused %d, accepted %d", st.RefusedUID, st.Refused, st.Accepted)
	}
	cl := dial(t, srv, client.WithTransport(protocol.TransportSocket))
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
