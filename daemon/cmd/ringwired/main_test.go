package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/protocol"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
