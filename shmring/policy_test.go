//go:build linux

package shmring

import (
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
	spins := 0
	for range 10 * predictProbe {
		if b := p.bound(max); b == max {
			spins++
			p.miss() // the probe ran out too
		} else if b != 0 {
			t.Fatalf("parking predictor spins %v", b)
		}
	}
	if spins != 10 {
		t.Fatalf("%d probes in %d waits, want 10", spins, 10*predictProbe)
	}
	p.hit()
	if b := p.bound(max); b != max || p.parking {
		t.Fatalf("after a hit: spin %v, parking %v", b, p.parking)
	}
	p.miss()
	p.hit()
	p.miss()
	if p.parking {
		t.Fatal("a hit between two misses still made it park")
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
	if s2 := d.Stats(); s2.SpinMisses != s1.SpinMisses+1 || !d.rxPred.parking {
		t.Errorf("probe: misses %d -> %d, parking %v", s1.SpinMisses, s2.SpinMisses, d.rxPred.parking)
	}

	// A probe that pays brings the spin back (a long bound, so the answer
	// comes within it however loaded the machine).
	d2, l2 := pipe(t, nil, []Option{WithSpin(2 * time.Second), WithWaitPolicy(WaitPredict)})
	for attempt := 0; ; attempt++ {
		d2.rxMu.Lock()
		d2.rxPred = predictor{misses: predictMisses, parking: true, waits: predictProbe - 1}
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
		parking := d2.rxPred.parking
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
	d3.rxPred = predictor{misses: predictMisses, parking: true, waits: 1}
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
	if d3.rxPred.parking {
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
