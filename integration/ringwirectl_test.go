package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCtl runs the real ringwirectl with args and returns its exit code and
// its combined output.
func runCtl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ringwirectlBin, args...)
	cmd.Env = os.Environ()
	if d := coverDir(); d != "" {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+d)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("ringwirectl %q: %v", args, err)
	return 0, ""
}

// TestRingwirectl runs the real ringwirectl against the real ringwired, on
// both transports, with flags before and after the command.
func TestRingwirectl(t *testing.T) {
	dir := socketDir(t)
	sock := filepath.Join(dir, "d.sock")
	startDaemon(t, sock)
	for _, tc := range []struct {
		args []string
		code int
		out  []string
	}{
		{[]string{"-socket", sock, "-count", "2", "ping"}, 0, []string{"pong from " + sock + " (shm)"}},
		{[]string{"ping", "-socket", sock, "-count", "3"}, 0, []string{"pong from " + sock + " (shm)"}},
		{[]string{"-socket", sock, "-transport", "socket", "ping"}, 0, []string{"pong from " + sock + ".stream (socket)"}},
		{[]string{"stats", "-socket", sock}, 0, []string{`"sessions": `, `"session_list"`}},
		{[]string{"-socket", sock, "complete", "hello", "world"}, 0, []string{"mock: hello world\n[finish=stop"}},
		{[]string{"complete", "a b c", "-socket", sock, "-max-tokens", "2"}, 0, []string{"finish=length"}},
		{[]string{"-socket", sock, "-transport", "socket", "complete", "over", "the", "socket"}, 0, []string{"mock: over the socket"}},
		{[]string{"-socket", sock, "tool", "echo", `{"x":1}`}, 0, []string{`{"x":1}` + "\n"}},
		{[]string{"tool", "read_file", `{"path":"x"}`, "-socket", sock}, 1, []string{"ringwirectl: tool read_file: no workspace configured (ringwired -workspace DIR)"}},
		{[]string{"-socket", sock, "frobnicate"}, 2, []string{"unknown command"}},
		{[]string{"-socket", filepath.Join(dir, "none.sock"), "ping"}, 1, []string{filepath.Join(dir, "none.sock") + ": ", "unavailable"}},
	} {
		code, out := runCtl(t, tc.args...)
		if code != tc.code {
			t.Errorf("ringwirectl %q exited %d, want %d: %s", tc.args, code, tc.code, out)
			continue
		}
		for _, want := range tc.out {
			if !strings.Contains(out, want) {
				t.Errorf("ringwirectl %q printed %q, want it to contain %q", tc.args, out, want)
			}
		}
	}
}
