package shmring

import "syscall"

// yieldCPU gives this thread's CPU to any other runnable thread
// (sched_yield). A spinning waiter calls it now and then: the kernel tends
// to wake a thread on the CPU of the thread that woke it, so the peer's
// thread can end up queued behind our spin on the same CPU while the other
// CPU idles, and without a yield each side spins its whole budget (tens of
// microseconds) before the other runs. runtime.Gosched only yields the P to
// this process's goroutines, never the CPU. sched_yield cannot block or
// fail in a way that matters here, so the raw call is used.
func yieldCPU() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}
