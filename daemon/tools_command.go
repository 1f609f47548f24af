package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errCommandTimeout is the cause of a command's context when its
// timeout_ms is up.
var errCommandTimeout = errors.New("command timeout")

type runCommandArgs struct {
	Argv      []string `json:"argv"`
	Dir       string   `json:"dir"`
	TimeoutMS int64    `json:"timeout_ms"`
}

// runCommandTool: run_command {argv, dir?, timeout_ms?}: runs argv (no
// shell) if argv[0] is on the allow-list, in dir under the workspace, in
// a process group of its own with a small fixed environment (see
// commandEnv). When it times out, or when it exits, the whole group is
// killed. stdout and stderr are kept together, up to maxCommandOutput
// bytes.
func runCommandTool(ctx context.Context, ws *workspace, raw []byte) (string, error) {
	const tool = "run_command"
	var a runCommandArgs
	if err := decodeArgs(tool, raw, &a); err != nil {
		return "", err
	}
	if len(a.Argv) == 0 || a.Argv[0] == "" {
		return "", fmt.Errorf("%s: argv is required: the command and its arguments, e.g. [\"go\", \"test\", \"./...\"]", tool)
	}
	if !slices.Contains(ws.allow, a.Argv[0]) {
		if len(ws.allow) == 0 {
			return "", fmt.Errorf("%s: %q is not allowed: no command is (ringwired -allow-command NAME)", tool, a.Argv[0])
		}
		return "", fmt.Errorf("%s: %q is not allowed (allowed: %s; ringwired -allow-command adds one)", tool, a.Argv[0], strings.Join(ws.allow, ", "))
	}
	if a.TimeoutMS < 0 {
		return "", fmt.Errorf("%s: timeout_ms %d is negative", tool, a.TimeoutMS)
	}
	timeout := defaultCmdTimeout
	if a.TimeoutMS > 0 {
		timeout = time.Duration(a.TimeoutMS) * time.Millisecond
	}
	r, err := ws.open()
	if err != nil {
		return "", err
	}
	dir, err := commandDir(tool, r, ws.dir, a.Dir)
	if err != nil {
		r.Close()
		return "", err
	}
	// The command starts in the directory just checked, not in whatever
	// its path names by then: the check walked the path with Lstat, and
	// another process could swap a component for a symbolic link to
	// outside the workspace before the child's chdir. So open the
	// directory through the root (which refuses a link out of it) and
	// give the child the open descriptor's /proc path: its chdir follows
	// the descriptor to the very directory opened, whatever was renamed.
	rel, _ := relPath(tool, a.Dir, true) // commandDir accepted it
	d, err := r.Open(rel)
	r.Close()
	if err != nil {
		return "", fsError(tool, a.Dir, err)
	}
	defer d.Close()
	if afterDirCheck != nil {
		afterDirCheck()
	}

	cctx, cancel := context.WithTimeoutCause(ctx, timeout, errCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, a.Argv[0], a.Argv[1:]...)
	cmd.Dir = dir
	if procFD {
		cmd.Dir = fmt.Sprintf("/proc/self/fd/%d", d.Fd())
	}
	// PWD is the path the user asked for; exec would otherwise set it to
	// the /proc path, which names nothing once the command runs.
	cmd.Env = append(commandEnv(ws.dir), "PWD="+dir)
	out := &cappedBuffer{max: maxCommandOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = time.Second // a child that keeps the pipe open does not hold us
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%s: cannot start %s: %v", tool, a.Argv[0], err)
	}
	werr := cmd.Wait()
	_ = killGroup(cmd.Process.Pid) // whatever it left behind

	content := out.String()
	if out.dropped > 0 {
		content += fmt.Sprintf("\n[output truncated: %d more bytes after the first %d]", out.dropped, maxCommandOutput)
	}
	code := cmd.ProcessState.ExitCode()
	switch {
	case cctx.Err() != nil && context.Cause(cctx) == errCommandTimeout:
		return content, fmt.Errorf("%s: %s timed out after %v; its process group was killed", tool, a.Argv[0], timeout)
	case ctx.Err() != nil:
		return content, fmt.Errorf("%s: %w", tool, ctx.Err())
	case code != 0:
		return content, fmt.Errorf("%s: %s failed: %v (exit status %d)", tool, a.Argv[0], cmd.ProcessState, code)
	case werr != nil && !errors.Is(werr, exec.ErrWaitDelay):
		return content, fmt.Errorf("%s: %s: %v", tool, a.Argv[0], werr)
	}
	return content + "\n[exit status 0]", nil
}

// procFD reports whether /proc/self/fd names this process's descriptors,
// so that run_command can start a command in an open directory; without it
// (no /proc mounted) the command starts at the checked path.
var procFD = func() bool {
	st, err := os.Stat("/proc/self/fd")
	return err == nil && st.IsDir()
}()

// afterDirCheck, when set by a test, runs between run_command's check of
// its directory and the command's start.
var afterDirCheck func()

// commandDir checks run_command's dir: a real directory under the
// workspace reached through no symbolic link, and returns its path.
func commandDir(tool string, r *os.Root, root, dir string) (string, error) {
	p, err := relPath(tool, dir, true)
	if err != nil {
		return "", err
	}
	cur := "."
	for part := range strings.SplitSeq(filepath.ToSlash(p), "/") {
		cur = path.Join(cur, part)
		st, err := r.Lstat(cur)
		switch {
		case err != nil:
			return "", fsError(tool, cur, err)
		case st.Mode()&os.ModeSymlink != 0:
			return "", fmt.Errorf("%s: dir %s passes through the symbolic link %s; give the real directory", tool, dir, cur)
		case !st.IsDir():
			return "", fmt.Errorf("%s: dir %s: %s is not a directory", tool, dir, cur)
		}
	}
	return filepath.Join(root, p), nil
}

// commandEnv is the whole environment of a command: the daemon's PATH (so
// allowed names resolve as they do for the daemon), HOME set to the
// workspace, and the daemon's LANG (default C.UTF-8). Nothing else is
// inherited: no tokens, no keys.
func commandEnv(home string) []string {
	p := os.Getenv("PATH")
	if p == "" {
		p = "/usr/local/bin:/usr/bin:/bin"
	}
	lang := os.Getenv("LANG")
	if lang == "" {
		lang = "C.UTF-8"
	}
	return []string{"PATH=" + p, "HOME=" + home, "LANG=" + lang}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// cappedBuffer keeps the first max bytes written to it and counts the
// rest, which it accepts and drops (so that the command never blocks on
// a full pipe).
type cappedBuffer struct {
	mu      sync.Mutex
	b       []byte
	max     int
	dropped int64
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := min(len(p), c.max-len(c.b))
	c.b = append(c.b, p[:keep]...)
	c.dropped += int64(len(p) - keep)
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.b)
}
