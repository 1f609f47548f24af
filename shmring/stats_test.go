//go:build linux

package shmring

import (
	"testing"
	"time"
)

// TestStatsSpinCounters: a wait that gets its data while spinning counts a
// spin hit; one that spins its whole bound and parks counts a miss and a
// park; one that does not spin counts only the park.
func TestStatsSpinCounters(t *testing.T) {
	type counts struct{ hits, misses, parks uint64 }
	get := func(c *Conn) counts {
		s := c.Stats()
		return counts{s.SpinHits, s.SpinMisses, s.Parks}
	}
	for _, tc := range []struct {
		name string
		spin time.Duration
		want counts
	}{
		// A bound far above the writer's delay: the data comes while
		// spinning, however loaded the machine.
		{"hit", 2 * time.Second, counts{1, 0, 0}},
		// A bound far below it: the spin runs out and the wait parks.
		{"miss", 20 * time.Microsecond, counts{0, 1, 1}},
		{"no spin", 0, counts{0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, l := pipe(t, nil, []Option{WithSpin(tc.spin)})
			for attempt := 1; ; attempt++ {
				before := get(d)
				errc := make(chan error, 1)
				go func() {
					if tc.want.parks > 0 {
						// Write once the reader has parked.
						for get(d).parks == before.parks {
							time.Sleep(100 * time.Microsecond)
						}
					} else {
						time.Sleep(time.Duration(attempt) * 2 * time.Millisecond)
					}
					errc <- l.WriteMsg([]byte("x"))
				}()
				if _, err := d.ReadMsg(nil); err != nil {
					t.Fatal(err)
				}
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				got := get(d)
				got = counts{got.hits - before.hits, got.misses - before.misses, got.parks - before.parks}
				if got == (counts{}) && attempt < 5 {
					continue // the reader came late, after the data: no wait at all
				}
				if got != tc.want {
					t.Errorf("spin %v: hits, misses, parks = %v, want %v", tc.spin, got, tc.want)
				}
				break
			}
		})
	}
}
