package cli

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/store"
	"github.com/ringwire/ringwire/benchdash/web"
)

func genFile(t *testing.T, dir, name, machine string, i int) string {
	t.Helper()
	return writeFile(t, dir, name, benchgen.File(benchgen.Spec{Commit: strings.Repeat("ab", 20), Branch: "main", Machine: machine,
		Date: time.Date(2026, 5, 1, i, 0, 0, 0, time.UTC), Pkg: "example.com/p", Benchmarks: 2, Samples: 4, Seed: uint64(i), Noise: 0.01}))
}

// TestPost: benchdash post retries a dashboard's 5xx answers and posts
// each file once, printing its run id; posting again prints the same ids
// (the server knows the content); a wrong token is refused without a
// retry; a dashboard that is not there is retried -retries times.
func TestPost(t *testing.T) {
	defer func(b time.Duration) { postBackoff = b }(postBackoff)
	postBackoff = time.Millisecond
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "post.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var posts, failFirst atomic.Int32
	failFirst.Store(2)
	h := web.New(st, web.Options{Token: "ci-secret"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			posts.Add(1)
			if failFirst.Add(-1) >= 0 {
				http.Error(w, "database busy", http.StatusServiceUnavailable)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	f1, f2 := genFile(t, dir, "a.txt", "ci-1", 1), genFile(t, dir, "b.txt", "ci-2", 2)

	code, out, errs := run(t, "post", "-url", srv.URL+"/", "-token", "ci-secret", f1, f2)
	if code != ExitOK || !strings.Contains(out, f1+": run 1\n") || !strings.Contains(out, f2+": run 2\n") {
		t.Fatalf("post: exit %d\n%s\n%s", code, out, errs)
	}
	if n := strings.Count(errs, "retrying"); n != 2 || !strings.Contains(errs, "database busy") {
		t.Errorf("post retried %d times, want 2:\n%s", n, errs)
	}
	if _, n, _ := st.ListRuns(t.Context(), store.RunFilter{Limit: 1}); n != 2 {
		t.Errorf("%d runs stored, want 2", n)
	}
	t.Setenv(EnvToken, "ci-secret")
	t.Setenv(EnvURL, srv.URL)
	code, out, errs = run(t, "post", f2, f1)
	if code != ExitOK || !strings.Contains(out, f2+": run 2 (already stored") || !strings.Contains(out, f1+": run 1 (already stored") {
		t.Errorf("post again: exit %d\n%s\n%s", code, out, errs)
	}
	if _, n, _ := st.ListRuns(t.Context(), store.RunFilter{Limit: 1}); n != 2 {
		t.Errorf("%d runs stored after posting again, want 2", n)
	}

	posts.Store(0)
	f3 := genFile(t, dir, "c.txt", "ci-3", 3)
	code, _, errs = run(t, "post", "-token", "wrong", f3)
	if code != ExitFailure || !strings.Contains(errs, "HTTP 401") || !strings.Contains(errs, "Authorization: Bearer") || posts.Load() != 1 {
		t.Errorf("wrong token: exit %d after %d POSTs: %s", code, posts.Load(), errs)
	}
	bad := writeFile(t, dir, "bad.txt", []byte("BenchmarkX-2 10 oops ns/op\n"))
	if code, _, errs := run(t, "post", bad); code != ExitFailure || !strings.Contains(errs, "HTTP 400") || !strings.Contains(errs, "bad.txt:1") {
		t.Errorf("malformed file: exit %d: %s", code, errs)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	code, _, errs = run(t, "post", "-url", gone, "-retries", "2", f3)
	if code != ExitFailure || strings.Count(errs, "retrying") != 2 || !strings.Contains(errs, "(2 of 2)") {
		t.Errorf("no server: exit %d:\n%s", code, errs)
	}
	for _, args := range [][]string{{"post"}, {"post", "-url", "ftp://x", f1}, {"post", "-url", "localhost:8080", f1}, {"post", "-retries", "-1", f1}} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
	if code, _, errs := run(t, "post", filepath.Join(dir, "missing.txt")); code != ExitFailure || !strings.Contains(errs, "missing.txt") {
		t.Errorf("missing file: exit %d: %s", code, errs)
	}
}
