package shmring

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// one is the value written to an eventfd to signal it.
var one = [8]byte{1}

// newEventfd creates a non-blocking eventfd served by Go's netpoller. The
// descriptor number is returned too, for passing it to the peer: calling
// Fd on the file would switch the shared file description to blocking mode.
func newEventfd() (int, *os.File, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, nil, fmt.Errorf("shmring: eventfd: %w", err)
	}
	return fd, os.NewFile(uintptr(fd), "shmring-eventfd"), nil
}

// adoptEventfd checks that a descriptor received from the peer is an eventfd,
// makes it non-blocking and hands it to the netpoller. On error fd is left
// open for the caller to close.
func adoptEventfd(fd int) (*os.File, error) {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return nil, fmt.Errorf("shmring: inspect received fd: %w", err)
	}
	if link != "anon_inode:[eventfd]" {
		return nil, fmt.Errorf("%w: received %q where an eventfd was expected", ErrCorrupt, link)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("shmring: set eventfd non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), "shmring-eventfd"), nil
}

// doorbell rings an eventfd: it adds one to the counter, waking whoever is
// parked on it.
//
// The write is a raw system call (no entersyscall/exitsyscall): an eventfd
// write on a non-blocking descriptor never blocks, and telling the runtime
// about it is what costs. The first system call a Go process makes through
// syscall.Syscall after its Ps all went idle wakes the runtime's sysmon
// thread from its deep sleep before the call runs (runtime.reentersyscall);
// on a 2-vCPU KVM guest that futex wake-up of an idle CPU added ~40 µs to
// every paced round trip (SPEC.md §3.1, "Where the idle wake-up goes").
// RawConn.Control keeps the descriptor alive while the write runs, so a
// concurrent Close cannot make it hit a reused descriptor number.
type doorbell struct {
	f  *os.File
	rc syscall.RawConn
}

func newDoorbell(f *os.File) (*doorbell, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("shmring: eventfd raw conn: %w", err)
	}
	return &doorbell{f: f, rc: rc}, nil
}

// ring signals the eventfd. A full counter (EAGAIN) means the peer has a
// wake-up pending already; a closed file means there is no one to wake.
func (d *doorbell) ring() { _ = d.rc.Control(ringFd) }

func ringFd(fd uintptr) {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&one[0])), 8)
		if e != unix.EINTR {
			return
		}
	}
}

// waiter parks one direction of a connection on its eventfd: at most one
// goroutine waits on it at a time (the direction's mutex holder).
type waiter struct {
	doorbell // the waiter's own eventfd: rung by Close, peer death, cancellation
	readFn   func(fd uintptr) bool
	wakeFn   func()
	buf      [8]byte
	spinMax  time.Duration
	spin     time.Duration // adaptive bound, in [spinMax/16, spinMax]
}

func newWaiter(f *os.File, spin time.Duration) (*waiter, error) {
	bell, err := newDoorbell(f)
	if err != nil {
		return nil, err
	}
	w := &waiter{doorbell: *bell, spinMax: spin, spin: spin}
	w.readFn = w.read
	w.wakeFn = w.wake
	return w, nil
}

// read drains the eventfd counter; false asks the netpoller to wait. A raw
// system call, as the doorbell's write is: the descriptor is non-blocking.
func (w *waiter) read(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&w.buf[0])), uintptr(len(w.buf)))
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			return true
		}
	}
}

// park blocks the goroutine (not an OS thread) in the netpoller until the
// eventfd is signalled, the file's read deadline passes, or it is closed.
func (w *waiter) park() error {
	err := w.rc.Read(w.readFn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	return err
}

// wake signals the waiter's own eventfd: used by Close, by peer-death
// detection and by context cancellation to unpark a local waiter.
func (w *waiter) wake() { w.ring() }

// adapt sets the spin bound after a wait that parked and lasted waited in
// all: had the peer answered within four times the maximum spin, it is
// conversing and the next answer is likely to come while spinning, so spin
// fully; otherwise the peer is slow or
// idle, and the spin shrinks (to 1/16 of the maximum) to save the CPU.
func (w *waiter) adapt(waited time.Duration) {
	if waited <= 4*w.spinMax {
		w.spin = w.spinMax
	} else {
		w.spin = max(w.spinMax/16, w.spin/2)
	}
}
