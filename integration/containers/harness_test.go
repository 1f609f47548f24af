package containers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
	"golang.org/x/sys/unix"
)

// In the container: the socket directory and the workspace, both
// bind-mounted from the host.
const (
	ctrSockDir   = "/run/ringwire"
	ctrSock      = ctrSockDir + "/d.sock"
	ctrWorkspace = "/workspace"
)

var (
	// binDir holds the static ringwired and a copy of this test binary
	// (a non-root child must be able to run it); 0755.
	binDir string
	// buildContext is the image's build context: a tar of the Dockerfile
	// and the static ringwired.
	buildContext []byte
	// docker talks to the Docker daemon; nil when dockerErr says why not.
	docker    *testcontainers.DockerClient
	dockerErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if sock := os.Getenv(childEnv); sock != "" {
		os.Exit(clientChild(sock))
	}
	// Before testcontainers reads its configuration: no registry can be
	// reached, so no Ryuk image; each test removes what it started.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	raiseNoFile()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		return m.Run() // each test says it skips on purpose
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		// A client is not a daemon: a socket left behind by a dead dockerd
		// gives one too. Ask the daemon itself.
		if _, perr := cli.Info(ctx, mobyclient.InfoOptions{}); perr != nil {
			cli.Close()
			err = fmt.Errorf("docker info: %w", perr)
		}
	}
	cancel()
	if err != nil {
		dockerErr = err
		return m.Run()
	}
	docker = cli
	defer cli.Close()
	dir, err := os.MkdirTemp("", "rwcbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := prepare(dir); err != nil {
		fmt.Fprintln(os.Stderr, "containers:", err)
		return 1
	}
	return m.Run()
}

// prepare builds the static ringwired into dir, tars the image's build
// context, and copies this test binary there for non-root children.
func prepare(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	binDir = dir
	bin := filepath.Join(dir, "ringwired")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/ringwire/ringwire/daemon/cmd/ringwired")
	// The image is FROM scratch: no libc, so no cgo.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building a static ringwired: %w", err)
	}
	daemonBin, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{"ringwired", 0o755, daemonBin},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	buildContext = buf.Bytes()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return copyFile(self, filepath.Join(dir, "containers.test"), 0o755)
}

// dockerfile is the daemon's image: the static binary and nothing else.
const dockerfile = `FROM scratch
COPY ringwired /ringwired
ENTRYPOINT ["/ringwired"]
`

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func raiseNoFile() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// requireDocker skips t (or fails it, with RINGWIRE_REQUIRE_ALL set) when
// the suites cannot run here, saying why.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the container suites are skipped on purpose (they need Docker and take about a minute)")
	}
	if dockerErr != nil {
		msg := fmt.Sprintf("no Docker daemon is reachable (%v); to run the container suites install Docker "+
			"(Debian/Ubuntu: apt-get install docker.io) and start dockerd, or point DOCKER_HOST at one; .ci/run does both", dockerErr)
		if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
			t.Fatalf("RINGWIRE_REQUIRE_ALL is set and %s", msg)
		}
		t.Skip(msg)
	}
}

// daemonOpts configures startContainer.
type daemonOpts struct {
	args      []string // ringwired flags after -socket, -log-level and -debug-tools
	uid, gid  int      // the container's --user; -1: the test process's
	workspace bool     // bind-mount a host directory as -workspace
	memory    int64    // memory limit in bytes, without swap; 0: none
}

// daemonContainer is ringwired running in a container.
type daemonContainer struct {
	t         testing.TB
	ctr       testcontainers.Container
	id        string
	sock      string // the shm socket's host path (the stream socket is sock+protocol.StreamSuffix)
	workspace string // the workspace's host path, if any
	// dirtyExit: the test killed the daemon on purpose, so its last exit
	// need not be clean.
	dirtyExit bool
}

// startContainer builds the daemon's image, runs ringwired in it as
// o.uid:o.gid with its socket directory (and workspace) bind-mounted, and
// waits until it logs that it listens. The container and its image are
// removed when the test ends, after a SIGTERM stop that must exit 0.
func startContainer(t *testing.T, o daemonOpts) *daemonContainer {
	t.Helper()
	if o.uid < 0 {
		o.uid, o.gid = os.Getuid(), os.Getgid()
	}
	sockDir, err := os.MkdirTemp("", "rwc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	// The daemon accepts a socket directory owned by itself or root and
	// writable by no one else: 0700, owned by the daemon's uid.
	if err := os.Chown(sockDir, o.uid, o.gid); err != nil {
		t.Fatal(err)
	}
	binds := []string{sockDir + ":" + ctrSockDir}
	args := append([]string{"-socket", ctrSock, "-log-level", "info", "-debug-tools"}, o.args...)
	d := &daemonContainer{t: t, sock: filepath.Join(sockDir, "d.sock")}
	if o.workspace {
		d.workspace = t.TempDir()
		if err := os.Chown(d.workspace, o.uid, o.gid); err != nil {
			t.Fatal(err)
		}
		binds = append(binds, d.workspace+":"+ctrWorkspace)
		args = append(args, "-workspace", ctrWorkspace)
	}
	req := testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			ContextArchive: bytes.NewReader(buildContext),
			Repo:           "ringwire-it",
			Tag:            strings.ToLower(fmt.Sprintf("%s-%d", sanitize(t.Name()), time.Now().UnixNano())),
		},
		Cmd:        args,
		WaitingFor: wait.ForLog("ringwired listening").WithPollInterval(10 * time.Millisecond).WithStartupTimeout(60 * time.Second),
		// --user: the peer-credential check serves only the daemon's own uid.
		ConfigModifier: func(c *container.Config) { c.User = fmt.Sprintf("%d:%d", o.uid, o.gid) },
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.Binds = binds
			if o.memory > 0 {
				hc.Memory = o.memory
				hc.MemorySwap = o.memory // no swap: the limit is the limit
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req, Started: true, Logger: tclog.TestLogger(t),
	})
	if ctr != nil {
		d.ctr = ctr
		d.id = ctr.GetContainerID()
		t.Cleanup(d.remove)
	}
	if err != nil {
		if d.id != "" {
			t.Logf("daemon log:\n%s", d.logs())
		}
		t.Fatalf("starting the daemon's container: %v", err)
	}
	t.Logf("image built and container %.12s listening in %v (user %d:%d, %s)", d.id, time.Since(start).Round(time.Millisecond), o.uid, o.gid, strings.Join(args, " "))
	return d
}

// sanitize makes a test name usable in an image tag.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}

// remove stops the daemon with SIGTERM (it must exit 0 unless the test
// killed it) and removes the container and its image.
func (d *daemonContainer) remove() {
	t := d.t
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if st, err := d.state(ctx); err == nil && st.Paused {
		docker.ContainerUnpause(ctx, d.id, mobyclient.ContainerUnpauseOptions{})
	}
	timeout := 20 * time.Second
	if err := d.ctr.Stop(ctx, &timeout); err != nil {
		t.Errorf("stopping the daemon's container: %v", err)
	} else if st, err := d.state(ctx); err != nil {
		t.Errorf("inspecting the stopped container: %v", err)
	} else if st.ExitCode != 0 && !d.dirtyExit {
		t.Errorf("ringwired exited with %d on SIGTERM; log:\n%s", st.ExitCode, d.logs())
	}
	if err := d.ctr.Terminate(ctx); err != nil {
		t.Errorf("removing the daemon's container and image: %v", err)
	}
}

func (d *daemonContainer) state(ctx context.Context) (*container.State, error) {
	res, err := docker.ContainerInspect(ctx, d.id, mobyclient.ContainerInspectOptions{})
	if err != nil {
		return nil, err
	}
	if res.Container.State == nil {
		return nil, errors.New("container has no state")
	}
	return res.Container.State, nil
}

// logLine is one line of the daemon's log with Docker's timestamp.
type logLine struct {
	at   time.Time
	text string
}

// logLines returns the daemon's log (stderr and stdout) so far.
func (d *daemonContainer) logLines() ([]logLine, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := docker.ContainerLogs(ctx, d.id, mobyclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 16<<20)); err != nil {
		return nil, err
	}
	var lines []logLine
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ts, text, ok := strings.Cut(sc.Text(), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			text = sc.Text()
		}
		lines = append(lines, logLine{at, text})
	}
	return lines, sc.Err()
}

// logs returns the daemon's log as text, for failure messages.
func (d *daemonContainer) logs() string {
	lines, err := d.logLines()
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l.text + "\n")
	}
	return sb.String()
}

// listenTimes returns when the daemon logged that it listens, once per
// start of the container.
func (d *daemonContainer) listenTimes() []time.Time {
	lines, err := d.logLines()
	if err != nil {
		d.t.Fatalf("reading the daemon's log: %v", err)
	}
	var ts []time.Time
	for _, l := range lines {
		if strings.Contains(l.text, "ringwired listening") {
			ts = append(ts, l.at)
		}
	}
	return ts
}

// waitLog waits until the daemon's log has a line containing text.
func (d *daemonContainer) waitLog(text string) {
	d.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		lines, err := d.logLines()
		if err != nil {
			d.t.Fatalf("reading the daemon's log: %v", err)
		}
		for _, l := range lines {
			if strings.Contains(l.text, text) {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the daemon did not log %q; log:\n%s", text, d.logs())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitListening waits until the daemon has logged that it listens n times
// and returns the last time.
func (d *daemonContainer) waitListening(n int) time.Time {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ts := d.listenTimes(); len(ts) >= n {
			return ts[n-1]
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the daemon did not log that it listens (start %d); log:\n%s", n, d.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// memStats is the container's memory as its cgroup counts it.
type memStats struct {
	cgroupV2 bool
	current  uint64 // memory.current (v2) or memory.usage_in_bytes (v1)
	peak     uint64 // memory.peak (v2, where the kernel has it) or memory.max_usage_in_bytes (v1)
	// limitHits counts the times the cgroup reached its limit: "max" of
	// memory.events (v2) or memory.failcnt (v1).
	limitHits uint64
	// ooms counts the OOM killer's invocations on the cgroup ("oom" of
	// memory.events, v2; v1 has no such counter and reports oomKills) and
	// oomKills the processes it killed (oom_kill of memory.events (v2) or
	// of memory.oom_control (v1)).
	ooms, oomKills uint64
	stat           map[string]uint64 // memory.stat
	// rssAnon and vmRSS are ringwired's RssAnon (private memory) and
	// VmRSS (which also counts the rings it has touched) from
	// /proc/PID/status, PID being the daemon's host pid (docker inspect's
	// State.Pid): the measure ringwire-load reports for a daemon.
	rssAnon, vmRSS uint64
}

func (m memStats) String() string {
	mib := func(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	anon, file, shmem := m.stat["anon"], m.stat["file"], m.stat["shmem"]
	if !m.cgroupV2 {
		anon, file = m.stat["rss"], m.stat["cache"]
	}
	return fmt.Sprintf("current %s, peak %s, anon %s, file %s, shmem %s, limit hits %d, oom %d, oom_kill %d (cgroup v%d); ringwired RssAnon %s, VmRSS %s",
		mib(m.current), mib(m.peak), mib(anon), mib(file), mib(shmem), m.limitHits, m.ooms, m.oomKills, map[bool]int{false: 1, true: 2}[m.cgroupV2],
		mib(m.rssAnon), mib(m.vmRSS))
}

// memory reads the container's memory cgroup; it fails the test if it
// cannot.
func (d *daemonContainer) memory() memStats {
	d.t.Helper()
	m, err := d.readMemory()
	if err != nil {
		d.t.Fatalf("reading the container's memory cgroup: %v", err)
	}
	return m
}

// cgroupFS is where the host mounts its cgroup hierarchies.
const cgroupFS = "/sys/fs/cgroup"

// isCgroupV2 reports whether root is a cgroup v2 (unified) mount. On a v1
// or hybrid host root is a tmpfs of per-controller v1 mounts (the memory
// controller among them), and a v2 hierarchy, if any, sits at
// root/unified without the memory controller.
func isCgroupV2(root string) bool {
	_, err := os.Stat(filepath.Join(root, "cgroup.controllers"))
	return err == nil
}

// readMemory reads the container's memory cgroup through its init
// process's /proc/PID/cgroup, on cgroup v2 or v1, and ringwired's own
// memory from /proc/PID/status.
func (d *daemonContainer) readMemory() (memStats, error) {
	st, err := d.state(context.Background())
	if err != nil {
		return memStats{}, err
	}
	if st.Pid == 0 {
		return memStats{}, errors.New("the container is not running")
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if err != nil {
		return memStats{}, err
	}
	v2 := isCgroupV2(cgroupFS)
	dir, err := memoryCgroupDir(cgroupFS, string(cg), v2)
	if err != nil {
		return memStats{}, fmt.Errorf("pid %d: %w", st.Pid, err)
	}
	m, err := readCgroupMemory(dir, v2)
	if err != nil {
		return m, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		return m, err
	}
	m.rssAnon, m.vmRSS = procStatusMemory(string(status))
	return m, nil
}

// memoryCgroupDir returns the directory of the memory cgroup that
// procCgroup (a /proc/PID/cgroup) names, under the cgroup mount root: on
// v2 the "0::PATH" line, on v1 the line whose controllers include memory.
func memoryCgroupDir(root, procCgroup string, v2 bool) (string, error) {
	for line := range strings.SplitSeq(strings.TrimSpace(procCgroup), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if v2 && f[0] == "0" && f[1] == "" {
			return filepath.Join(root, f[2]), nil
		}
		if !v2 && slices.Contains(strings.Split(f[1], ","), "memory") {
			return filepath.Join(root, "memory", f[2]), nil
		}
	}
	return "", fmt.Errorf("no memory cgroup (v2 %v) in /proc/PID/cgroup:\n%s", v2, procCgroup)
}

// readCgroupMemory reads the memory files of the cgroup in dir, v2 or v1.
// The current usage, memory.stat and the OOM counters must be there; the
// peak (memory.peak is v2 from Linux 5.19) may be missing and reads 0.
func readCgroupMemory(dir string, v2 bool) (memStats, error) {
	m := memStats{cgroupV2: v2}
	var firstErr error
	read := func(name string, optional bool) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !optional && firstErr == nil {
			firstErr = err
		}
		return string(b)
	}
	num := func(name string, optional bool) uint64 {
		s := strings.TrimSpace(read(name, optional))
		if s == "" {
			return 0
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", name, err)
		}
		return v
	}
	m.stat = keyedCounters(read("memory.stat", false))
	if v2 {
		m.current, m.peak = num("memory.current", false), num("memory.peak", true)
		ev := keyedCounters(read("memory.events", false))
		m.limitHits, m.ooms, m.oomKills = ev["max"], ev["oom"], ev["oom_kill"]
	} else {
		m.current, m.peak = num("memory.usage_in_bytes", false), num("memory.max_usage_in_bytes", true)
		m.limitHits = num("memory.failcnt", true)
		m.oomKills = keyedCounters(read("memory.oom_control", false))["oom_kill"]
	}
	return m, firstErr
}

// keyedCounters parses "key value" lines (memory.stat, memory.events,
// memory.oom_control); a value that is not a number reads 0.
func keyedCounters(s string) map[string]uint64 {
	kv := map[string]uint64{}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			kv[k], _ = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return kv
}

// procStatusMemory returns RssAnon and VmRSS of a /proc/PID/status, in bytes.
func procStatusMemory(status string) (rssAnon, vmRSS uint64) {
	for line := range strings.SplitSeq(status, "\n") {
		k, v, _ := strings.Cut(line, ":")
		kib, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "RssAnon":
			rssAnon = kib << 10
		case "VmRSS":
			vmRSS = kib << 10
		}
	}
	return rssAnon, vmRSS
}

// dial connects a client to the containerized daemon; closed at the end.
func dial(t testing.TB, sock string, opts ...client.Option) *client.Client {
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

var transports = []protocol.Transport{protocol.TransportShm, protocol.TransportSocket}

func userReq(text string) *protocol.CompletionRequest {
	return &protocol.CompletionRequest{Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: text}}}
}

// words returns n distinct words, a prompt whose mock stream has n+1 tokens.
func words(prefix string, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return strings.Join(w, " ")
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// watchExit returns a channel that receives the time the container's init
// process (ringwired) exits, as the host sees it through a pidfd: the
// moment from which a client can know, however long `docker kill` itself
// takes to return.
func (d *daemonContainer) watchExit() <-chan time.Time {
	d.t.Helper()
	st, err := d.state(context.Background())
	if err != nil || st.Pid == 0 {
		d.t.Fatalf("no running daemon to watch: %v", err)
	}
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		d.t.Fatalf("pidfd_open(%d): %v", st.Pid, err)
	}
	exited := make(chan time.Time, 1)
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 60_000)
			if err == unix.EINTR {
				continue
			}
			if n == 1 {
				exited <- time.Now()
			}
			close(exited)
			return
		}
	}()
	return exited
}
