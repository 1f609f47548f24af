// Command goping is the Go pinger of the wake-up probe (see ../README.md):
// N eventfd round trips to an echo process, one per ms (time.Sleep),
// parked in the netpoller for the answer, raw read and write; with -yield
// it calls sched_yield right after its write, letting the woken echo run on
// this CPU at once.
//
//	goping [-yield] N ECHO [ARGS...]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	yield := flag.Bool("yield", false, "sched_yield after each write")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: goping [-yield] N ECHO [ARGS...]")
		os.Exit(2)
	}
	n, err := strconv.Atoi(flag.Arg(0))
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "goping: bad N")
		os.Exit(2)
	}
	var fds [2]int
	for i := range fds {
		fd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, 0, 0)
		if e != 0 {
			fmt.Fprintln(os.Stderr, "goping: eventfd:", e)
			os.Exit(1)
		}
		fds[i] = int(fd)
	}
	req, ans := fds[0], fds[1]
	// The echo gets them as fds 3 and 4.
	cmd := exec.Command(flag.Arg(1), append(flag.Args()[2:], "3", "4")...)
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(req), "req"), os.NewFile(uintptr(ans), "ans")}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "goping:", err)
		os.Exit(1)
	}
	defer cmd.Process.Kill()
	// Non-blocking after the start (exec made the shared descriptions
	// blocking): the answer's reads park in the netpoller.
	if err := syscall.SetNonblock(ans, true); err != nil {
		fmt.Fprintln(os.Stderr, "goping:", err)
		return
	}
	rc, err := os.NewFile(uintptr(ans), "ans").SyscallConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "goping:", err)
		return
	}
	one, buf := [8]byte{1}, [8]byte{}
	read := func(fd uintptr) bool {
		_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), 8)
		return e != syscall.EAGAIN
	}
	rt := make([]time.Duration, 0, n)
	for i := range n + 100 {
		time.Sleep(time.Millisecond)
		t0 := time.Now()
		syscall.RawSyscall(syscall.SYS_WRITE, uintptr(req), uintptr(unsafe.Pointer(&one[0])), 8)
		if *yield {
			syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		}
		if err := rc.Read(read); err != nil {
			fmt.Fprintln(os.Stderr, "goping:", err)
			return
		}
		if i >= 100 {
			rt = append(rt, time.Since(t0))
		}
	}
	slices.Sort(rt)
	fmt.Printf("%s yield=%v n=%d p50=%v p90=%v p99=%v\n", flag.Arg(1), *yield, n, rt[n/2], rt[n*9/10], rt[n*99/100])
}
