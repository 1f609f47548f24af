package daemon

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// IdleReleaseDelay is how long after its last session closes the server
// returns the memory its heap holds free to the operating system
// (debug.FreeOSMemory: a GC, then every free page released). Sessions
// leave freed heap behind (their buffers, their goroutines' stacks); the
// runtime's background scavenger gives it back only slowly and keeps a
// share of it, so a daemon that served 1000 sessions would otherwise stay
// several MB larger than an idle one for minutes.
const IdleReleaseDelay = 2 * time.Second

// idleReleaseDelay is IdleReleaseDelay; tests shorten it.
var idleReleaseDelay = IdleReleaseDelay

// MemoryStats is the memory part of Stats. The byte counts come from
// runtime/metrics; OpenFDs and SharedMappings from /proc/self (-1 where
// there is none).
type MemoryStats struct {
	// HeapLiveBytes is the heap the last GC found live
	// (/gc/heap/live:bytes): after a GC, what the program holds.
	HeapLiveBytes uint64 `json:"heap_live_bytes"`
	// HeapObjectsBytes is the heap in objects, live or not yet swept
	// (/memory/classes/heap/objects:bytes).
	HeapObjectsBytes uint64 `json:"heap_objects_bytes"`
	// HeapFreeBytes is heap memory free but still held from the OS
	// (/memory/classes/heap/free:bytes): resident if it was touched.
	HeapFreeBytes uint64 `json:"heap_free_bytes"`
	// HeapReleasedBytes is heap memory free and returned to the OS
	// (/memory/classes/heap/released:bytes).
	HeapReleasedBytes uint64 `json:"heap_released_bytes"`
	// StackBytes is memory in goroutine stacks
	// (/memory/classes/heap/stacks:bytes).
	StackBytes uint64 `json:"stack_bytes"`
	// MetadataBytes is the runtime's own memory outside the heap and the
	// stacks: span and cache metadata, GC structures, profiling buckets
	// (/memory/classes/metadata/..., /memory/classes/other,
	// /memory/classes/os-stacks, /memory/classes/profiling/buckets).
	// It grows with the peak heap and goroutine count and is not
	// returned.
	MetadataBytes uint64 `json:"metadata_bytes"`
	// RuntimeTotalBytes is all the memory the Go runtime has mapped
	// (/memory/classes/total:bytes).
	RuntimeTotalBytes uint64 `json:"runtime_total_bytes"`
	// GCCycles counts completed GC cycles (/gc/cycles/total:gc-cycles).
	GCCycles uint64 `json:"gc_cycles"`
	// IdleReleases counts the times the server returned its free heap to
	// the OS IdleReleaseDelay after its last session closed.
	IdleReleases uint64 `json:"idle_releases"`
	// OpenFDs is the number of open file descriptors (/proc/self/fd).
	OpenFDs int `json:"open_fds"`
	// SharedMappings is the number of shared memory mappings
	// (/proc/self/maps lines with the s flag): one per shared-memory
	// session (its two rings are one mapping), and any shared file
	// mappings.
	SharedMappings int `json:"shared_mappings"`
}

// memorySamples are the runtime/metrics read for MemoryStats, in the
// order readMemoryStats stores them.
var memorySamples = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/total:bytes",
	"/gc/cycles/total:gc-cycles",
	// Summed into MetadataBytes:
	"/memory/classes/metadata/mcache/free:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/metadata/mspan/free:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/other:bytes",
	"/memory/classes/os-stacks:bytes",
	"/memory/classes/other:bytes",
	"/memory/classes/profiling/buckets:bytes",
}

// metadataFrom is the index in memorySamples of the first one summed
// into MetadataBytes.
const metadataFrom = 7

func readMemoryStats() MemoryStats {
	samples := make([]rtmetrics.Sample, len(memorySamples))
	for i, name := range memorySamples {
		samples[i].Name = name
	}
	rtmetrics.Read(samples)
	v := func(i int) uint64 {
		if samples[i].Value.Kind() != rtmetrics.KindUint64 {
			return 0 // not in this Go version
		}
		return samples[i].Value.Uint64()
	}
	var meta uint64
	for i := metadataFrom; i < len(samples); i++ {
		meta += v(i)
	}
	return MemoryStats{
		MetadataBytes:     meta,
		HeapLiveBytes:     v(0),
		HeapObjectsBytes:  v(1),
		HeapFreeBytes:     v(2),
		HeapReleasedBytes: v(3),
		StackBytes:        v(4),
		RuntimeTotalBytes: v(5),
		GCCycles:          v(6),
		OpenFDs:           openFDs(),
		SharedMappings:    sharedMappings(),
	}
}

// openFDs counts /proc/self/fd, less the descriptor reading it; -1
// without /proc.
func openFDs() int {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(256)
		n += len(names)
		if err == io.EOF {
			break
		}
		if err != nil {
			return -1
		}
	}
	return n - 1
}

// sharedMappings counts the shared mappings in /proc/self/maps; -1
// without /proc.
func sharedMappings() int {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return -1
	}
	defer f.Close()
	n, err := countShared(f)
	if err != nil {
		return -1
	}
	return n
}

// countShared counts the lines of a /proc/PID/maps listing whose
// permissions (the second field, "rw-s") end in s.
func countShared(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		_, rest, ok := bytes.Cut(line, []byte(" "))
		if ok && len(rest) >= 4 && rest[3] == 's' {
			n++
		}
	}
	return n, sc.Err()
}

// sessionsIdle is called with s.mu held when the last session has
// closed: it arms the idle release, or pushes it back.
func (s *Server) sessionsIdle() {
	if s.closed {
		return
	}
	if s.releaseTimer == nil {
		s.releaseTimer = time.AfterFunc(idleReleaseDelay, s.releaseIdle)
		return
	}
	s.releaseTimer.Reset(idleReleaseDelay)
}

// releaseIdle returns the free heap to the OS if the server still has no
// session.
func (s *Server) releaseIdle() {
	s.mu.Lock()
	idle := !s.closed && len(s.sessions) == 0
	s.mu.Unlock()
	if !idle {
		return
	}
	debug.FreeOSMemory()
	s.idleReleases.Add(1)
}

// stopIdleRelease is called with s.mu held when the server closes.
func (s *Server) stopIdleRelease() {
	if s.releaseTimer != nil {
		s.releaseTimer.Stop()
	}
}
