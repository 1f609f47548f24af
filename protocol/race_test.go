//go:build race

package protocol

// raceEnabled: the race detector is on (sync.Pool then drops items at
// random, so pooled buffers are reallocated).
const raceEnabled = true
