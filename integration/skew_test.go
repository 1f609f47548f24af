package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// skewBase is the commit the version-skew test builds the other side from:
// the last commit before the wire contract moved into protocol and
// compression became negotiable (the architecture issue).
// RINGWIRE_SKEW_BASE picks another.
const skewBase = "ba46ab51b08aa6994e1f56d1bc96d531f897d073"

// oldBuild is ringwired and ringwirectl built from an older commit.
type oldBuild struct {
	commit      string
	ringwired   string
	ringwirectl string
}

// buildOld builds ringwired and ringwirectl at commit in a git worktree,
// cached under the user cache directory by commit. It skips (or fails,
// with RINGWIRE_REQUIRE_ALL set) when the commit is not in this clone.
func buildOld(t *testing.T, commit string) oldBuild {
	t.Helper()
	need := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
			t.Fatalf("RINGWIRE_REQUIRE_ALL is set and %s", msg)
		}
		t.Skip(msg)
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		need("git cannot find this repository (%v): the version-skew test builds the old side from a git worktree", err)
	}
	repo := strings.TrimSpace(string(top))
	full, err := exec.Command("git", "-C", repo, "rev-parse", "--verify", commit+"^{commit}").Output()
	if err != nil {
		need("commit %s is not in this clone (a shallow clone? fetch the full history)", commit)
	}
	commit = strings.TrimSpace(string(full))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	b := oldBuild{commit: commit}
	dir := filepath.Join(cache, "ringwire-skew", commit)
	b.ringwired = filepath.Join(dir, "ringwired")
	// The old tree had ringwirectl beside the daemon.
	b.ringwirectl = filepath.Join(dir, "ringwirectl")
	if fileExists(b.ringwired) && fileExists(b.ringwirectl) {
		return b
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wt, err := os.MkdirTemp("", "rwskew")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = exec.Command("git", "-C", repo, "worktree", "remove", "--force", wt).Run()
		os.RemoveAll(wt)
	}()
	if out, err := exec.Command("git", "-C", repo, "worktree", "add", "--detach", wt, commit).CombinedOutput(); err != nil {
		t.Fatalf("git worktree add %s: %v\n%s", commit, err, out)
	}
	t0 := time.Now()
	for _, p := range []struct{ out, dir, pkg string }{
		{b.ringwired + ".tmp", "daemon", "./cmd/ringwired"},
		{b.ringwirectl + ".tmp", ringwirectlDir(wt), "./cmd/ringwirectl"},
	} {
		cmd := exec.Command("go", "build", "-o", p.out, p.pkg)
		cmd.Dir = filepath.Join(wt, p.dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s at %.12s: %v\n%s", p.pkg, commit, err, out)
		}
		if err := os.Rename(p.out, strings.TrimSuffix(p.out, ".tmp")); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("built ringwired and ringwirectl at %.12s in %v", commit, time.Since(t0).Round(time.Millisecond))
	return b
}

// ringwirectlDir is the module holding cmd/ringwirectl in the tree at wt:
// client since the architecture issue, daemon before.
func ringwirectlDir(wt string) string {
	if fileExists(filepath.Join(wt, "client", "cmd", "ringwirectl", "main.go")) {
		return "client"
	}
	return "daemon"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestVersionSkew runs a client of the older commit against today's
// daemon, and today's client against the older daemon, on both
// transports; today's side offers and grants compression, which the older
// side knows nothing of, so the handshake must settle on none.
func TestVersionSkew(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the version-skew test builds an older commit")
	}
	commit := skewBase
	if c := os.Getenv("RINGWIRE_SKEW_BASE"); c != "" {
		commit = c
	}
	old := buildOld(t, commit)

	t.Run("old client, new daemon", func(t *testing.T) {
		sock := filepath.Join(socketDir(t), "d.sock")
		startDaemon(t, sock, "-compress-shm", "64", "-compress-socket", "64")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-socket", sock, "-count", "3", "ping"}, "pong from"},
			{[]string{"-socket", sock, "-transport", "socket", "ping"}, "pong from"},
			{[]string{"-socket", sock, "stats"}, `"sessions": `},
			{[]string{"-socket", sock, "complete", strings.Repeat("long prompt ", 200)}, "[finish=length"},
			{[]string{"-socket", sock, "-transport", "socket", "complete", strings.Repeat("long prompt ", 200)}, "[finish=length"},
		} {
			out, err := exec.Command(old.ringwirectl, tc.args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("old ringwirectl %.40q: %v\n%s", tc.args, err, out)
			}
		}
	})

	t.Run("new client, old daemon", func(t *testing.T) {
		sock := filepath.Join(socketDir(t), "d.sock")
		startDaemonBin(t, old.ringwired, sock)
		for _, tr := range []protocol.Transport{protocol.TransportShm, protocol.TransportSocket} {
			t.Run(tr.String(), func(t *testing.T) {
				cl := dialDaemon(t, sock, client.WithTransport(tr), client.WithCompression(64))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := cl.Ping(ctx); err != nil {
					t.Fatalf("ping: %v", err)
				}
				prompt := strings.Repeat("a prompt long enough to be worth compressing ", 100)
				resp, err := cl.Complete(ctx, userReq(prompt, 0))
				if err != nil {
					t.Fatalf("complete: %v", err)
				}
				if !strings.Contains(resp.Content, "a prompt long enough") {
					t.Errorf("complete: %q", resp.Content)
				}
				var n int
				for chunk, err := range cl.CompleteStream(ctx, userReq(prompt, 0)) {
					if err != nil {
						t.Fatalf("stream: %v", err)
					}
					n++
					if chunk.Final {
						break
					}
				}
				if n < 2 {
					t.Errorf("stream: %d chunks", n)
				}
				res, err := cl.CallTool(ctx, &protocol.ToolCall{Name: "echo", Arguments: prompt})
				if err != nil || res.Content != prompt {
					t.Errorf("tool: %v, %d bytes back", err, len(res.Content))
				}
			})
		}
	})
}
