package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/store"
)

func openEmpty(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func storedRuns(t *testing.T, st *store.Store) int {
	t.Helper()
	_, n, err := st.ListRuns(t.Context(), store.RunFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// postFrom POSTs body to h as if from remote, with the Authorization
// header auth (none when empty).
func postFrom(h http.Handler, remote, auth string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/api/runs", bytes.NewReader(body))
	req.RemoteAddr = remote
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestWriteToken: with a token, a POST without it (or with another, or
// not as a bearer token) gets 401, from anywhere, and stores nothing; with
// it, from anywhere, the run is stored. Reads need no token.
func TestWriteToken(t *testing.T) {
	st := openEmpty(t)
	h := New(st, Options{Token: "s3cret-token"})
	body := benchgen.File(spec(0, "ci", nil))
	for _, c := range []struct{ remote, auth string }{
		{"127.0.0.1:5000", ""},
		{"192.0.2.7:5000", ""},
		{"192.0.2.7:5000", "Bearer s3cret-toke"},
		{"192.0.2.7:5000", "Bearer s3cret-tokenX"},
		{"192.0.2.7:5000", "Basic s3cret-token"},
		{"192.0.2.7:5000", "s3cret-token"},
		{"192.0.2.7:5000", "Bearer "},
	} {
		rec := postFrom(h, c.remote, c.auth, body)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("POST from %s with %q: %d (WWW-Authenticate %q), want 401", c.remote, c.auth, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if !strings.Contains(rec.Body.String(), "Authorization: Bearer") {
			t.Errorf("401 does not say how to authenticate: %s", rec.Body)
		}
	}
	if n := storedRuns(t, st); n != 0 {
		t.Fatalf("%d runs stored by unauthorized POSTs", n)
	}
	rec := postFrom(h, "192.0.2.7:5000", "Bearer s3cret-token", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST with the token: %d %s", rec.Code, rec.Body)
	}
	if rec := postFrom(h, "[::1]:5000", "bearer s3cret-token", body); rec.Code != http.StatusOK {
		t.Errorf("retry with the token (lower-case scheme): %d %s", rec.Code, rec.Body)
	}
	if n := storedRuns(t, st); n != 1 {
		t.Errorf("%d runs stored, want 1", n)
	}
	req := httptest.NewRequest("GET", "/api/runs", nil)
	req.RemoteAddr = "192.0.2.7:5000"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("GET without the token: %d", rec.Code)
	}
}

// TestNoTokenLoopbackOnly: without a token the server is read-only to the
// network: a POST from a non-loopback address gets 403 saying so and
// stores nothing; from loopback (IPv4 or IPv6) it is stored.
func TestNoTokenLoopbackOnly(t *testing.T) {
	st := openEmpty(t)
	h := New(st, Options{})
	body := benchgen.File(spec(0, "dev", nil))
	for _, remote := range []string{"192.0.2.7:5000", "[2001:db8::1]:5000", "10.0.0.1:80", "garbage"} {
		rec := postFrom(h, remote, "Bearer anything", body)
		var v map[string]string
		json.Unmarshal(rec.Body.Bytes(), &v)
		if rec.Code != http.StatusForbidden || !strings.Contains(v["error"], "read-only to the network") || !strings.Contains(v["error"], "-token") {
			t.Errorf("POST from %s: %d %s, want 403 explaining the token", remote, rec.Code, rec.Body)
		}
	}
	if n := storedRuns(t, st); n != 0 {
		t.Fatalf("%d runs stored from the network", n)
	}
	if rec := postFrom(h, "127.0.0.1:5000", "", body); rec.Code != http.StatusCreated {
		t.Errorf("POST from 127.0.0.1: %d %s", rec.Code, rec.Body)
	}
	if rec := postFrom(h, "[::1]:5000", "", benchgen.File(spec(1, "dev", nil))); rec.Code != http.StatusCreated {
		t.Errorf("POST from ::1: %d %s", rec.Code, rec.Body)
	}
	if n := storedRuns(t, st); n != 2 {
		t.Errorf("%d runs stored, want 2", n)
	}
}
