//go:build linux

package shmring

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Cross-process tests re-execute the test binary as the peer: the child runs
// TestChildProcess only, in the role named by childEnv.
const (
	childEnv = "SHMRING_TEST_CHILD"
	pathEnv  = "SHMRING_TEST_PATH"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// stress reports whether RINGWIRE_STRESS asks for the big test sizes.
func stress() bool { return os.Getenv("RINGWIRE_STRESS") != "" }

// sockPath returns a socket path in a fresh 0700 directory.
func sockPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "d", "s.sock")
}

type child struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

// startChild runs the test binary as a peer in role, passing on the coverage
// directory so the child's coverage counts.
func startChild(t testing.TB, role, path string, env ...string) *child {
	t.Helper()
	args := []string{"-test.run=^TestChildProcess$", "-test.v"}
	if f := flag.Lookup("test.gocoverdir"); f != nil && f.Value.String() != "" {
		args = append(args, "-test.gocoverdir="+f.Value.String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+role, pathEnv+"="+path)
	cmd.Env = append(cmd.Env, env...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return &child{cmd: cmd, out: out}
}

// wait waits for the child and fails the test if it failed.
func (c *child) wait(t testing.TB) {
	t.Helper()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child %v: %v\n%s", c.cmd.Env[len(os.Environ())], err, c.out.String())
	}
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// childOptions returns the options a child dials with.
func childOptions() []Option {
	opts := []Option{WithRingSize(envInt("SHMRING_RING", DefaultRingSize))}
	if v := os.Getenv("SHMRING_SPIN"); v != "" {
		d, _ := time.ParseDuration(v)
		opts = append(opts, WithSpin(d))
	}
	return opts
}

// TestChildProcess is the peer side of the cross-process tests; it is
// skipped unless the test binary runs as a child.
func TestChildProcess(t *testing.T) {
	role := os.Getenv(childEnv)
	if role == "" {
		t.Skip("runs only as a child process")
	}
	path := os.Getenv(pathEnv)
	ctx := context.Background()
	switch role {
	case "echo":
		c, err := Dial(ctx, path, childOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var buf []byte
		for {
			buf, err = c.ReadMsg(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return
			}
			if err := c.WriteMsg(buf); err != nil {
				t.Fatal(err)
			}
		}
	case "sink": // counts messages until a 3-byte "end" marker, then acks
		c, err := Dial(ctx, path, childOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var batch [][]byte
		n := 0
		for {
			batch, err = c.PeekBatch(batch[:0])
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return
			}
			end := false
			for _, m := range batch {
				n++
				end = end || (len(m) == 3 && string(m) == "end")
			}
			c.Release()
			if end {
				var ack [8]byte
				binary.LittleEndian.PutUint64(ack[:], uint64(n-1))
				if err := c.WriteMsg(ack[:]); err != nil {
					t.Fatal(err)
				}
				n = 0
			}
		}
	case "integrity":
		c, err := Dial(ctx, path, childOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := runIntegrity(c, envInt("SHMRING_N", 1000), 2); err != nil {
			t.Fatal(err)
		}
	case "stream": // writes until killed
		c, err := Dial(ctx, path, childOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, 100)
		for i := uint64(0); ; i++ {
			binary.LittleEndian.PutUint64(msg, i)
			if err := c.WriteMsg(msg); err != nil {
				t.Fatal(err)
			}
		}
	case "idle": // connects, says so, and waits to be killed
		c, err := Dial(ctx, path, childOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMsg([]byte("up")); err != nil {
			t.Fatal(err)
		}
		<-c.Done()
	case "hostile":
		runHostile(t, path, os.Getenv("SHMRING_MODE"))
	case "uid-listen", "uid-dial":
		runUIDChild(t, role, path)
	case "uds-echo":
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = io.Copy(nc, nc)
	case "uds-sink": // reads an 8-byte count, then that many bytes, then acks
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		var hdr [8]byte
		for {
			if _, err := io.ReadFull(nc, hdr[:]); err != nil {
				return
			}
			n := int64(binary.LittleEndian.Uint64(hdr[:]))
			if _, err := io.CopyN(io.Discard, nc, n); err != nil {
				t.Fatal(err)
			}
			if _, err := nc.Write(hdr[:]); err != nil {
				return
			}
		}
	default:
		t.Fatalf("unknown child role %q", role)
	}
}

// acceptOne accepts one connection with a generous timeout.
func acceptOne(t testing.TB, ln *Listener) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ln.AcceptContext(ctx)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	return c
}

// pipe returns two connected Conns in this process.
func pipe(t testing.TB, lopts, dopts []Option) (dialer, listener *Conn) {
	t.Helper()
	path := sockPath(t)
	ln, err := Listen(path, lopts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		listener = acceptOne(t, ln)
	}()
	d, err := Dial(context.Background(), path, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Cleanup(func() { d.Close(); listener.Close() })
	return d, listener
}

// countFDs and countMaps measure what a leak would grow.
func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func countMaps(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// countSegments counts mappings of shmring memfds.
func countSegments(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "memfd:ringwire-shmring")
}
