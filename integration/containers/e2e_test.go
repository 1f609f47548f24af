package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/protocol"
)

func stats(t testing.TB, cl *client.Client) daemon.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := cl.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var st daemon.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// roundTrips checks a handshake, ping, one-shot and streamed completions
// and a tool call on cl, and returns the warm ping round trip.
func roundTrips(ctx context.Context, cl *client.Client) (time.Duration, error) {
	var best time.Duration
	for i := range 200 {
		rtt, err := cl.Ping(ctx)
		if err != nil {
			return 0, fmt.Errorf("ping %d: %w", i, err)
		}
		if i == 0 || rtt < best {
			best = rtt
		}
	}
	resp, err := cl.Complete(ctx, userReq("the quick brown fox"))
	if err != nil || resp.Content != "mock: the quick brown fox" {
		return 0, fmt.Errorf("Complete = %+v, %v", resp, err)
	}
	prompt := words("w", 40) // under the mock's 64-token cut
	var sb strings.Builder
	chunks := 0
	for chunk, err := range cl.CompleteStream(ctx, userReq(prompt)) {
		if err != nil {
			return 0, fmt.Errorf("stream after %d chunks: %w", chunks, err)
		}
		chunks++
		sb.WriteString(chunk.Delta)
	}
	if sb.String() != "mock: "+prompt || chunks < 2 {
		return 0, fmt.Errorf("stream of %d chunks = %q", chunks, sb.String())
	}
	res, err := cl.CallTool(ctx, &protocol.ToolCall{ID: "1", Name: "echo", Arguments: `{"x":1}`})
	if err != nil || res.Content != `{"x":1}` || res.IsError {
		return 0, fmt.Errorf("CallTool echo = %+v, %v", res, err)
	}
	return best, nil
}

// TestContainerEndToEnd: the daemon in its container, clients on the host
// over both transports: handshake, round trips, streamed completions,
// tool calls, stats.
func TestContainerEndToEnd(t *testing.T) {
	requireDocker(t)
	d := startContainer(t, daemonOpts{uid: -1})
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dial(t, d.sock, client.WithTransport(tr), client.WithConns(2))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			best, err := roundTrips(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: host client <-> containerized daemon: best ping of 200 %v", tr, best)
			if st := stats(t, cl); st.Sessions < 2 {
				t.Fatalf("stats: %+v", st)
			}
		})
	}
}

// TestContainerTools: the workspace tools on a workspace bind-mounted into
// the container: write, edit, read, list, search, and escapes refused.
func TestContainerTools(t *testing.T) {
	requireDocker(t)
	d := startContainer(t, daemonOpts{uid: -1, workspace: true})
	// A symbolic link in the workspace pointing out of it.
	if err := os.Symlink("/", filepath.Join(d.workspace, "root")); err != nil {
		t.Fatal(err)
	}
	cl := dial(t, d.sock)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := func(name, args string) *protocol.ToolResult {
		t.Helper()
		res, err := cl.CallTool(ctx, &protocol.ToolCall{ID: name, Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	if res := call("write_file", `{"path":"src/main.go","content":"package main\n\nfunc main() {}\n"}`); res.IsError {
		t.Fatalf("write_file: %s", res.Content)
	}
	if res := call("edit_file", `{"path":"src/main.go","old":"func main() {}","new":"func main() { println() }"}`); res.IsError {
		t.Fatalf("edit_file: %s", res.Content)
	}
	if res := call("read_file", `{"path":"src/main.go","start_line":3}`); res.IsError || res.Content != "func main() { println() }\n" {
		t.Fatalf("read_file = %+v", res)
	}
	// The daemon wrote through the bind mount as the container's user.
	fi, err := os.Stat(filepath.Join(d.workspace, "src/main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(d.workspace, "src/main.go")); !strings.Contains(string(b), "println") {
		t.Fatalf("file on the host = %q", b)
	}
	t.Logf("src/main.go on the host: %v, %d bytes", fi.Mode(), fi.Size())
	if res := call("list_dir", `{"path":"src"}`); res.IsError || !strings.Contains(res.Content, "main.go") {
		t.Fatalf("list_dir = %+v", res)
	}
	if res := call("search", `{"pattern":"println"}`); res.IsError || !strings.Contains(res.Content, "main.go") {
		t.Fatalf("search = %+v", res)
	}
	for _, esc := range []string{
		`{"path":"../../etc/passwd"}`, // out by ..
		`{"path":"root/etc/passwd"}`,  // out through a symbolic link
		`{"path":"/ringwired"}`,       // absolute
	} {
		res := call("read_file", esc)
		if !res.IsError || !(strings.Contains(res.Content, "outside the workspace") || strings.Contains(res.Content, "is absolute")) {
			t.Fatalf("read_file %s = %+v", esc, res)
		}
		t.Logf("read_file %s refused: %s", esc, res.Content)
	}
	if res := call("write_file", `{"path":"root/tmp/x","content":"x"}`); !res.IsError || !strings.Contains(res.Content, "outside the workspace") {
		t.Fatalf("write_file through the link = %+v", res)
	}
	// No command is allowed: run_command refuses, naming the allow-list.
	if res := call("run_command", `{"argv":["sh","-c","true"]}`); !res.IsError || !strings.Contains(res.Content, "not allowed") {
		t.Fatalf("run_command = %+v", res)
	}
}

// childEnv makes the test binary a client of the daemon on that socket
// (clientChild), run as another uid.
const childEnv = "RINGWIRE_CONTAINERS_CLIENT_SOCK"

// clientChild dials the daemon over both transports, runs roundTrips on
// each, and prints one line per transport.
func clientChild(sock string) int {
	for _, tr := range transports {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cl, err := client.Dial(ctx, sock, client.WithTransport(tr))
		if err != nil {
			fmt.Printf("%s: dial: %v\n", tr, err)
			cancel()
			return 1
		}
		best, err := roundTrips(ctx, cl)
		cl.Close()
		cancel()
		if err != nil {
			fmt.Printf("%s: %v\n", tr, err)
			return 1
		}
		fmt.Printf("%s: uid %d: handshake, pings (best %v), completions, stream, tool: ok\n", tr, os.Getuid(), best)
	}
	return 0
}

// TestContainerNonRoot: a normal user's deployment. The daemon's container
// runs as a non-root uid and a client of that uid on the host is served on
// both transports, while a client of another uid (this test, when it runs
// as root) is refused with ErrPeerUID on both.
func TestContainerNonRoot(t *testing.T) {
	requireDocker(t)
	uid, gid := os.Getuid(), os.Getgid()
	asChild := uid == 0
	if asChild {
		uid, gid = 1000, 1000 // the first normal user on a Debian or Ubuntu machine
	}
	d := startContainer(t, daemonOpts{uid: uid, gid: gid})
	if !asChild {
		// This test already runs as a normal user: it is the client.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, tr := range transports {
			if _, err := roundTrips(ctx, dial(t, d.sock, client.WithTransport(tr))); err != nil {
				t.Fatalf("%s: %v", tr, err)
			}
		}
		return
	}
	// Root's client checks the daemon's uid and refuses to talk to it.
	for _, tr := range transports {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cl, err := client.Dial(ctx, d.sock, client.WithTransport(tr))
		cancel()
		if err == nil {
			cl.Close()
			t.Fatalf("%s: root's client talked to a daemon of uid %d", tr, uid)
		}
		if !errors.Is(err, client.ErrPeerUID) || client.IsRetryable(err) {
			t.Fatalf("%s: root's client dialing uid %d's daemon: %v, want ErrPeerUID", tr, uid, err)
		}
		t.Logf("%s: root's client refuses uid %d's daemon: %v", tr, uid, err)
	}
	out, err := runAs(t, uid, gid, d.sock)
	t.Logf("client of uid %d on the host:\n%s", uid, out)
	if err != nil {
		t.Fatalf("client of uid %d: %v", uid, err)
	}
}

// runAs runs this test binary as a client (clientChild) of sock with uid:gid.
func runAs(t *testing.T, uid, gid int, sock string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := execCommandAs(ctx, uid, gid, filepath.Join(binDir, "containers.test"), "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+sock, "HOME=/nonexistent")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// execCommandAs is exec.CommandContext run with uid:gid and no
// supplementary groups (root may do that).
func execCommandAs(ctx context.Context, uid, gid int, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return cmd
}
