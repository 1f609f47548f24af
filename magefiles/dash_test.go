//go:build mage

package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestRunServerChildExits(t *testing.T) {
	if err := runServer(exec.Command("true"), 10*time.Millisecond); err != nil {
		t.Fatalf("runServer(true) = %v", err)
	}
	if err := runServer(exec.Command("false"), 10*time.Millisecond); err == nil {
		t.Fatal("runServer(false) = nil, want the exit status")
	}
}

// TestRunServerStopsOnSignal: a SIGINT to this process stops the child and
// runServer returns (instead of this process dying or the child living on).
func TestRunServerStopsOnSignal(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	done := make(chan error, 1)
	go func() { done <- runServer(cmd, 10*time.Millisecond) }()
	time.Sleep(300 * time.Millisecond) // runServer has registered for signals by now
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runServer = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runServer did not return after SIGINT")
	}
	if cmd.ProcessState == nil || cmd.ProcessState.Success() {
		t.Fatalf("child state %v: want it ended by a signal", cmd.ProcessState)
	}
}
