package protocol

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestCRCUpdate checks the short-input CRC against hash/crc32 at every
// length around the switch-over and at split points.
func TestCRCUpdate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for n := range len(buf) {
		p := buf[:n]
		want := crc32.ChecksumIEEE(p)
		if got := ^crcUpdate(0xFFFFFFFF, p); got != want {
			t.Fatalf("len %d: %#x, want %#x", n, got, want)
		}
		split := r.IntN(n + 1)
		if got := ^crcUpdate(crcUpdate(0xFFFFFFFF, p[:split]), p[split:]); got != want {
			t.Fatalf("len %d split %d: %#x, want %#x", n, split, got, want)
		}
	}
}

func FuzzCRCUpdate(f *testing.F) {
	f.Add([]byte("123456789"), 3)
	f.Fuzz(func(t *testing.T, p []byte, split int) {
		if split < 0 || split > len(p) {
			split = len(p) / 2
		}
		want := crc32.ChecksumIEEE(p)
		if got := ^crcUpdate(crcUpdate(0xFFFFFFFF, p[:split]), p[split:]); got != want {
			t.Fatalf("%#x, want %#x", got, want)
		}
	})
}
