package shmring

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCPUHint(t *testing.T) {
	if h := cpuHint(); h == 0 {
		t.Fatal("getcpu failed")
	}
}

// unstack moves the thread off the CPU the hint names when it runs there,
// restores the thread's affinity, and does nothing otherwise.
func TestUnstack(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var hint atomic.Uint32
	if unstack(&hint) {
		t.Fatal("moved on an empty hint")
	}
	here := cpuHint()
	hint.Store(1 << 20) // a CPU we are not on: not stacked
	if unstack(&hint) {
		t.Fatal("moved on another CPU's hint")
	}
	if set.Count() < 2 {
		t.Skipf("%d CPU allowed: nowhere to move", set.Count())
	}
	hint.Store(here)
	if cpuHint() != here {
		t.Skip("the thread moved by itself meanwhile")
	}
	if !unstack(&hint) {
		t.Fatal("did not move off the hinted CPU")
	}
	if now := cpuHint(); now == here {
		t.Fatalf("still on CPU %d", here-1)
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil || after != set {
		t.Fatalf("affinity not restored: %v %v", after, err)
	}
}

// A side that wakes its parked peer leaves its CPU hint in the control
// block: the producer when it publishes data, the consumer when it frees
// space.
func TestWakeHints(t *testing.T) {
	d, l := pipe(t, []Option{WithSpin(time.Microsecond)}, []Option{WithSpin(time.Microsecond), WithRingSize(4096)})
	got := make(chan error, 1)
	go func() {
		_, err := l.ReadMsg(nil) // parks: nothing written yet
		got <- err
	}()
	waitParked(t, &l.rx.consumer.ringView, true)
	if err := d.WriteMsg([]byte("wake up")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if h := d.tx.prodCPU.Load(); h == 0 {
		t.Fatal("producer left no CPU hint when it woke the consumer")
	}
	// Fill the dialer's ring so that its writer parks for space, then
	// let the listener read: it wakes the writer and leaves its hint.
	big := make([]byte, 1500)
	done := make(chan error, 1)
	go func() {
		for range 4 {
			if err := d.WriteMsg(big); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	waitParked(t, &d.tx.producer.ringView, false)
	for range 4 {
		if _, err := l.ReadMsg(nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h := l.rx.consCPU.Load(); h == 0 {
		t.Fatal("consumer left no CPU hint when it woke the producer")
	}
	t.Logf("unstacks: dialer %d, listener %d", d.Stats().Unstacks, l.Stats().Unstacks)
}

// waitParked waits until the ring's consumer (or producer) is parked.
func waitParked(t *testing.T, r *ringView, consumer bool) {
	t.Helper()
	flag := r.prodParked
	if consumer {
		flag = r.consParked
	}
	for deadline := time.Now().Add(5 * time.Second); flag.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("never parked")
		}
		time.Sleep(100 * time.Microsecond)
	}
}
