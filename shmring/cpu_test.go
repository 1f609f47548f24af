//go:build linux

package shmring

import (
	"fmt"
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

// The CPU hints are the peer's word: a peer scribbling any values over them
// while both sides park and wake costs nothing but unneeded moves. Every
// message arrives intact and no error is raised.
func TestHostileHints(t *testing.T) {
	d, l := pipe(t, []Option{WithSpin(time.Microsecond)}, []Option{WithSpin(time.Microsecond), WithRingSize(MinRingSize)})
	stop := make(chan struct{})
	scribbled := make(chan struct{})
	go func() {
		defer close(scribbled)
		for v := uint32(0); ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			// Garbage, zero, and this very CPU's hint, on every field
			// either side reads.
			for _, h := range []uint32{v * 2654435761, 0, cpuHint(), ^uint32(0)} {
				d.rx.consCPU.Store(h)
				d.tx.prodCPU.Store(h)
				l.rx.consCPU.Store(h)
				l.tx.prodCPU.Store(h)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}()
	defer func() { close(stop); <-scribbled }()
	const n = 2000
	errs := make(chan error, 1)
	go func() {
		var buf []byte
		for i := range n {
			var err error
			if buf, err = l.ReadMsg(buf); err != nil {
				errs <- err
				return
			}
			if want := genMsg(nil, 1, uint64(i)); string(buf) != string(want) {
				errs <- fmt.Errorf("message %d: %d bytes, not the %d sent", i, len(buf), len(want))
				return
			}
			if i%7 == 0 {
				time.Sleep(30 * time.Microsecond) // the writer parks now and then
			}
		}
		errs <- nil
	}()
	for i := range n {
		if err := d.WriteMsg(genMsg(nil, 1, uint64(i))); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			time.Sleep(30 * time.Microsecond) // the reader parks now and then
		}
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if d.Err() != nil || l.Err() != nil {
		t.Fatalf("errors: %v %v", d.Err(), l.Err())
	}
	t.Logf("parks: %d + %d, moves off a hinted CPU: %d + %d", d.Stats().Parks, l.Stats().Parks, d.Stats().Unstacks, l.Stats().Unstacks)
}
