package shmring

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cpuHint returns 1 + the CPU this thread runs on, or 0 if unknown.
func cpuHint() uint32 {
	var cpu uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); e != 0 {
		return 0
	}
	return cpu + 1
}

// unstack runs after a wait that parked, when the peer has woken us: the
// kernel tends to run a woken thread on the CPU of the thread that woke
// it. If the peer's hint says it signaled from the CPU we now run on, both
// sides of the exchange, each spinning while it waits for the other, share
// one CPU while another may idle, and each round trip then costs a whole
// spin and another park (whose wake-up stacks them again). So move this
// thread off that CPU (narrow its affinity, which migrates it at once,
// then restore it). The hint is the peer's word: a wrong one costs at most
// these few system calls after a park. It reports whether it moved.
func unstack(wakerCPU *atomic.Uint32) bool {
	h := wakerCPU.Load()
	if h == 0 || cpuHint() != h {
		return false
	}
	cpu := int(h - 1)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil || set.Count() < 2 || !set.IsSet(cpu) {
		return false
	}
	away := set
	away.Clear(cpu)
	if unix.SchedSetaffinity(0, &away) != nil {
		return false
	}
	_ = unix.SchedSetaffinity(0, &set)
	return true
}
