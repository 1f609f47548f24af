package client

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// nobody is the uid (and gid) the foreign daemon of TestPeerUID runs as.
const nobody = 65534

// uidChildEnv names the socket directory a TestPeerUIDChild process
// listens in; unset, that test is skipped.
const uidChildEnv = "RINGWIRE_CLIENT_UID_CHILD"

// TestPeerUID runs a stand-in daemon as another user (nobody): a copy of
// this test binary that listens on d.sock and d.sock.stream with plain
// net.Listen. The client, on either transport, must refuse it with
// ErrPeerUID. It needs root to start a process as another uid;
// TestPeerUIDMapping covers the same errors without.
func TestPeerUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a listener as another uid")
	}
	// base (0755, ours) holds the binary nobody runs; base/d, nobody's
	// own 0700 directory, its sockets.
	base, err := os.MkdirTemp("", "rwcl-uid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "d")
	for _, err := range []error{os.Chmod(base, 0o755), os.Mkdir(dir, 0o700), os.Chown(dir, nobody, nobody)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "client.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^TestPeerUIDChild$"}
	if f := flag.Lookup("test.gocoverdir"); f != nil && f.Value.String() != "" {
		// The child writes its coverage where nobody may; we merge it.
		cov := filepath.Join(base, "cov")
		if err := os.Mkdir(cov, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(cov, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-test.gocoverdir="+cov)
		defer copyCoverage(t, cov, f.Value.String())
	}

	cmd := exec.Command(bin, args...)
	cmd.Dir = base
	cmd.Env = append(os.Environ(), uidChildEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	ready := make(chan string, 1)
	go func() {
		line, _ := out.ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "listening\n" {
			stdin.Close()
			rest, _ := io.ReadAll(out)
			cmd.Wait()
			t.Fatalf("child said %q%s\n%s", line, rest, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child not listening after 30 s\n%s", stderr.String())
	}

	path := filepath.Join(dir, "d.sock")
	for _, tr := range []protocol.Transport{protocol.TransportSocket, protocol.TransportShm} {
		_, err := Dial(context.Background(), path, WithTransport(tr), WithDialTimeout(5*time.Second), quiet)
		checkPeerUID(t, tr.String()+" Dial", err, nobody)
		cl, err := Dial(context.Background(), path, WithTransport(tr), WithLazyDial(), quiet)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Ping(context.Background())
		checkPeerUID(t, tr.String()+" lazy Ping", err, nobody)
		cl.Close()
	}

	stdin.Close() // the child stops listening and exits
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, rest, stderr.String())
	}
}

// copyCoverage adds the coverage files a child wrote in src to dst, the
// test's own coverage directory.
func copyCoverage(t *testing.T, src, dst string) {
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Error(err)
		return
	}
	for _, e := range ents {
		to := filepath.Join(dst, e.Name())
		if _, err := os.Lstat(to); err == nil {
			continue // the meta-data file: the same binary wrote it
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err == nil {
			err = os.WriteFile(to, b, 0o644)
		}
		if err != nil {
			t.Error(err)
		}
	}
}

// TestPeerUIDChild is TestPeerUID's foreign daemon: run as nobody, it
// listens on d.sock and d.sock.stream in the directory uidChildEnv names,
// with plain net.Listen (so nothing checks the dialer), says "listening"
// and serves until its stdin closes.
func TestPeerUIDChild(t *testing.T) {
	dir := os.Getenv(uidChildEnv)
	if dir == "" {
		t.Skip("runs only as TestPeerUID's child")
	}
	if os.Geteuid() != nobody {
		t.Fatalf("child runs as uid %d, want %d", os.Geteuid(), nobody)
	}
	path := filepath.Join(dir, "d.sock")
	for _, p := range []string{path, protocol.StreamPath(path)} {
		ln, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	os.Stdout.WriteString("listening\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
}
