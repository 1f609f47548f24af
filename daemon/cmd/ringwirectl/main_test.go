package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/daemon"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCommands(t *testing.T) {
	dir, err := os.MkdirTemp("", "rwctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "d.sock")
	srv, err := daemon.New(daemon.Config{SocketPath: sock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	}()
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-socket", sock, "-count", "2", "ping"}, 0, "pong from"},
		{[]string{"-socket", sock, "-transport", "socket", "ping"}, 0, "pong from"},
		{[]string{"-socket", sock, "stats"}, 0, `"sessions": `},
		{[]string{"-socket", sock, "complete", "hello", "world"}, 0, "mock: hello world\n[finish=stop"},
		{[]string{"-socket", sock, "-max-tokens", "2", "complete", "a b c"}, 0, "finish=length"},
		{[]string{"-h"}, 0, "Commands:"},
		{[]string{}, 2, "Usage"},
		{[]string{"-bogus"}, 2, "not defined"},
		{[]string{"-socket", sock, "frobnicate"}, 2, "unknown command"},
		{[]string{"-socket", sock, "ping", "x"}, 2, "takes no arguments"},
		{[]string{"-socket", sock, "complete"}, 2, "needs the text"},
		{[]string{"-socket", filepath.Join(dir, "none.sock"), "ping"}, 1, "unavailable"},
	} {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.out)
		}
	}
}
