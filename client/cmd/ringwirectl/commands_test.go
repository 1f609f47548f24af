package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/client/internal/fakedaemon"
	"github.com/ringwire/ringwire/protocol"
)

// ringwirectl runs the command line args and returns its exit code,
// stdout and stderr.
func ringwirectl(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestCommands runs ping, stats and complete against the client module's
// fake daemon on both transports (integration runs them against ringwired).
func TestCommands(t *testing.T) {
	d := fakedaemon.New(t, false)
	const stats = `{"sessions":1,"uptime_seconds":2.5,"session_list":[{"id":42}]}`
	d.SetStats([]byte(stats))
	for _, tr := range []protocol.Transport{protocol.TransportShm, protocol.TransportSocket} {
		t.Run(tr.String(), func(t *testing.T) {
			dialled := d.Path
			if tr == protocol.TransportSocket {
				dialled = protocol.StreamPath(d.Path)
			}
			code, out, errOut := ringwirectl("ping", "-socket", d.Path, "-transport", tr.String(), "-count", "3")
			pong := regexp.MustCompile(`^pong from ` + regexp.QuoteMeta(dialled) + ` \(` + tr.String() + `\): time=[0-9.]+[µnm]?s\n$`)
			lines := strings.SplitAfter(out, "\n")
			if code != 0 || errOut != "" || len(lines) != 4 || lines[3] != "" {
				t.Fatalf("ping = %d, %q, %q", code, out, errOut)
			}
			for _, l := range lines[:3] {
				if !pong.MatchString(l) {
					t.Errorf("ping printed %q", l)
				}
			}

			code, out, errOut = ringwirectl("-transport", tr.String(), "-socket", d.Path, "stats")
			want := "{\n  \"sessions\": 1,\n  \"uptime_seconds\": 2.5,\n  \"session_list\": [\n    {\n      \"id\": 42\n    }\n  ]\n}\n"
			if code != 0 || out != want || errOut != "" {
				t.Errorf("stats = %d, %q, %q; want %q", code, out, errOut, want)
			}

			code, out, errOut = ringwirectl("tool", "-socket", d.Path, "-transport", tr.String(), "read_file", `{"path":"x"}`)
			if code != 0 || out != "{\"path\":\"x\"}\n" || errOut != "" {
				t.Errorf("tool = %d, %q, %q", code, out, errOut)
			}
			code, out, errOut = ringwirectl("-socket", d.Path, "tool", "list_dir", "-transport", tr.String())
			if code != 0 || out != "{}\n" || errOut != "" {
				t.Errorf("tool, default arguments = %d, %q, %q", code, out, errOut)
			}
			code, out, errOut = ringwirectl("-socket", d.Path, "tool", fakedaemon.ToolFail, "no such file\n")
			if code != 1 || out != "" || errOut != "ringwirectl: tool fail: no such file\n" {
				t.Errorf("tool, failing = %d, %q, %q", code, out, errOut)
			}
			code, out, errOut = ringwirectl("complete", "-socket", d.Path, "-transport", tr.String(), "hello", "-max-tokens", "5", "ring  wire")
			want = "hello ring wire \n[finish=" + protocol.FinishUnspecified.String() + " prompt_tokens=0 completion_tokens=0]\n"
			if code != 0 || out != want || errOut != "" {
				t.Errorf("complete = %d, %q, %q; want %q", code, out, errOut, want)
			}
		})
	}
}

// TestCommandErrors: a daemon that answers badly or not at all makes each
// command say what failed and exit 1.
func TestCommandErrors(t *testing.T) {
	d := fakedaemon.New(t, false)
	d.SetStats([]byte("sessions: 1"))
	code, out, errOut := ringwirectl("-socket", d.Path, "stats")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ringwirectl: stats: bad JSON from the daemon: ") {
		t.Errorf("stats, bad JSON = %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = ringwirectl("-socket", d.Path, "complete", "one", "two", fakedaemon.StreamFail, "three")
	if code != 1 || out != "one two " || !strings.HasPrefix(errOut, "\nringwirectl: complete: ") || !strings.Contains(errOut, "provider down") {
		t.Errorf("complete, failing stream = %d, %q, %q", code, out, errOut)
	}

	deaf := fakedaemon.New(t, false)
	deaf.Ignore(protocol.MsgHeartbeat)
	deaf.Ignore(protocol.MsgStats)
	for _, cmd := range []string{"ping", "stats"} {
		code, out, errOut := ringwirectl("-socket", deaf.Path, "-timeout", "100ms", cmd)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "ringwirectl: "+cmd+": ") || !strings.Contains(errOut, context.DeadlineExceeded.Error()) {
			t.Errorf("%s, no answer = %d, %q, %q", cmd, code, out, errOut)
		}
	}

	deaf.Ignore(protocol.MsgToolCall)
	code, out, errOut = ringwirectl("-socket", deaf.Path, "-timeout", "100ms", "tool", "read_file", "{}")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ringwirectl: tool read_file: ") || !strings.Contains(errOut, context.DeadlineExceeded.Error()) {
		t.Errorf("tool, no answer = %d, %q, %q", code, out, errOut)
	}

	refusing := fakedaemon.New(t, true)
	code, out, errOut = ringwirectl("-socket", refusing.Path, "-transport", "socket", "ping")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ringwirectl: "+protocol.StreamPath(refusing.Path)+": ") || !strings.Contains(errOut, "refused") {
		t.Errorf("ping, refused = %d, %q, %q", code, out, errOut)
	}
}
