package protocol

import (
	"math/bits"
	"sync"
)

// Buffers for frames too big to keep per connection (large frames being
// read, decompressed payloads, compressed output) come from size-class
// pools shared by every Reader and Writer, so an idle connection holds only
// its small buffers and steady-state traffic of any size allocates nothing.

const (
	minPoolClass = 15 // 32 KiB
	maxPoolClass = 24 // 16 MiB: holds the largest frame, HeaderSize+DefaultMaxPayload
)

var bufPools [maxPoolClass - minPoolClass + 1]sync.Pool

// getBuf returns a buffer of length at least n and at most
// max(n, limit) (limit bounds the rounding up to a size class, so a
// reader never allocates past the maximum it enforces). Return it with
// putBuf.
func getBuf(n, limit int) *[]byte {
	c := max(bits.Len(uint(n-1)), minPoolClass)
	if c > maxPoolClass {
		b := make([]byte, n)
		return &b
	}
	if p, ok := bufPools[c-minPoolClass].Get().(*[]byte); ok {
		return p
	}
	size := max(n, min(1<<c, limit))
	b := make([]byte, size)
	return &b
}

// putBuf returns a buffer from getBuf to its pool: the largest class it
// fully covers.
func putBuf(p *[]byte) {
	c := bits.Len(uint(cap(*p))) - 1
	if c < minPoolClass || c > maxPoolClass {
		return
	}
	*p = (*p)[:1<<c]
	bufPools[c-minPoolClass].Put(p)
}
