//go:build linux

package shmring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestPredictor(t *testing.T) {
	const max = 50 * time.Microsecond
	var p predictor
	if b := p.bound(max); b != max {
		t.Fatalf("fresh predictor spins %v, want %v", b, max)
	}
	p.miss()
	if b := p.bound(max); b != max {
		t.Fatalf("after one miss: spin %v, want %v", b, max)
	}
	p.miss()
	if !p.parking() {
		t.Fatal("two misses in a row from a fresh start: not parking")
	}
	// Parking: probes at doubling intervals while they run out (16, then
	// 32, 64, 128 and 256 waits apart, then 256 apart).
	var probes []int
	for i := 1; i <= 2000; i++ {
		if b := p.bound(max); b == max {
			probes = append(probes, i)
			p.miss() // the probe ran out too
		} else if b != 0 {
			t.Fatalf("parking predictor spins %v", b)
		}
	}
	want := []int{16, 48, 112, 240, 496, 752, 1008, 1264, 1520, 1776}
	if fmt.Sprint(probes) != fmt.Sprint(want) {
		t.Fatalf("probes at waits %v, want %v", probes, want)
	}
	// A probe that pays: spinning on probation, one more miss parks.
	for p.bound(max) != max {
	}
	p.hit()
	if p.parking() {
		t.Fatal("a paying probe left it parking")
	}
	p.miss()
	if !p.parking() {
		t.Fatal("a miss on probation did not park it")
	}
	// The interval stays long after the probation's miss...
	n := 0
	for p.bound(max) != max {
		n++
	}
	if n != predictProbeMax-1 {
		t.Fatalf("next probe after %d parked waits, want %d", n, predictProbeMax-1)
	}
	// ...and comes back to predictProbe once the score is full again
	// (twelve paying spins in a row after the probe).
	p.hit()
	for range predictScoreMax - (predictPark + predictMissCost) {
		if b := p.bound(max); b != max {
			t.Fatalf("spinning predictor parks at once")
		}
		p.hit()
	}
	if p.every != 0 {
		t.Fatalf("probe interval %d after a run of hits, want reset", p.every)
	}
	// From full confidence: spinning survives a miss among hits at four
	// in five paying, and parks when fewer pay.
	for range 20 {
		p.hit()
		p.hit()
		p.hit()
		p.hit()
		p.miss()
		if p.parking() {
			t.Fatal("parks with four in five spins paying")
		}
	}
	for range 10 {
		p.hit()
		p.miss()
	}
	if !p.parking() {
		t.Fatal("still spinning with one in two spins paying")
	}
}

// TestWaitPredict: over a real connection, after two spins that ran out
// the reader parks at once (no more misses, one park per wait) but for a
// probe every predictProbe waits; a probe that pays brings the spin back,
// and so does a parked wait answered within the spin bound; a parking
// reader does not move its thread (no unstack).
func TestWaitPredict(t *testing.T) {
	d, l := pipe(t, nil, []Option{WithSpin(20 * time.Microsecond), WithWaitPolicy(WaitPredict)})
	// exchange makes d wait for one message: written after d parked, or
	// after delay if d is not expected to park.
	exchange := func(afterPark bool, delay time.Duration) {
		t.Helper()
		parks := d.Stats().Parks
		errc := make(chan error, 1)
		go func() {
			if afterPark {
				for d.Stats().Parks == parks {
					time.Sleep(50 * time.Microsecond)
				}
				// Well past the spin bound: a wait answered within it,
				// wake-up included, would count as one the spin pays.
				time.Sleep(time.Millisecond)
			} else {
				time.Sleep(delay)
			}
			errc <- l.WriteMsg([]byte("x"))
		}()
		if _, err := d.ReadMsg(nil); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		exchange(true, 0)
	}
	s0 := d.Stats()
	if s0.SpinMisses != 2 || s0.Parks != 2 {
		t.Fatalf("after two slow answers: %d misses, %d parks, want 2, 2", s0.SpinMisses, s0.Parks)
	}
	for range predictProbe - 1 {
		exchange(true, 0)
	}
	s1 := d.Stats()
	if m := s1.SpinMisses - s0.SpinMisses; m != 0 {
		t.Errorf("%d misses while parking at once, want 0", m)
	}
	if p := s1.Parks - s0.Parks; p != predictProbe-1 {
		t.Errorf("%d parks in %d waits, want one each", p, predictProbe-1)
	}
	if u := s1.Unstacks - s0.Unstacks; u != 0 {
		t.Errorf("%d unstacks while parking at once", u)
	}
	// The next wait is a probe: it spins (and, the answer being slow,
	// misses) and the direction goes on parking.
	exchange(true, 0)
	if s2 := d.Stats(); s2.SpinMisses != s1.SpinMisses+1 || !d.rxPred.parking() {
		t.Errorf("probe: misses %d -> %d, parking %v", s1.SpinMisses, s2.SpinMisses, d.rxPred.parking())
	}

	// A probe that pays brings the spin back (a long bound, so the answer
	// comes within it however loaded the machine).
	d2, l2 := pipe(t, nil, []Option{WithSpin(2 * time.Second), WithWaitPolicy(WaitPredict)})
	for attempt := 0; ; attempt++ {
		d2.rxMu.Lock()
		d2.rxPred = predictor{score: predictPark, waits: predictProbe - 1}
		d2.rxMu.Unlock()
		hits := d2.Stats().SpinHits
		errc := make(chan error, 1)
		go func() {
			time.Sleep(2 * time.Millisecond)
			errc <- l2.WriteMsg([]byte("x"))
		}()
		if _, err := d2.ReadMsg(nil); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if d2.Stats().SpinHits == hits && attempt < 5 {
			continue // the reader came after the data: no wait
		}
		d2.rxMu.Lock()
		parking := d2.rxPred.parking()
		d2.rxMu.Unlock()
		if d2.Stats().SpinHits != hits+1 || parking {
			t.Errorf("paying probe: hits %d -> %d, parking %v", hits, d2.Stats().SpinHits, parking)
		}
		break
	}

	// A parked wait answered, wake-up included, within the bound: spin
	// again. (The bound is long so that the machine's load cannot make it
	// miss.)
	d3, l3 := pipe(t, nil, []Option{WithSpin(2 * time.Second), WithWaitPolicy(WaitPredict)})
	d3.rxMu.Lock()
	d3.rxPred = predictor{score: predictPark, waits: 1}
	d3.rxMu.Unlock()
	parks := d3.Stats().Parks
	errc := make(chan error, 1)
	go func() {
		for d3.Stats().Parks == parks {
			time.Sleep(50 * time.Microsecond)
		}
		errc <- l3.WriteMsg([]byte("x"))
	}()
	if _, err := d3.ReadMsg(nil); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	d3.rxMu.Lock()
	defer d3.rxMu.Unlock()
	if d3.rxPred.parking() {
		t.Error("a parked wait answered within the bound left the policy parking")
	}
}

// TestWaitSpin: the latency-first policy spins before every park, and its
// bound shrinks after waits far longer than it and comes back after a
// short one.
func TestWaitSpin(t *testing.T) {
	const spinMax = 20 * time.Microsecond
	d, l := pipe(t, nil, []Option{WithSpin(spinMax), WithWaitPolicy(WaitSpin)})
	slow := func() {
		t.Helper()
		errc := make(chan error, 1)
		go func() {
			time.Sleep(5 * time.Millisecond)
			errc <- l.WriteMsg([]byte("x"))
		}()
		if _, err := d.ReadMsg(nil); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	s0 := d.Stats()
	for range 6 {
		slow()
	}
	s1 := d.Stats()
	if m := s1.SpinMisses - s0.SpinMisses; m != 6 {
		t.Errorf("%d misses in 6 slow waits, want 6: WaitSpin spins before every park", m)
	}
	d.rxMu.Lock()
	got := d.rxWait.spin
	d.rxMu.Unlock()
	if got != spinMax/16 {
		t.Errorf("spin bound after slow waits %v, want %v", got, spinMax/16)
	}
	d.rxMu.Lock()
	d.rxWait.adapt(spinMax) // a wait within 4× the bound restores it
	got = d.rxWait.spin
	d.rxMu.Unlock()
	if got != spinMax {
		t.Errorf("spin bound after a short wait %v, want %v", got, spinMax)
	}
}

// TestWaitPredictRang: a wait for an answer after a publish that had to
// ring the peer awake is judged apart from the others (rxPredRang): the
// publish records whether it rang, and a parked wait answered soon after
// does not bring such waits back to spinning — parking gave the woken peer
// the CPU, which is why the answer came soon.
func TestWaitPredictRang(t *testing.T) {
	d, l := pipe(t, []Option{WithSpin(0)}, []Option{WithSpin(2 * time.Second), WithWaitPolicy(WaitPredict)})
	// l parks at once waiting; it echoes each message after d parked for
	// the answer (d's Parks passes the count it had before sending).
	// The goroutine reads no shared memory, and the cleanup (run before
	// pipe's) closes l to end a read that no message will end.
	errc, quit, done := make(chan error, 1), make(chan struct{}), make(chan struct{})
	dParks := make(chan uint64, 1)
	t.Cleanup(func() { close(quit); l.Close(); <-done })
	go func() {
		defer close(done)
		for range 2 {
			m, err := l.ReadMsg(nil)
			if err != nil {
				errc <- err
				return
			}
			base := <-dParks
			parked := false
			for deadline := time.Now().Add(5 * time.Second); !parked && time.Now().Before(deadline); {
				select {
				case <-quit:
					return
				case <-time.After(20 * time.Microsecond):
				}
				parked = d.Stats().Parks > base
			}
			if err := l.WriteMsg(m); err != nil {
				errc <- err
				return
			}
			if !parked {
				errc <- errors.New("d did not park waiting for the answer to a rung peer")
				return
			}
		}
		errc <- nil
	}()
	for range 2 {
		if !waitFlag(d.tx.consParked, 5*time.Second) {
			t.Fatal("l did not park waiting for a message")
		}
		d.rxMu.Lock()
		d.rxPredRang = predictor{rang: true, score: predictPark, waits: 1}
		d.rxMu.Unlock()
		wake := d.Stats().Wakeups
		dParks <- d.Stats().Parks
		if err := d.WriteMsg([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if d.Stats().Wakeups != wake+1 || d.txRang.Load() != 1 {
			t.Fatalf("publish to a parked peer: wakeups %d -> %d, txRang %d", wake, d.Stats().Wakeups, d.txRang.Load())
		}
		if _, err := d.ReadMsg(nil); err != nil {
			t.Fatal(err)
		}
		d.rxMu.Lock()
		parking, fresh := d.rxPredRang.parking(), d.rxPred == predictor{}
		d.rxMu.Unlock()
		if !parking || !fresh {
			t.Fatalf("after a parked answer to a rung peer: rang predictor parking %v, the other untouched %v", parking, fresh)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// A publish while the peer is not parked does not ring, and says so.
	if err := d.WriteMsg([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if d.txRang.Load() != 0 {
		t.Fatal("publish to a peer that was not parked left txRang set")
	}
}

// waitFlag waits until the shared-memory flag f is set, at most d; it
// reports whether it was.
func waitFlag(f *atomic.Uint32, d time.Duration) bool {
	for deadline := time.Now().Add(d); f.Load() == 0; {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Microsecond)
	}
	return true
}
