package pairbench

import (
	"testing"
	"time"
)

// spin busy-waits d: a call with a known cost.
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// TestRun: side a costs about four times side b, so the ratio reported is
// well above 1; the two sides share the calls evenly, and afterWarmup runs
// once, after the warm-up calls and before the timed ones.
func TestRun(t *testing.T) {
	var made [2]int
	var atWarmup int
	warmups := 0
	calls := [2]func(){
		func() { made[0]++; spin(4 * time.Microsecond) },
		func() { made[1]++; spin(time.Microsecond) },
	}
	var count [2]int
	res := testing.Benchmark(func(b *testing.B) {
		made = [2]int{}
		count = Run(b, calls, func() { warmups++; atWarmup = made[0] + made[1] })
	})
	if warmups == 0 || atWarmup < 2000 {
		t.Fatalf("afterWarmup ran %d times, after %d calls; want once per run after >= 2000", warmups, atWarmup)
	}
	if count[0] == 0 || count[0] != count[1] && count[0] != count[1]+1 && count[1] != count[0]+1 {
		t.Errorf("calls per side %v, want an even share", count)
	}
	if got := made[0] + made[1] - atWarmup; got != count[0]+count[1] || got < res.N {
		t.Errorf("timed calls %d, counted %v, b.N %d", got, count, res.N)
	}
	if r := res.Extra["a/b-ratio"]; r < 2 || r > 8 {
		t.Errorf("a/b-ratio %v, want about 4 (a spins 4 µs, b 1 µs)", r)
	}
	if res.Extra["a-ns/call"] <= res.Extra["b-ns/call"] {
		t.Errorf("a-ns/call %v not above b-ns/call %v", res.Extra["a-ns/call"], res.Extra["b-ns/call"])
	}
}
