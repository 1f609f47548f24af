package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunCommand(t *testing.T) {
	cfg, dir := newWorkspace(t, "sh", "pwd", "no-such-command-ringwire")
	writeFiles(t, dir, map[string]string{"sub/f": "x"})
	os.Symlink("sub", filepath.Join(dir, "sublink"))
	t.Setenv("RINGWIRE_TEST_SECRET", "do-not-leak")
	ctx := context.Background()
	run := func(args map[string]any) string { return jsonArgs(args) }

	res := runTool(t, ctx, cfg, "run_command", run(map[string]any{"argv": []string{"sh", "-c", "echo out; echo err >&2"}}))
	want(t, "sh ok", res, false, "out\n", "err\n", "[exit status 0]")

	res = runTool(t, ctx, cfg, "run_command", run(map[string]any{"argv": []string{"sh", "-c", "echo partial; exit 3"}}))
	want(t, "sh exit 3", res, true, "partial\n", "exit status 3")

	res = runTool(t, ctx, cfg, "run_command", run(map[string]any{"argv": []string{"pwd"}, "dir": "sub"}))
	want(t, "pwd sub", res, false, filepath.Join(dir, "sub")+"\n")
	res = runTool(t, ctx, cfg, "run_command", run(map[string]any{"argv": []string{"pwd"}}))
	want(t, "pwd", res, false, dir+"\n")

	res = runTool(t, ctx, cfg, "run_command", run(map[string]any{"argv": []string{"sh", "-c", "env"}}))
	want(t, "env", res, false, "PATH=", "HOME="+dir+"\n", "LANG=")
	if strings.Contains(res.Content, "RINGWIRE_TEST_SECRET") {
		t.Errorf("the environment leaked: %q", res.Content)
	}

	for _, tc := range []struct {
		args map[string]any
		subs []string
	}{
		{map[string]any{"argv": []string{"rm", "-rf", "/"}}, []string{`"rm" is not allowed (allowed: sh, pwd, no-such-command-ringwire;`}},
		{map[string]any{"argv": []string{"/bin/sh", "-c", "true"}}, []string{`"/bin/sh" is not allowed`}},
		{map[string]any{"argv": []string{}}, []string{"argv is required"}},
		{map[string]any{"argv": "sh -c true"}, []string{"bad arguments"}},
		{map[string]any{"argv": []string{"sh"}, "dir": "../"}, []string{"outside the workspace"}},
		{map[string]any{"argv": []string{"sh"}, "dir": "/tmp"}, []string{"is absolute"}},
		{map[string]any{"argv": []string{"sh"}, "dir": "sublink"}, []string{"passes through the symbolic link sublink"}},
		{map[string]any{"argv": []string{"sh"}, "dir": "sub/f"}, []string{"sub/f is not a directory"}},
		{map[string]any{"argv": []string{"sh"}, "dir": "nope"}, []string{"no such file"}},
		{map[string]any{"argv": []string{"sh"}, "timeout_ms": -1}, []string{"timeout_ms -1 is negative"}},
		{map[string]any{"argv": []string{"no-such-command-ringwire"}}, []string{"cannot start no-such-command-ringwire"}},
	} {
		args := run(tc.args)
		want(t, "run_command "+args, runTool(t, ctx, cfg, "run_command", args), true, tc.subs...)
	}
	noneAllowed, _ := newWorkspace(t)
	want(t, "none allowed", runTool(t, ctx, noneAllowed, "run_command", `{"argv":["sh"]}`), true, "no command is (ringwired -allow-command NAME)")
}

func TestRunCommandOutputCap(t *testing.T) {
	cfg, _ := newWorkspace(t, "sh")
	res := runTool(t, context.Background(), cfg, "run_command",
		`{"argv":["sh","-c","i=0; while [ $i -lt 40 ]; do head -c 10000 /dev/zero | tr '\\0' a; i=$((i+1)); done; exit 0"]}`)
	want(t, "output cap", res, false, "[output truncated: 137856 more bytes after the first 262144]", "[exit status 0]")
	if n := strings.Count(res.Content[:maxCommandOutput], "a"); n != maxCommandOutput {
		t.Errorf("kept %d bytes of output, want %d", n, maxCommandOutput)
	}
}

// TestRunCommandTimeoutKillsGroup: a command that outlives its timeout
// through a child is killed with the child.
func TestRunCommandTimeoutKillsGroup(t *testing.T) {
	cfg, _ := newWorkspace(t, "sh")
	start := time.Now()
	res := runTool(t, context.Background(), cfg, "run_command",
		`{"argv":["sh","-c","sleep 100 & echo $!; sleep 100"],"timeout_ms":300}`)
	want(t, "timeout", res, true, "sh timed out after 300ms; its process group was killed")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the call took %v", d)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(res.Content, "\n", 2)[0]))
	if err != nil {
		t.Fatalf("no grandchild pid in %q", res.Content)
	}
	assertGone(t, pid)

	// A child left behind by a command that exits is killed too, and the
	// call does not wait for it.
	start = time.Now()
	res = runTool(t, context.Background(), cfg, "run_command", `{"argv":["sh","-c","sleep 100 & echo $!"]}`)
	want(t, "left behind", res, false, "[exit status 0]")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the call took %v", d)
	}
	pid, err = strconv.Atoi(strings.TrimSpace(strings.SplitN(res.Content, "\n", 2)[0]))
	if err != nil {
		t.Fatalf("no child pid in %q", res.Content)
	}
	assertGone(t, pid)

	// The call's own timeout (ToolCall.TimeoutMS) bounds a command too.
	cfg.ToolTimeout = 200 * time.Millisecond
	res = runTool(t, context.Background(), cfg, "run_command", `{"argv":["sh","-c","sleep 100"]}`)
	want(t, "call timeout", res, true, "run_command: timed out after 200ms (ToolCall.TimeoutMS raises the limit)")
}

// assertGone waits for process pid to disappear (its reaping by init may
// take a moment).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return // killed, waiting to be reaped
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("process %d still runs", pid)
}

func TestCappedBuffer(t *testing.T) {
	b := &cappedBuffer{max: 4}
	for _, s := range []string{"ab", "cde", "f"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatal(n, err)
		}
	}
	if b.String() != "abcd" || b.dropped != 2 {
		t.Errorf("cappedBuffer = %q, dropped %d", b.String(), b.dropped)
	}
	if killGroup(1<<22+12345) != nil {
		t.Error("killGroup of no group should be nil")
	}
}

// TestRunCommandDirSwapped: the directory run_command checked is replaced,
// between the check and the command's start, by a symbolic link to outside
// the workspace. The command still starts in the directory that was checked
// (renamed by then), never outside.
func TestRunCommandDirSwapped(t *testing.T) {
	if !procFD {
		t.Skip("no /proc/self/fd: run_command starts at the checked path")
	}
	cfg, dir := newWorkspace(t, "pwd")
	writeFiles(t, dir, map[string]string{"sub/f": "x"})
	outside := t.TempDir()
	afterDirCheck = func() {
		if err := os.Rename(filepath.Join(dir, "sub"), filepath.Join(dir, "sub.old")); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(outside, filepath.Join(dir, "sub")); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { afterDirCheck = nil })
	res := runTool(t, t.Context(), cfg, "run_command", jsonArgs(map[string]any{"argv": []string{"pwd"}, "dir": "sub"}))
	want(t, "pwd after the swap", res, false, filepath.Join(dir, "sub.old")+"\n")
	if strings.Contains(res.Content, outside) {
		t.Errorf("the command ran outside the workspace: %q", res.Content)
	}
}
