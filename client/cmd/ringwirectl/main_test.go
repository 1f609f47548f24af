package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/protocol"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestParse covers the command line without a daemon; the commands against
// a real ringwired are tested in the integration module.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		ok        bool
		name      string
		rest      []string
		count     int
		transport protocol.Transport
		maxTokens uint
	}{
		{args: []string{"ping"}, ok: true, name: "ping", count: 1, transport: protocol.TransportShm},
		{args: []string{"ping", "-count", "3"}, ok: true, name: "ping", count: 3, transport: protocol.TransportShm},
		{args: []string{"-count", "3", "ping"}, ok: true, name: "ping", count: 3, transport: protocol.TransportShm},
		{args: []string{"-transport", "socket", "stats"}, ok: true, name: "stats", count: 1, transport: protocol.TransportSocket},
		{args: []string{"stats", "-transport=socket"}, ok: true, name: "stats", count: 1, transport: protocol.TransportSocket},
		{args: []string{"complete", "a", "-max-tokens", "2", "b"}, ok: true, name: "complete", rest: []string{"a", "b"}, count: 1, transport: protocol.TransportShm, maxTokens: 2},
		{args: []string{"complete", "--", "-count", "x"}, ok: true, name: "complete", rest: []string{"-count", "x"}, count: 1, transport: protocol.TransportShm},
		{args: []string{"ping", "x"}},
		{args: []string{"complete"}},
		{args: []string{"frobnicate"}},
		{args: []string{}},
		{args: []string{"-bogus", "ping"}},
		{args: []string{"ping", "-count", "0"}},
		{args: []string{"ping", "-transport", "carrier-pigeon"}},
	} {
		var errOut bytes.Buffer
		c, _, ok := parse(tc.args, &errOut)
		if ok != tc.ok {
			t.Errorf("parse(%q) ok = %v, want %v (%s)", tc.args, ok, tc.ok, errOut.String())
			continue
		}
		if !ok {
			continue
		}
		if c.name != tc.name || !slices.Equal(c.args, tc.rest) || c.count != tc.count || c.transport != tc.transport || c.maxTokens != tc.maxTokens {
			t.Errorf("parse(%q) = %+v", tc.args, c)
		}
	}
}

func TestDialled(t *testing.T) {
	c := command{socket: "/run/x.sock", transport: protocol.TransportShm}
	if got := c.dialled(); got != "/run/x.sock" {
		t.Errorf("shm dials %q", got)
	}
	c.transport = protocol.TransportSocket
	if got := c.dialled(); got != "/run/x.sock.stream" {
		t.Errorf("socket dials %q", got)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	none := filepath.Join(dir, "none.sock")
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-h"}, 0, "Commands:"},
		{[]string{}, 2, "Usage"},
		{[]string{"-bogus"}, 2, "not defined"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"ping", "x"}, 2, "takes no arguments"},
		{[]string{"complete"}, 2, "needs the text"},
		{[]string{"tool"}, 2, "tool needs a tool name"},
		{[]string{"tool", "a", "{}", "c"}, 2, "tool needs a tool name"},
		{[]string{"-count", "0", "ping"}, 2, "at least 1"},
		{[]string{"-transport", "udp", "ping"}, 2, "want shm or socket"},
		{[]string{"-socket", none, "ping", "-timeout", "2s"}, 1, none + ": "},
		{[]string{"-socket", none, "-transport", "socket", "ping"}, 1, none + ".stream: "},
	} {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.out)
		}
	}
	if _, err := os.Stat(none); err == nil {
		t.Errorf("a failed dial created %s", none)
	}
}
