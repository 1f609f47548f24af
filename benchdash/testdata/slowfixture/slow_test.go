// Package slowfixture is a tiny module for benchdash's bench pipeline test:
// its benchmark's cost doubles when BENCHDASH_FIXTURE_SLOW=1.
package slowfixture

import (
	"flag"
	"os"
	"testing"
	"time"
)

var sink []byte

// BenchmarkWork sleeps, so its time per op barely depends on how busy the
// machine is: 5 ms per op, 10 ms when BENCHDASH_FIXTURE_SLOW=1. It allocates
// 1 KiB per op so that B/op is dominated by a constant.
func BenchmarkWork(b *testing.B) {
	// BENCHDASH_FIXTURE_FAIL=always fails every run, =rounds every run
	// but benchdash's listing run (-test.benchtime=1x).
	f := os.Getenv("BENCHDASH_FIXTURE_FAIL")
	if f == "always" || (f == "rounds" && flag.Lookup("test.benchtime").Value.String() != "1x") {
		b.Fatal("failing as BENCHDASH_FIXTURE_FAIL asks")
	}
	d := 5 * time.Millisecond
	if os.Getenv("BENCHDASH_FIXTURE_SLOW") == "1" {
		d *= 2
	}
	for b.Loop() {
		sink = make([]byte, 1024)
		time.Sleep(d)
	}
}
