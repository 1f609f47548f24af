package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// No configuration file of the machine's user may leak into the tests:
	// the default -config location is an empty directory's.
	dir, err := os.MkdirTemp("", "rwxdg")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		if opsBinDir != "" {
			os.RemoveAll(opsBinDir)
		}
		os.Exit(code)
	}))
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-version"}, 0, "ringwired 0."},
		{[]string{"-h"}, 0, "-max-inflight"},
		{[]string{"-h"}, 0, "neither\ngroup nor others can write"},
		{[]string{"-h"}, 0, "deprecated: the old name of -max-payload"},
		{[]string{"-h"}, 0, "deprecated: the old name of -max-ring-size"},
		{[]string{"-max-payload", "0"}, 2, "-max-payload must be positive"},
		{[]string{"-max-frame", "0"}, 2, "-max-payload must be positive"},
		{[]string{"-ring-size", "-1"}, 2, "-max-ring-size must be positive"},
		{[]string{"-max-payload", "10485761"}, 2, "MaxPayload 10485761 outside"},
		{[]string{"-provider", "gemini"}, 2, "unknown provider"},
		{[]string{"-provider", "openai", "-openai-base-url", ""}, 2, "BaseURL is required"},
		{[]string{"-transport", "udp"}, 2, "transport"},
		{[]string{"-workspace", "/nonexistent/ringwire-ws"}, 2, "workspace"},
		{[]string{"-h"}, 0, "-allow-command name"},
		{[]string{"-log-level", "loud"}, 2, "-log-level"},
		{[]string{"-max-conns", "0"}, 2, "must be positive"},
		{[]string{"-drain-timeout", "-1s"}, 2, "must not be negative"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"-nope"}, 2, "flag provided but not defined"},
		{[]string{"-socket", "/proc/ringwire-test/x.sock"}, 1, "ringwired:"},
	} {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.out)
		}
	}
}

// TestOpenAIKey: the key comes from the environment, the named variable
// first.
func TestOpenAIKey(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "k1")
	if k := openAIKey(""); k != "k1" {
		t.Errorf("OPENAI_API_KEY: %q", k)
	}
	t.Setenv("RINGWIRE_OPENAI_API_KEY", "k2")
	if k := openAIKey(""); k != "k2" {
		t.Errorf("RINGWIRE_OPENAI_API_KEY: %q", k)
	}
	t.Setenv("MY_KEY", "k3")
	if k := openAIKey("MY_KEY"); k != "k3" {
		t.Errorf("-openai-api-key-env: %q", k)
	}
}

// TestServeAndStop serves until the context ends; the ring limit takes
// effect under its name and under its deprecated alias.
func TestServeAndStop(t *testing.T) {
	for _, ringFlag := range []string{"-max-ring-size", "-ring-size"} {
		t.Run(ringFlag, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "rwc")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			sock := filepath.Join(dir, "d.sock")
			ctx, cancel := context.WithCancel(context.Background())
			var out bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"-socket", sock, "-log-level", "debug", "-mock-token-delay", "1ms", ringFlag, "65536", "-max-payload", "65536"}, &out, &out)
			}()
			var cl *client.Client
			for i := 0; ; i++ {
				cl, err = client.Dial(context.Background(), sock)
				if err == nil {
					break
				}
				if i == 500 {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if _, err := cl.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, b, err := cl.Call(context.Background(), protocol.MsgStats, nil)
			if err != nil {
				t.Fatal(err)
			}
			var st daemon.Stats
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			if len(st.SessionList) == 0 {
				t.Fatal("no session in Stats")
			}
			for _, ss := range st.SessionList {
				if ss.TxCapacity != 65536 || ss.RxCapacity != 65536 {
					t.Errorf("%s 65536: session %d has rings of %d and %d bytes", ringFlag, ss.ID, ss.TxCapacity, ss.RxCapacity)
				}
			}
			cl.Close()
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d: %s", code, out.String())
			}
		})
	}
}

var (
	opsBinOnce sync.Once
	opsBin     string
	opsBinErr  error
	opsBinDir  string
)

// sharedRingwired builds this command once per test run (instrumented
// for coverage when the run measures it) and returns the binary.
func sharedRingwired(t *testing.T) string {
	t.Helper()
	opsBinOnce.Do(func() {
		opsBinDir, opsBinErr = os.MkdirTemp("", "rwbin")
		if opsBinErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			opsBinErr = err
			return
		}
		opsBin = filepath.Join(opsBinDir, "ringwired")
		args := []string{"build", "-o", opsBin}
		if coverDir() != "" {
			args = append(args, "-cover", "-coverpkg=github.com/ringwire/ringwire/daemon/...")
			if mode := testing.CoverMode(); mode != "" {
				args = append(args, "-covermode="+mode)
			}
		}
		out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
		if err != nil {
			opsBinErr = &buildError{err, out}
		}
	})
	if opsBinErr != nil {
		t.Fatal(opsBinErr)
	}
	return opsBin
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// coverDir is the -test.gocoverdir of this run, if coverage is on.
func coverDir() string {
	if f := flag.Lookup("test.gocoverdir"); f != nil {
		return f.Value.String()
	}
	return ""
}

// proc is a ringwired child process whose stderr is collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
	up   chan struct{} // closed when it logs "ringwired listening"
}

// startProc starts cmd, whose stderr is read by the returned proc.
func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	cmd.Env = append(cmd.Env, "GOCOVERDIR="+coverDir())
	p := &proc{cmd: cmd, done: make(chan struct{}), up: make(chan struct{})}
	r, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(r)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), `msg="ringwired listening"`) {
				once.Do(func() { close(p.up) })
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		_ = cmd.Wait()
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitUp waits for the "ringwired listening" line and returns it.
func (p *proc) waitUp(t *testing.T) string {
	t.Helper()
	select {
	case <-p.up:
	case <-p.done:
		t.Fatalf("ringwired exited:\n%s", p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("ringwired did not start:\n%s", p.output())
	}
	for _, l := range strings.Split(p.output(), "\n") {
		if strings.Contains(l, `msg="ringwired listening"`) {
			return l
		}
	}
	return ""
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// systemdSocket listens on path as a .socket unit does and returns the
// descriptor to hand over; the test keeps it, as systemd keeps its own.
func systemdSocket(t *testing.T, path string) *os.File {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // the "service manager" removes it
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	t.Cleanup(func() { f.Close() })
	return f
}

// activated returns a command that runs ringwired the way systemd starts
// a socket-activated service: fds 3 and up are the listening sockets,
// LISTEN_FDS counts them, LISTEN_FDNAMES names them and LISTEN_PID is the
// daemon's own pid (a shell sets it to its $$, then execs ringwired, which
// keeps the pid).
func activated(bin string, files []*os.File, names string, args ...string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin}, args...)...)
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), "LISTEN_FDS="+strconv.Itoa(len(files)))
	if names != "" {
		cmd.Env = append(cmd.Env, "LISTEN_FDNAMES="+names)
	}
	return cmd
}

// pingBoth pings the daemon at sock over both transports.
func pingBoth(t *testing.T, sock string) {
	t.Helper()
	for _, tr := range []protocol.Transport{protocol.TransportShm, protocol.TransportSocket} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cl, err := client.Dial(ctx, sock, client.WithTransport(tr))
		if err != nil {
			cancel()
			t.Fatalf("%v: dial: %v", tr, err)
		}
		if _, err := cl.Ping(ctx); err != nil {
			t.Errorf("%v: ping: %v", tr, err)
		}
		cl.Close()
		cancel()
	}
}

// TestSocketActivation runs the real ringwired as systemd would start it
// from ringwired.socket and ringwired-stream.socket: it serves the
// inherited sockets over both transports — a client that connected
// before the daemon started (as an editor's first connect starts it) is
// served — and leaves the socket files, which it does not own, when it
// stops.
func TestSocketActivation(t *testing.T) {
	bin := sharedRingwired(t)
	for _, tc := range []struct {
		name   string
		names  string
		socket string // -socket; "" the handed-over path
	}{
		{"named", "shm:stream", "/nonexistent/elsewhere.sock"},
		{"named reversed", "stream:shm", "/nonexistent/elsewhere.sock"},
		{"by path", "", ""},
		{"default names", "ringwired.socket:ringwired-stream.socket", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "rwact")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			sock := filepath.Join(dir, "ringwired.sock")
			shmF, streamF := systemdSocket(t, sock), systemdSocket(t, protocol.StreamPath(sock))
			files := []*os.File{shmF, streamF}
			if tc.names == "stream:shm" {
				files = []*os.File{streamF, shmF}
			}
			socketFlag := tc.socket
			if socketFlag == "" {
				socketFlag = sock
			}
			// The editor connects first; its dial waits in the backlog.
			early := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cl, err := client.Dial(ctx, sock)
				if err == nil {
					_, err = cl.Ping(ctx)
					cl.Close()
				}
				early <- err
			}()
			time.Sleep(20 * time.Millisecond)
			p := startProc(t, activated(bin, files, tc.names, "-config", "", "-socket", socketFlag, "-log-level", "debug"))
			line := p.waitUp(t)
			if !strings.Contains(line, "socket_activated=true") || !strings.Contains(line, "transport=both") || !strings.Contains(line, "socket="+sock) {
				t.Errorf("listening line: %s", line)
			}
			if err := <-early; err != nil {
				t.Errorf("the client that connected before the daemon: %v\n%s", err, p.output())
			}
			pingBoth(t, sock)
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit %d:\n%s", code, p.output())
			}
			for _, path := range []string{sock, protocol.StreamPath(sock)} {
				if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
					t.Errorf("%s: removed by the daemon it does not belong to: %v", path, err)
				}
				if _, err := os.Lstat(path + ".lock"); err == nil {
					t.Errorf("%s.lock created", path)
				}
			}
			// The sockets still listen (the "service manager" holds
			// them): a second activation serves them again.
			p2 := startProc(t, activated(bin, files, tc.names, "-config", "", "-socket", socketFlag))
			p2.waitUp(t)
			pingBoth(t, sock)
			if code := p2.stop(t); code != 0 {
				t.Fatalf("second run: exit %d:\n%s", code, p2.output())
			}
		})
	}
}

// TestSocketActivationErrors: inherited descriptors ringwired cannot use
// stop it at start with a message saying why.
func TestSocketActivationErrors(t *testing.T) {
	bin := sharedRingwired(t)
	dir, err := os.MkdirTemp("", "rwact")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "ringwired.sock")
	other := systemdSocket(t, filepath.Join(dir, "other.sock"))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, tc := range []struct {
		files []*os.File
		names string
		want  string
	}{
		{[]*os.File{other}, "", `is neither "shm" nor "stream"`},
		{[]*os.File{pr}, "shm", "descriptor 3: not a socket"},
	} {
		cmd := activated(bin, tc.files, tc.names, "-config", "", "-socket", sock)
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+coverDir())
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %v\n%s\nwant %q", tc.names, err, out, tc.want)
		}
	}
}

// TestConfigFileBinary: the real ringwired reads -config; a flag given on
// the command line beats the file, the file beats the default; a bad file
// stops it with the file, line and key.
func TestConfigFileBinary(t *testing.T) {
	bin := sharedRingwired(t)
	dir, err := os.MkdirTemp("", "rwcfg")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "d.sock")
	cfg := filepath.Join(dir, "ringwired.toml")
	doc := "socket = \"" + sock + "\"\nlog_level = \"debug\"\nmetrics = \"127.0.0.1:0\"\n\n[limits]\nmax_conns = 7\nmax_ring_size = 65536\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, exec.Command(bin, "-config", cfg, "-max-conns", "9"))
	line := p.waitUp(t)
	if !strings.Contains(line, "max_conns=9") || !strings.Contains(line, "socket="+sock) {
		t.Errorf("listening line: %s", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := cl.Call(ctx, protocol.MsgStats, nil)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	var st daemon.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, ss := range st.SessionList {
		if ss.TxCapacity != 65536 {
			t.Errorf("ring of %d bytes; the file says 65536", ss.TxCapacity)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), `level=DEBUG msg="session started"`) {
		t.Errorf("log_level from the file not applied:\n%s", p.output())
	}
	if !strings.Contains(p.output(), `msg="metrics listening" addr=127.0.0.1:`) {
		t.Errorf("metrics from the file not applied:\n%s", p.output())
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[limits]\nmax_conns = 7\nmax_con = 8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", bad)
	cmd.Env = append(os.Environ(), "GOCOVERDIR="+coverDir())
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), bad+`:3: key "limits.max_con": unknown key`) {
		t.Errorf("bad file: %v\n%s", err, out)
	}
}

// TestConfigFlag: -config names a file that must exist; the default
// location's file is read when present; -config "" reads none.
func TestConfigFlag(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	if err := os.Mkdir(filepath.Join(xdg, "ringwire"), 0o700); err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(xdg, "ringwire", "ringwired.toml")
	if err := os.WriteFile(def, []byte("\n[limits]\nmax_con = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-config", filepath.Join(xdg, "missing.toml")}, 2, "no such file"},
		{nil, 2, def + `:3: key "limits.max_con": unknown key`},
		{[]string{"-version"}, 0, "ringwired 0."}, // before the file is read
		{[]string{"-config", "", "-max-conns", "0"}, 2, "-max-conns must be positive"},
		{[]string{"-h"}, 0, "-config file"},
		{[]string{"-h"}, 0, def},
	} {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.out)
		}
	}
	// A file whose metrics key works now that -metrics exists, and whose
	// value a flag refuses (none here: every value was checked).
	good := filepath.Join(xdg, "good.toml")
	if err := os.WriteFile(good, []byte("metrics = \"127.0.0.1:1\"\n[limits]\nmax_conns = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-config", good, "-transport", "udp"}, &out, &out); code != 2 || !strings.Contains(out.String(), "-transport") {
		t.Errorf("good file, bad flag: %d %q", code, out.String())
	}
}

// unitFile is a parsed systemd unit file: section → key → values (a key
// may repeat).
type unitFile map[string]map[string][]string

func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// readUnit parses a unit file of daemon/systemd: [Section] headers,
// Key=Value lines, # and ; comments.
func readUnit(t *testing.T, name string) unitFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not Key=Value in a section: %q", name, i+1, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u
}

// TestSystemdUnits: the unit files in daemon/systemd hand ringwired what
// it expects: the default socket path and its stream path under %t
// ($XDG_RUNTIME_DIR), named shm and stream, in a 0700 directory, both
// passed to ringwired.service, whose command line ringwired accepts.
func TestSystemdUnits(t *testing.T) {
	shmU, streamU, svc := readUnit(t, "ringwired.socket"), readUnit(t, "ringwired-stream.socket"), readUnit(t, "ringwired.service")
	t.Setenv("XDG_RUNTIME_DIR", "%t")
	def := shmring.DefaultSocketPath()
	for _, tc := range []struct {
		unit       unitFile
		name, path string
	}{
		{shmU, daemon.ActivationNameShm, def},
		{streamU, daemon.ActivationNameStream, protocol.StreamPath(def)},
	} {
		if got := tc.unit["Socket"]["ListenStream"]; len(got) != 1 || got[0] != tc.path {
			t.Errorf("%s socket: ListenStream %q, want [%s]", tc.name, got, tc.path)
		}
		if got := tc.unit.get("Socket", "FileDescriptorName"); got != tc.name {
			t.Errorf("%s socket: FileDescriptorName %q", tc.name, got)
		}
		if got := tc.unit.get("Socket", "Service"); got != "ringwired.service" {
			t.Errorf("%s socket: Service %q", tc.name, got)
		}
		if a := tc.unit.get("Socket", "Accept"); a != "" && a != "no" && a != "false" {
			t.Errorf("%s socket: Accept=%s (ringwired accepts itself)", tc.name, a)
		}
		// The directory rule: nobody else may write the directory.
		dm, err := strconv.ParseUint(tc.unit.get("Socket", "DirectoryMode"), 8, 32)
		if err != nil || dm&0o022 != 0 || dm != 0o700 {
			t.Errorf("%s socket: DirectoryMode %q, want 0700", tc.name, tc.unit.get("Socket", "DirectoryMode"))
		}
		if sm := tc.unit.get("Socket", "SocketMode"); sm != "0600" {
			t.Errorf("%s socket: SocketMode %q, want 0600", tc.name, sm)
		}
		if tc.unit.get("Install", "WantedBy") != "sockets.target" {
			t.Errorf("%s socket: not WantedBy sockets.target", tc.name)
		}
	}
	if got := strings.Fields(svc.get("Service", "Sockets")); !slices.Equal(got, []string{"ringwired.socket", "ringwired-stream.socket"}) {
		t.Errorf("service: Sockets=%q", got)
	}
	if got := svc.get("Service", "Type"); got != "simple" {
		t.Errorf("service: Type=%s (ringwired does not speak sd_notify)", got)
	}
	argv := strings.Fields(svc.get("Service", "ExecStart"))
	if len(argv) == 0 || filepath.Base(argv[0]) != "ringwired" {
		t.Fatalf("service: ExecStart %q", argv)
	}
	var out bytes.Buffer
	if code := run(context.Background(), append(argv[1:], "-version"), &out, &out); code != 0 {
		t.Errorf("ringwired refuses the unit's flags %q: %s", argv[1:], out.String())
	}
}

// TestSystemdUnitsRun: the units are valid to systemd (systemd-analyze
// verify), and systemd's own socket activation (systemd-socket-activate,
// given the units' sockets and names) starts ringwired on the first
// connection, which it serves over both transports. Skipped where systemd's
// tools are missing.
func TestSystemdUnitsRun(t *testing.T) {
	analyze, err1 := exec.LookPath("systemd-analyze")
	activate, err2 := exec.LookPath("systemd-socket-activate")
	if err1 != nil || err2 != nil {
		t.Skip("systemd-analyze or systemd-socket-activate not installed")
	}
	bin := sharedRingwired(t)
	rt, err := os.MkdirTemp("", "rwrt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(rt)
	units := filepath.Join(rt, "units")
	if err := os.Mkdir(units, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ringwired.socket", "ringwired-stream.socket", "ringwired.service"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("ExecStart=%h/go/bin/ringwired"), []byte("ExecStart="+bin))
		if err := os.WriteFile(filepath.Join(units, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(analyze, "--user", "verify", "ringwired.socket", "ringwired-stream.socket", "ringwired.service")
	cmd.Dir = units
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// What systemd would do with them, by systemd's own activation code.
	shmU, streamU, svc := readUnit(t, "ringwired.socket"), readUnit(t, "ringwired-stream.socket"), readUnit(t, "ringwired.service")
	dir := filepath.Join(rt, "ringwire")
	if err := os.Mkdir(dir, 0o700); err != nil { // DirectoryMode=0700
		t.Fatal(err)
	}
	shmPath := strings.ReplaceAll(shmU.get("Socket", "ListenStream"), "%t", rt)
	streamPath := strings.ReplaceAll(streamU.get("Socket", "ListenStream"), "%t", rt)
	argv := strings.Fields(svc.get("Service", "ExecStart"))
	args := []string{"-l", shmPath, "-l", streamPath,
		"--fdname=" + shmU.get("Socket", "FileDescriptorName") + ":" + streamU.get("Socket", "FileDescriptorName"),
		"-E", "GOCOVERDIR=" + coverDir(), "-E", "XDG_CONFIG_HOME=" + rt, bin}
	args = append(args, argv[1:]...)
	p := startProc(t, exec.Command(activate, append(args, "-log-level", "debug")...))
	for i := 0; ; i++ { // systemd-socket-activate listens, then waits
		if _, err := os.Stat(streamPath); err == nil {
			break
		}
		if i == 1000 {
			t.Fatalf("systemd-socket-activate did not listen:\n%s", p.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	pingBoth(t, shmPath)
	line := p.waitUp(t)
	if !strings.Contains(line, "socket_activated=true") || !strings.Contains(line, "socket="+shmPath) {
		t.Errorf("listening line: %s", line)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.output())
	}
}
