// Command goecho is the Go echo of the wake-up probe (see ../README.md):
// it reads the request eventfd and writes the count to the answer eventfd,
// forever, in one of three ways:
//
//	goecho syscall REQ ANS  blocking syscall.Read / syscall.Write
//	goecho poll REQ ANS     parked in the netpoller, os.File Read and syscall.Write
//	goecho raw REQ ANS      parked in the netpoller, raw read and write
//
// The first two go through the runtime's system-call bookkeeping
// (entersyscall/exitsyscall); the third is what shmring does.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goecho syscall|poll|raw REQ ANS")
		os.Exit(2)
	}
	req, err1 := strconv.Atoi(os.Args[2])
	ans, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "goecho: bad descriptor")
		os.Exit(2)
	}
	var buf [8]byte
	p := uintptr(unsafe.Pointer(&buf[0]))
	switch os.Args[1] {
	case "syscall":
		for {
			if n, err := syscall.Read(req, buf[:]); n != 8 || err != nil {
				return
			}
			if _, err := syscall.Write(ans, buf[:]); err != nil {
				return
			}
		}
	case "poll", "raw":
		if err := syscall.SetNonblock(req, true); err != nil {
			fmt.Fprintln(os.Stderr, "goecho:", err)
			os.Exit(1)
		}
		f := os.NewFile(uintptr(req), "req")
		rc, err := f.SyscallConn()
		if err != nil {
			fmt.Fprintln(os.Stderr, "goecho:", err)
			os.Exit(1)
		}
		rawRead := func(fd uintptr) bool {
			_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, p, 8)
			return e != syscall.EAGAIN
		}
		for {
			if os.Args[1] == "poll" {
				if n, err := f.Read(buf[:]); n != 8 || err != nil {
					return
				}
				if _, err := syscall.Write(ans, buf[:]); err != nil {
					return
				}
				continue
			}
			if err := rc.Read(rawRead); err != nil {
				return
			}
			if _, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(ans), p, 8); e != 0 {
				return
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "goecho: mode is syscall, poll or raw")
		os.Exit(2)
	}
}
