package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ringwired is the real daemon, built once by TestMain.
var ringwired string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rwsoakbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ringwired = filepath.Join(dir, "ringwired")
	cmd := exec.Command("go", "build", "-o", ringwired, "github.com/ringwire/ringwire/daemon/cmd/ringwired")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ringwired:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSoakTiny runs the whole soak against a real ringwired at tiny
// sizes: 20 sessions, 2 cycles, a 2 s sustained run. The slope bound is
// lifted: two seconds of RssAnon say nothing about a slope (Judge's own
// tests check that rule on fixed inputs); every other rule applies.
func TestSoakTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ringwired and runs ~15 s")
	}
	out := filepath.Join(t.TempDir(), "soak.txt")
	bench := filepath.Join(t.TempDir(), "soak.bench")
	samples := filepath.Join(t.TempDir(), "samples.csv")
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, []string{"-daemon", ringwired, "-small", "5", "-sessions", "20", "-cycles", "2",
		"-duration", "2s", "-warmup", "500ms", "-conns", "4", "-rate", "100", "-slope-bound", "1e6",
		"-out", out, "-benchfmt", bench, "-samples", samples}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	table := stdout.String()
	for _, want := range []string{
		"cycle 1: 5 sessions", "cycle 1: 20 sessions", "cycle 2: left, before release", "sustained: left",
		"PASS  goroutines back to idle", "PASS  open fds back to idle", "PASS  shared mappings back to idle",
		"PASS  live heap", "RssAnon per idle shm session", "idle releases", "no leak",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("report lacks %q:\n%s", want, table)
		}
	}
	// The 20 shm sessions show in the daemon's own counts.
	if !strings.Contains(table, " 21 ") {
		t.Errorf("no reading of 21 sessions (20 and the monitor):\n%s", table)
	}
	if strings.Contains(table, "idle releases (free heap returned to the OS 2s after the last session left): 0") {
		t.Errorf("the daemon never released its free heap:\n%s", table)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), "verdict:") || !strings.Contains(string(b), "BenchmarkSoak/phase=idle") {
		t.Errorf("-out file: %v\n%s", err, b)
	}
	if b, err := os.ReadFile(bench); err != nil || !strings.Contains(string(b), "BenchmarkSoak/phase=cycle_2_left 1 1 sessions") {
		t.Errorf("-benchfmt file: %v\n%s", err, b)
	}
	// A sample a second over 2 s, after the header.
	if b, err := os.ReadFile(samples); err != nil || !strings.HasPrefix(string(b), "seconds,rss_anon_bytes,vm_rss_bytes\n") ||
		strings.Count(string(b), "\n") < 2 {
		t.Errorf("-samples file: %v\n%s", err, b)
	}
	if !strings.Contains(stderr.String(), "soak ") {
		t.Errorf("no progress on stderr: %q", stderr.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-daemon", "x", "extra"},
		{"-daemon", "x", "-cycles", "1"},
		{"-daemon", "x", "-sessions", "5000"},
		{"-daemon", "x", "-rate", "0"},
		{"-nope"},
	} {
		var stdout, stderr strings.Builder
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"-daemon", "/nonexistent/ringwired"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "start") {
		t.Errorf("a missing daemon: exit %d, %q", code, stderr.String())
	}
}
