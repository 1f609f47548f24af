package loadpeers

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringwire/ringwire/integration/internal/load"
)

// The floors: what no transport can beat on this machine, measured in the
// same run as the transports.
//
//   - CacheLine: two threads ping-ponging a cache line, both spinning:
//     the machine's floor for a round trip between cores, closed loop
//     only (a spinning partner cannot be paced without burning a core).
//   - Eventfd: a bare eventfd round trip between two Go processes, each
//     side parked in Go's netpoller: the Go runtime's own wake-up, which
//     sets the latency at paced rates.
//
// Both serve only OpPing (ErrFloorOp otherwise).

// ErrFloorOp is a request other than a ping sent to a floor.
var ErrFloorOp = errors.New("loadpeers: a floor only answers pings")

// CacheLine is the cache-line ping-pong floor: a partner goroutine,
// locked to its own thread, spins on a shared word and answers each
// ping by flipping it back. One ping at a time: Do serializes callers.
// Close stops the partner.
type CacheLine struct {
	mu   sync.Mutex
	line atomic.Uint64 // odd: a ping waits for its answer; even: answered
	_    [56]byte
	stop atomic.Bool
	done chan struct{}
}

// NewCacheLine starts the partner; it spins (a whole core) until Close.
func NewCacheLine() *CacheLine {
	c := &CacheLine{done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer close(c.done)
		for !c.stop.Load() {
			if v := c.line.Load(); v&1 == 1 {
				c.line.Store(v + 1)
			}
		}
	}()
	return c
}

// Do pings the partner and spins until it answers; see load.Target.
func (c *CacheLine) Do(ctx context.Context, _ int, op *load.Op) error {
	if op.Kind != load.OpPing {
		return ErrFloorOp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.line.Add(1) // odd
	for i := 0; c.line.Load() == v; i++ {
		if i&0xffff == 0xffff && ctx.Err() != nil {
			// The partner did not answer (it cannot be descheduled
			// for long, but a context is a context).
			return ctx.Err()
		}
	}
	return nil
}

// Close stops the partner.
func (c *CacheLine) Close() error {
	c.stop.Store(true)
	<-c.done
	return nil
}

// eventfdPair is one connection of the eventfd floor: the client writes
// req and reads resp; the echo process does the opposite.
type eventfdPair struct {
	mu           sync.Mutex
	req, resp    *os.File
	reqFD, rspFD int
	rreq, rresp  *rawEventfd
	// owed counts answers of canceled pings still to come: the next
	// ping reads them with its own, so the pair stays in step.
	owed uint64
}

// Eventfd is the eventfd floor's client: conns pairs of eventfds shared
// with an echo process (ServeEventfd), one ping at a time per pair.
type Eventfd struct {
	pairs []*eventfdPair
}

// NewEventfdPairs creates conns pairs of non-blocking eventfds and
// returns the client and the files to hand to the echo process (as its
// fds 3, 4, 5, ...: req0, resp0, req1, resp1, ...). Starting the process
// (os/exec calls Fd on them) makes the eventfds blocking for both sides,
// since a dup shares the open file: call Started once it runs.
func NewEventfdPairs(conns int) (*Eventfd, []*os.File, error) {
	e := &Eventfd{}
	var child []*os.File
	fail := func(err error) (*Eventfd, []*os.File, error) {
		e.Close()
		for _, f := range child {
			f.Close()
		}
		return nil, nil, err
	}
	for range max(conns, 1) {
		var fds [2]int
		for i := range fds {
			fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
			if err != nil {
				return fail(fmt.Errorf("loadpeers: eventfd: %w", err))
			}
			fds[i] = fd
			dup, err := unix.Dup(fd)
			if err != nil {
				unix.Close(fd)
				return fail(fmt.Errorf("loadpeers: dup: %w", err))
			}
			child = append(child, os.NewFile(uintptr(dup), "eventfd"))
		}
		p := &eventfdPair{req: os.NewFile(uintptr(fds[0]), "req"), resp: os.NewFile(uintptr(fds[1]), "resp"),
			reqFD: fds[0], rspFD: fds[1]}
		e.pairs = append(e.pairs, p)
		var err error
		if p.rreq, err = newRawEventfd(p.req); err != nil {
			return fail(err)
		}
		if p.rresp, err = newRawEventfd(p.resp); err != nil {
			return fail(err)
		}
	}
	return e, child, nil
}

// Started makes the eventfds non-blocking again once the echo process
// runs (see NewEventfdPairs): the client's reads park in the netpoller.
func (e *Eventfd) Started() error {
	for _, p := range e.pairs {
		for _, fd := range []int{p.reqFD, p.rspFD} {
			if err := unix.SetNonblock(fd, true); err != nil {
				return fmt.Errorf("loadpeers: eventfd: %w", err)
			}
		}
	}
	return nil
}

// Do rings the echo process and waits, parked in the netpoller, for its
// answer; see load.Target.
func (e *Eventfd) Do(ctx context.Context, conn int, op *load.Op) error {
	if op.Kind != load.OpPing {
		return ErrFloorOp
	}
	p := e.pairs[conn%len(e.pairs)]
	p.mu.Lock()
	defer p.mu.Unlock()
	binary.NativeEndian.PutUint64(p.rreq.buf[:], 1)
	if err := p.rreq.write(); err != nil {
		return fmt.Errorf("loadpeers: eventfd: %w", err)
	}
	dl, hasDL := ctx.Deadline()
	if hasDL {
		p.resp.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { p.resp.SetReadDeadline(time.Now()) })
	defer func() {
		stop()
		p.resp.SetReadDeadline(time.Time{})
	}()
	// An eventfd read takes the whole count: the echo of this ping and
	// of canceled ones before it may come in one read or several.
	need := p.owed + 1
	for got := uint64(0); got < need; {
		if err := p.rresp.read(); err != nil {
			p.owed = need - got
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, os.ErrDeadlineExceeded) && hasDL && !time.Now().Before(dl):
				return context.DeadlineExceeded // ctx's own timer has not fired yet
			}
			return fmt.Errorf("loadpeers: eventfd: %w", err)
		}
		got += binary.NativeEndian.Uint64(p.rresp.buf[:])
	}
	p.owed = 0
	return nil
}

// Close closes the eventfds.
func (e *Eventfd) Close() error {
	for _, p := range e.pairs {
		p.req.Close()
		p.resp.Close()
	}
	return nil
}

// ServeEventfd is the echo process of the eventfd floor: for each pair
// of inherited fds (req, resp), from fd 3 on, a goroutine reads req
// (parked in the netpoller) and writes resp, until ctx ends or a read
// fails.
func ServeEventfd(ctx context.Context, pairs int) error {
	if pairs <= 0 {
		return errors.New("loadpeers: eventfd: no pairs")
	}
	var wg sync.WaitGroup
	var files []*os.File
	for i := range pairs {
		// Non-blocking before NewFile, so that the reads park in the
		// netpoller (exec made them blocking).
		for _, fd := range []int{3 + 2*i, 4 + 2*i} {
			if err := unix.SetNonblock(fd, true); err != nil {
				return fmt.Errorf("loadpeers: eventfd: fd %d not inherited: %w", fd, err)
			}
		}
		req := os.NewFile(uintptr(3+2*i), "req")
		resp := os.NewFile(uintptr(4+2*i), "resp")
		files = append(files, req, resp)
		rreq, err := newRawEventfd(req)
		var rresp *rawEventfd
		if err == nil {
			rresp, err = newRawEventfd(resp)
		}
		if err != nil {
			for _, f := range files {
				f.Close() // ends the echoes started so far
			}
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// The count read (pings since the last read) is
				// echoed as it is.
				if err := rreq.read(); err != nil {
					return
				}
				rresp.buf = rreq.buf
				if err := rresp.write(); err != nil {
					return
				}
			}
		}()
	}
	<-ctx.Done()
	for _, f := range files {
		f.Close() // unblocks the reads
	}
	wg.Wait()
	return nil
}

// rawEventfd reads and writes an eventfd's count with raw system calls,
// the reads parked in the netpoller (deadlines apply): the floor pays
// what shmring's own eventfd calls pay. A read or write through os.File
// goes through the runtime's system-call bookkeeping, which wakes the
// runtime's sysmon thread on the first call after the process idled
// (~40 µs a round trip on a 2-vCPU guest; shmring/SPEC.md §3.1). Built
// once per descriptor, so that a call allocates nothing.
type rawEventfd struct {
	rc      syscall.RawConn
	buf     [8]byte // the count read, or to write
	errno   unix.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr)
}

func newRawEventfd(f *os.File) (*rawEventfd, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("loadpeers: eventfd: %w", err)
	}
	e := &rawEventfd{rc: rc}
	e.readFn = func(fd uintptr) bool {
		_, _, e.errno = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&e.buf[0])), 8)
		return e.errno != unix.EAGAIN
	}
	e.writeFn = func(fd uintptr) {
		_, _, e.errno = unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&e.buf[0])), 8)
	}
	return e, nil
}

// read waits for a count and leaves it in e.buf.
func (e *rawEventfd) read() error {
	if err := e.rc.Read(e.readFn); err != nil {
		return err
	}
	if e.errno != 0 {
		return e.errno
	}
	return nil
}

// write adds e.buf's count to the eventfd.
func (e *rawEventfd) write() error {
	if err := e.rc.Control(e.writeFn); err != nil {
		return err
	}
	if e.errno != 0 {
		return e.errno
	}
	return nil
}
