package integration

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"go.uber.org/goleak"
)

// ringwiredBin is the real daemon and ringwirectlBin the real control
// tool, built once by TestMain.
var ringwiredBin, ringwirectlBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(childEnv) != "" {
		os.Exit(clientChild())
	}
	raiseNoFile()
	// benchdash bench starts this binary once per benchmark, side and
	// round, and building both tools each time cost 2.7 s a start here; it
	// names a directory per side of its session in RINGWIRE_TEST_BINDIR,
	// where the first start builds them and the others reuse them. Not
	// with coverage on: those builds are instrumented for this run.
	keep := os.Getenv("RINGWIRE_TEST_BINDIR")
	if coverDir() != "" {
		keep = ""
	}
	dir := keep
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "rwbin"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	removeDir := func() {
		if keep == "" {
			os.RemoveAll(dir)
		}
	}
	ringwiredBin = filepath.Join(dir, "ringwired")
	ringwirectlBin = filepath.Join(dir, "ringwirectl")
	for _, b := range []struct{ out, pkg, cover string }{
		{ringwiredBin, "github.com/ringwire/ringwire/daemon/cmd/ringwired", "github.com/ringwire/ringwire/daemon/..."},
		{ringwirectlBin, "github.com/ringwire/ringwire/client/cmd/ringwirectl", "github.com/ringwire/ringwire/client/..."},
	} {
		if _, err := os.Stat(b.out); keep != "" && err == nil {
			continue
		}
		err := goBuild(b.out+".tmp", b.pkg, b.cover)
		if err == nil {
			err = os.Rename(b.out+".tmp", b.out)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "building", b.pkg+":", err)
			removeDir()
			os.Exit(1)
		}
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		removeDir()
		os.Exit(code)
	}))
}

// goBuild builds pkg into out, instrumented for coverage of coverPkg when
// this test run measures coverage (the child's counters land in the run's
// -test.gocoverdir).
func goBuild(out, pkg, coverPkg string) error {
	args := []string{"build", "-o", out}
	if coverDir() != "" {
		args = append(args, "-cover", "-coverpkg="+coverPkg)
		if mode := testing.CoverMode(); mode != "" {
			args = append(args, "-covermode="+mode)
		}
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// coverDir is the -test.gocoverdir of this run, if coverage is on.
func coverDir() string {
	if f := flag.Lookup("test.gocoverdir"); f != nil {
		return f.Value.String()
	}
	return ""
}

func raiseNoFile() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// daemonProc is a ringwired child process.
type daemonProc struct {
	cmd      *exec.Cmd
	sock     string
	listenAt time.Time // when it logged that it listens
	exited   chan struct{}
	mu       sync.Mutex
	log      strings.Builder
}

// socketDir returns a fresh private directory for a daemon socket.
func socketDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "rwi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startDaemon runs ringwired on sock with args and waits until it listens.
// It is stopped (SIGTERM) when the test ends.
func startDaemon(t testing.TB, sock string, args ...string) *daemonProc {
	t.Helper()
	// -debug-tools: the tests call the echo and sleep tools (an older
	// build, started with startDaemonBin, has them without the flag).
	return startDaemonBin(t, ringwiredBin, sock, append([]string{"-debug-tools"}, args...)...)
}

// startDaemonBin is startDaemon with another ringwired binary (an older
// build, say).
func startDaemonBin(t testing.TB, bin, sock string, args ...string) *daemonProc {
	t.Helper()
	args = append(args, strings.Fields(os.Getenv("RINGWIRE_E2E_DAEMON_ARGS"))...)
	cmd := exec.Command(bin, append([]string{"-socket", sock, "-log-level", "info"}, args...)...)
	cmd.Env = os.Environ()
	if d := coverDir(); d != "" {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+d)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, sock: sock, exited: make(chan struct{})}
	listening := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "ringwired listening") {
				select {
				case listening <- time.Now():
				default:
				}
			}
			d.mu.Lock()
			if d.log.Len() < 1<<20 {
				d.log.WriteString(line + "\n")
			}
			d.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(d.exited)
	}()
	select {
	case d.listenAt = <-listening:
	case <-d.exited:
		t.Fatalf("ringwired exited: %s", d.logs())
	case <-time.After(20 * time.Second):
		d.kill()
		t.Fatalf("ringwired did not listen: %s", d.logs())
	}
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *daemonProc) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func (d *daemonProc) pid() int { return d.cmd.Process.Pid }

// kill SIGKILLs the daemon and waits for it to exit.
func (d *daemonProc) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemonProc) stop(t testing.TB) {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("ringwired exited with %d: %s", code, d.logs())
		}
	case <-time.After(20 * time.Second):
		d.kill()
		t.Errorf("ringwired did not stop on SIGTERM")
	}
}

func dialDaemon(t testing.TB, sock string, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, sock, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// countFDs returns the number of open fds of process pid.
func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// countMemfdMaps returns how many mappings of process pid are memfds (the
// shared-memory rings).
func countMemfdMaps(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "/memfd:")
}
