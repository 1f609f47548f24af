package shmring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Conn state bits.
const (
	stClosed   = 1 << iota // Close was called
	stFailed               // corruption or a fatal error; err holds it
	stPeerDown             // the peer's socket reached EOF
)

// Conn is one shared-memory connection: two rings in a sealed memfd, the
// eventfd doorbells, and the Unix socket kept open as the liveness signal.
//
// It offers two views. As a net.Conn it is a byte stream laid over records
// (Read, Write, deadlines, Close). Its message API keeps message boundaries:
// WriteMsg/ReadMsg copy, Reserve/Commit and Peek/Release are zero-copy.
// Within one direction, use one view only: a Read that stops inside a
// record and a ReadMsg after it would see a message cut in two.
//
// All methods are safe for concurrent use; calls on the same direction are
// serialized. Deadlines (SetReadDeadline, SetWriteDeadline) apply to both
// views; the *Context variants also honour their context.
type Conn struct {
	sock   *net.UnixConn
	seg    *segment
	peer   PeerInfo
	laddr  net.Addr
	raddr  net.Addr
	maxMsg int

	rxMu     sync.Mutex
	rx       rxState
	rxWait   *waiter
	rxSignal *os.File // peer's "space" doorbell: rung after releasing
	peekRef  bool     // a segment reference is held for peeked slices

	txMu     sync.Mutex
	tx       txState
	txWait   *waiter
	txSignal *os.File // peer's "data" doorbell: rung after publishing

	rdl, wdl atomic.Int64 // deadlines in Unix ns, 0 = none

	state       atomic.Uint32
	errMu       sync.Mutex
	err         error // first fatal error (stFailed)
	peerClosed  bool  // the peer closed its ring before its socket
	done        chan struct{}
	doneOnce    sync.Once
	closeOnce   sync.Once
	monitorDone chan struct{}

	stSent, stRecv, stParks, stWakeups, stUnstacks atomic.Uint64
}

func newConn(sock *net.UnixConn, mem []byte, l layout, txRing int, rxData, rxSpace, txData, txSpace *os.File, peer PeerInfo, cfg *config) (*Conn, error) {
	rw, err := newWaiter(rxData, cfg.spin)
	if err != nil {
		return nil, err
	}
	tw, err := newWaiter(txSpace, cfg.spin)
	if err != nil {
		return nil, err
	}
	maxMsg := max(cfg.maxMessage, 0)
	c := &Conn{
		sock:        sock,
		seg:         newSegmentRef(mem),
		peer:        peer,
		laddr:       sock.LocalAddr(),
		raddr:       sock.RemoteAddr(),
		maxMsg:      maxMsg,
		rxWait:      rw,
		rxSignal:    rxSpace,
		txWait:      tw,
		txSignal:    txData,
		done:        make(chan struct{}),
		monitorDone: make(chan struct{}),
	}
	c.rx = rxState{consumer: consumer{ringView: newRingView(mem, l, 1-txRing)}, maxMsg: uint64(maxMsg)}
	c.tx = txState{producer: producer{ringView: newRingView(mem, l, txRing)}, maxMsg: uint64(maxMsg), reserved: -1}
	go c.monitor()
	return c, nil
}

// monitor waits for the socket to reach EOF: the peer closed or died.
func (c *Conn) monitor() {
	defer close(c.monitorDone)
	var b [64]byte
	n, err := c.sock.Read(b[:])
	if c.state.Load()&stClosed != 0 {
		return
	}
	if err == nil && n > 0 {
		c.fail(fmt.Errorf("%w: unexpected bytes on the socket after setup", ErrCorrupt))
	}
	c.errMu.Lock()
	c.peerClosed = c.rx.closed.Load() == 1
	c.errMu.Unlock()
	c.state.Or(stPeerDown)
	c.closeDone()
	c.rxWait.wake()
	c.txWait.wake()
}

func (c *Conn) closeDone() { c.doneOnce.Do(func() { close(c.done) }) }

// fail ends the connection with err (the first error wins): the socket is
// closed so that the peer sees this side gone, and waiters are woken.
func (c *Conn) fail(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
	c.state.Or(stFailed)
	_ = c.sock.Close()
	c.closeDone()
	c.rxWait.wake()
	c.txWait.wake()
}

// rxErr is the error a read returns once the ring is drained.
func (c *Conn) rxErr(st uint32) error { return c.downErr(st, io.EOF) }

// txErr is the error a write returns once the connection is down.
func (c *Conn) txErr(st uint32) error { return c.downErr(st, ErrPeerClosed) }

// downErr is the error for a connection in state st: closed here, failed
// (the recorded error), or down on the peer's side — closedByPeer when the
// peer closed it, ErrPeerGone when it died.
func (c *Conn) downErr(st uint32, closedByPeer error) error {
	if st&stClosed != 0 {
		return net.ErrClosed
	}
	c.errMu.Lock()
	defer c.errMu.Unlock()
	switch {
	case st&stFailed != 0:
		return c.err
	case c.peerClosed:
		return closedByPeer
	}
	return ErrPeerGone
}

func expired(dl *atomic.Int64) bool {
	d := dl.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

// waitRx waits until the receive ring holds something, the connection goes
// down, the deadline passes or ctx is done. Called with rxMu held.
func (c *Conn) waitRx(ctx context.Context) error {
	w, r := c.rxWait, &c.rx.consumer
	ready := func() (bool, error) {
		e, err := r.empty()
		return !e, err
	}
	return c.failOnCorrupt(c.wait(ctx, w, &c.rdl, r.consParked, r.prodCPU, ready, c.rxErr))
}

// waitTx waits until the consumer released space. Called with txMu held.
func (c *Conn) waitTx(ctx context.Context) error {
	w, p := c.txWait, &c.tx.producer
	ready := func() (bool, error) { return p.cons.Load() != p.consSeen, nil }
	return c.failOnCorrupt(c.wait(ctx, w, &c.wdl, p.prodParked, p.consCPU, ready, c.txErr))
}

// failOnCorrupt ends the connection when a wait found a corrupt position.
func (c *Conn) failOnCorrupt(err error) error {
	if err != nil && errors.Is(err, ErrCorrupt) && c.state.Load()&stFailed == 0 {
		c.fail(err)
	}
	return err
}

// gsFirst is how long a wait spins before its first runtime.Gosched; the
// next ones come at doubling times.
const gsFirst = 16 * time.Microsecond

// wait is the spin-then-park loop (SPEC.md, "Wake-ups"): spin on ready for a
// bounded, adaptive time; then set the parked flag, re-check, and block in
// the netpoller on the eventfd. The flag store and the re-check are
// sequentially consistent, as are the peer's position store and flag load,
// so a signal cannot be lost. After a park it moves the thread off the CPU
// the peer woke it from (wakerCPU, the peer's hint; see unstack).
func (c *Conn) wait(ctx context.Context, w *waiter, dl *atomic.Int64, parked interface {
	Store(uint32)
	Swap(uint32) uint32
}, wakerCPU *atomic.Uint32, ready func() (bool, error), downErr func(uint32) error) error {
	down := func() error {
		st := c.state.Load()
		if st == 0 {
			return nil
		}
		if st&stPeerDown != 0 && st&(stClosed|stFailed) == 0 {
			// Whatever the peer published before it went is still readable.
			if ok, err := ready(); ok || err != nil {
				return err
			}
		}
		return downErr(st)
	}
	var start time.Time
	if w.spin > 0 {
		start = time.Now()
		gsAt := gsFirst
		for i := 1; ; i++ {
			if ok, err := ready(); ok || err != nil {
				return err
			}
			if c.state.Load() != 0 {
				break
			}
			if i&63 != 0 {
				continue
			}
			spun := time.Since(start)
			if spun >= w.spin {
				break
			}
			// Now and then, not in a short wait, let this process's other
			// runnable goroutines (other connections, handlers) have the
			// P. A Gosched with nothing else runnable is not free: the
			// runtime wakes an idle P's thread to look for work (a futex
			// wake-up, and CPU taken from the peer in the middle of the
			// exchange we wait for). A caller that just readied
			// goroutines of its own yields itself before it waits (the
			// client's reader after handing answers over, the daemon
			// after starting handlers). The CPU is not yielded to other
			// threads (sched_yield) while spinning: with two processes
			// spinning on two CPUs a yield lets the kernel stack both on
			// one CPU, taking turns at each yield; a yield every 256
			// probes (~8 µs) made the ring's round-trip p99 ~9 µs, a yield
			// after 16 µs made the client's ~60 µs; with none it is 1-4 µs.
			if spun >= gsAt {
				runtime.Gosched()
				gsAt *= 2
			}
		}
	}
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if err := down(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, w.wakeFn)
		}
		if expired(dl) {
			return os.ErrDeadlineExceeded
		}
		// Swap, not Store: the flag must be visible before ready re-reads
		// the position (a full fence even under the race detector, whose
		// atomic stores are release-only).
		parked.Swap(1)
		if ok, err := ready(); ok || err != nil {
			parked.Store(0)
			return err
		}
		if err := down(); err != nil {
			parked.Store(0)
			return err
		}
		c.stParks.Add(1)
		err := w.park()
		parked.Store(0)
		if err == nil && unstack(wakerCPU) {
			c.stUnstacks.Add(1)
		}
		if !start.IsZero() {
			w.adapt(time.Since(start))
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return os.ErrDeadlineExceeded
			}
			if st := c.state.Load(); st != 0 {
				return downErr(st)
			}
			return fmt.Errorf("shmring: park: %w", err)
		}
		if ok, err := ready(); ok || err != nil {
			return err
		}
	}
}

// rxBegin checks the read side before a call. Called with rxMu held.
func (c *Conn) rxBegin(ctx context.Context) error {
	if st := c.state.Load(); st&(stClosed|stFailed) != 0 {
		return c.rxErr(st)
	}
	if expired(&c.rdl) {
		return os.ErrDeadlineExceeded
	}
	return ctx.Err()
}

// txBegin checks the write side before a call. Called with txMu held.
func (c *Conn) txBegin(ctx context.Context) error {
	if st := c.state.Load(); st != 0 {
		return c.txErr(st)
	}
	if expired(&c.wdl) {
		return os.ErrDeadlineExceeded
	}
	if c.tx.reserved >= 0 {
		return ErrPending
	}
	return ctx.Err()
}

// rxFail turns a ring error into a connection failure.
func (c *Conn) rxFail(err error) error {
	if errors.Is(err, ErrPending) {
		return err
	}
	c.fail(err)
	return err
}

// releaseRx publishes consumed records and rings the peer if it is parked.
func (c *Conn) releaseRx() {
	if c.rx.release() {
		c.stWakeups.Add(1)
		c.rx.consCPU.Store(cpuHint())
		signal(c.rxSignal)
	}
}

// releaseRxLazy publishes consumed records only once an eighth of the ring
// has built up or the producer is parked waiting for space. A release is a
// store to a cache line the producer reads: made per message, it costs a
// cache-line transfer per message. Whoever is about to wait calls releaseRx,
// so consumed space is never held while this side blocks.
func (c *Conn) releaseRxLazy() {
	if c.rx.pos-c.rx.released >= c.rx.capacity/8 || c.rx.prodParked.Load() != 0 {
		c.releaseRx()
	}
}

// publishTx publishes written records and rings the peer if it is parked.
func (c *Conn) publishTx() {
	if c.tx.publish() {
		c.stWakeups.Add(1)
		c.tx.prodCPU.Store(cpuHint())
		signal(c.txSignal)
	}
}

// dropPeeks forgets peeked messages (their records are released with the
// next releaseRx) and the segment reference they held.
func (c *Conn) dropPeeks() {
	c.rx.peeked = 0
	if c.peekRef {
		c.peekRef = false
		c.seg.release()
	}
}

// Read reads stream bytes (net.Conn). It returns as soon as some bytes are
// available; after the peer closed, it drains the ring and returns io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	if err := c.rxBegin(context.Background()); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.dropPeeks()
	for {
		n, err := c.rx.readStream(p)
		if err != nil {
			return 0, c.rxFail(err)
		}
		if n > 0 {
			c.releaseRxLazy()
			return n, nil
		}
		c.releaseRx()
		if err := c.waitRx(context.Background()); err != nil {
			return 0, err
		}
	}
}

// Write writes p as a byte stream (net.Conn), in records of at most half
// the ring. If the write deadline passes it returns the bytes committed so
// far (whole records only) and a timeout error.
func (c *Conn) Write(p []byte) (int, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if err := c.txBegin(context.Background()); err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) {
		chunk := p[n:min(len(p), n+int(c.tx.maxPayload))]
		ok, err := c.tx.writeRecord(kindMsg, 0, false, chunk)
		if err != nil {
			c.fail(err)
			return n, err
		}
		if !ok {
			if err := c.waitTx(context.Background()); err != nil {
				return n, err
			}
			continue
		}
		c.publishTx()
		n += len(chunk)
		c.stSent.Add(1)
	}
	return n, nil
}

// ReadMsg copies the next whole message into buf[:0] (reusing its capacity;
// growing it only if the message does not fit) and returns it. A fragmented
// message is reassembled. It honours the read deadline; after the peer
// closed, it returns io.EOF once the ring is drained. ReadMsg releases any
// message returned by Peek.
func (c *Conn) ReadMsg(buf []byte) ([]byte, error) {
	return c.ReadMsgContext(context.Background(), buf)
}

// ReadMsgContext is ReadMsg that also gives up when ctx is done, returning
// ctx.Err().
func (c *Conn) ReadMsgContext(ctx context.Context, buf []byte) ([]byte, error) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	if err := c.rxBegin(ctx); err != nil {
		return buf[:0], err
	}
	c.dropPeeks()
	for {
		out, ok, err := c.rx.readMsg(buf)
		if err != nil {
			return buf[:0], c.rxFail(err)
		}
		if ok {
			c.releaseRxLazy()
			c.stRecv.Add(1)
			return out, nil
		}
		c.releaseRx()
		if err := c.waitRx(ctx); err != nil {
			return buf[:0], err
		}
	}
}

// Peek returns the next message without copying it: a slice straight into
// shared memory, valid until Release (or until ReadMsg or Read, which
// release it too). Calling Peek again before Release returns the following
// message, so a batch can be peeked and released at once. A fragmented
// message is reassembled into a private buffer instead, valid until the next
// call; it can only be peeked when no other peeked message is pending
// (otherwise ErrPending). The bytes may change under the reader if the peer
// misbehaves: copy what must be verified before use.
func (c *Conn) Peek() ([]byte, error) { return c.PeekContext(context.Background()) }

// PeekContext is Peek that also gives up when ctx is done.
func (c *Conn) PeekContext(ctx context.Context) ([]byte, error) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	return c.peekWait(ctx)
}

// peekWait peeks, waiting for a message. Called with rxMu held.
func (c *Conn) peekWait(ctx context.Context) ([]byte, error) {
	if err := c.rxBegin(ctx); err != nil {
		return nil, err
	}
	for {
		msg, ok, err := c.peekLocked()
		if ok || err != nil {
			return msg, err
		}
		if c.rx.peeked == 0 {
			c.releaseRx() // fragments consumed so far
		}
		if err := c.waitRx(ctx); err != nil {
			return nil, err
		}
	}
}

func (c *Conn) peekLocked() ([]byte, bool, error) {
	before := c.rx.peeked
	msg, ok, err := c.rx.peek()
	if err != nil {
		return nil, false, c.rxFail(err)
	}
	if !ok {
		return nil, false, nil
	}
	c.stRecv.Add(1)
	if c.rx.peeked > before && !c.peekRef {
		c.seg.acquire()
		c.peekRef = true
	} else if c.rx.peeked == 0 {
		c.releaseRx() // a reassembled message: its fragments are copied
	}
	return msg, true, nil
}

// PeekBatch waits for at least one message, then appends to dst every whole
// message readable without waiting, as zero-copy slices valid until Release.
// It stops before a fragmented message unless that is the first one.
func (c *Conn) PeekBatch(dst [][]byte) ([][]byte, error) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	msg, err := c.peekWait(context.Background())
	if err != nil {
		return dst, err
	}
	dst = append(dst, msg)
	if c.rx.peeked == 0 {
		return dst, nil // a reassembled message stands alone
	}
	for c.state.Load()&(stClosed|stFailed) == 0 {
		msg, ok, err := c.peekLocked()
		if err != nil {
			if errors.Is(err, ErrPending) {
				err = nil // the next message is fragmented: left for later
			}
			return dst, err
		}
		if !ok {
			break
		}
		dst = append(dst, msg)
	}
	return dst, nil
}

// Release frees every message returned by Peek since the last Release,
// letting the peer reuse their space. The slices must not be used after.
func (c *Conn) Release() {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	if c.state.Load()&stClosed == 0 {
		c.releaseRx()
	}
	c.dropPeeks()
}

// WriteMsg writes p as one message. A message larger than a record (half
// the ring) is fragmented and reassembled by the reader. It honours the
// write deadline: if it passes before the whole message is committed, the
// reader never sees a partial message.
func (c *Conn) WriteMsg(p []byte) error { return c.WriteMsgContext(context.Background(), p) }

// WriteMsgContext is WriteMsg that also gives up when ctx is done.
func (c *Conn) WriteMsgContext(ctx context.Context, p []byte) error {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if err := c.txBegin(ctx); err != nil {
		return err
	}
	if err := c.writeMsgLocked(ctx, p, true); err != nil {
		return err
	}
	return nil
}

// writeMsgLocked writes one message; publish=false leaves a whole-record
// message unpublished (WriteMsgs publishes the batch).
func (c *Conn) writeMsgLocked(ctx context.Context, p []byte, publish bool) error {
	if len(p) > c.maxMsg {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(p), c.maxMsg)
	}
	done := 0
	for {
		kind, chunk, withTotal := c.tx.fragment(p, done)
		ok, err := c.tx.writeRecord(kind, uint64(len(p)), withTotal, chunk)
		if err != nil {
			c.fail(err)
			return err
		}
		if !ok {
			c.publishTx()
			if err := c.waitTx(ctx); err != nil {
				return err
			}
			continue
		}
		done += len(chunk)
		if kind != kindMsg || publish {
			c.publishTx()
		}
		if kind == kindMsg || kind == kindLast {
			c.stSent.Add(1)
			return nil
		}
	}
}

// WriteMsgs writes each element of msgs as one message, publishing them to
// the reader together (one position store, at most one wake-up) whenever
// they fit. It returns the number of messages fully written.
func (c *Conn) WriteMsgs(msgs [][]byte) (int, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if err := c.txBegin(context.Background()); err != nil {
		return 0, err
	}
	for i, m := range msgs {
		if err := c.writeMsgLocked(context.Background(), m, false); err != nil {
			c.publishTx()
			return i, err
		}
	}
	c.publishTx()
	return len(msgs), nil
}

// MaxRecord is the largest message Reserve can hold: half the capacity of
// the ring this side writes, minus the 8-byte record header.
func (c *Conn) MaxRecord() int { return int(c.tx.maxPayload) }

// Reserve returns n bytes of the transmit ring to write a message in place;
// Commit publishes it. n is at most MaxRecord (ErrTooLarge otherwise). It
// waits for room as a write does, honouring the write deadline. Until
// Commit, other writes fail with ErrPending.
func (c *Conn) Reserve(n int) ([]byte, error) { return c.ReserveContext(context.Background(), n) }

// ReserveContext is Reserve that also gives up when ctx is done.
func (c *Conn) ReserveContext(ctx context.Context, n int) ([]byte, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if err := c.txBegin(ctx); err != nil {
		return nil, err
	}
	if n < 0 || uint64(n) > c.tx.maxPayload || n > c.maxMsg {
		return nil, fmt.Errorf("%w: reserve %d bytes, a record holds %d", ErrTooLarge, n, c.tx.maxPayload)
	}
	for {
		off, ok, err := c.tx.reserve(uint64(n))
		if err != nil {
			c.fail(err)
			return nil, err
		}
		if ok {
			c.seg.acquire()
			c.tx.reserved, c.tx.resOff = int64(n), off
			return c.tx.data[off+recHdr : off+recHdr+uint64(n) : off+recHdr+uint64(n)], nil
		}
		if err := c.waitTx(ctx); err != nil {
			return nil, err
		}
	}
}

// Commit publishes the first n bytes of the space returned by Reserve as one
// message (n may be smaller than reserved).
func (c *Conn) Commit(n int) error {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if c.tx.reserved < 0 || n < 0 || int64(n) > c.tx.reserved {
		return ErrNoReservation
	}
	c.tx.reserved = -1
	defer c.seg.release()
	if st := c.state.Load(); st != 0 {
		return c.txErr(st)
	}
	c.tx.put(c.tx.resOff, uint64(n), kindMsg)
	c.publishTx()
	c.stSent.Add(1)
	return nil
}

// Close closes the connection: pending calls return, the peer's reads
// return io.EOF once they drained the ring, and the memory is unmapped
// (after the last Peek is released or Reserve committed, if any remain).
// Calling Close again returns net.ErrClosed.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = nil
		c.state.Or(stClosed)
		c.tx.closed.Store(1)
		_ = c.sock.Close()
		c.rxWait.wake()
		c.txWait.wake()
		c.rxMu.Lock()
		c.txMu.Lock()
		for _, f := range []*os.File{c.rxWait.f, c.rxSignal, c.txWait.f, c.txSignal} {
			_ = f.Close()
		}
		c.txMu.Unlock()
		c.rxMu.Unlock()
		<-c.monitorDone
		c.closeDone()
		c.seg.release()
	})
	return err
}

// Done returns a channel closed when the connection is closed, failed, or
// its peer is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err reports why the connection is down: nil while it is up, net.ErrClosed
// after Close, the first ErrCorrupt/ErrTooLarge failure, io.EOF when the peer
// closed normally, or ErrPeerGone when it vanished.
func (c *Conn) Err() error {
	st := c.state.Load()
	if st == 0 {
		return nil
	}
	return c.rxErr(st)
}

// PeerInfo reports the peer's credentials, from SO_PEERCRED at setup.
func (c *Conn) PeerInfo() PeerInfo { return c.peer }

// RingSizes reports the granted capacities: the ring this side writes and
// the ring it reads.
func (c *Conn) RingSizes() (tx, rx int) { return int(c.tx.capacity), int(c.rx.capacity) }

// Stats returns a snapshot of ring occupancy and counters.
func (c *Conn) Stats() Stats {
	s := Stats{
		TxCapacity:   c.tx.capacity,
		RxCapacity:   c.rx.capacity,
		MsgsSent:     c.stSent.Load(),
		MsgsReceived: c.stRecv.Load(),
		Parks:        c.stParks.Load(),
		Wakeups:      c.stWakeups.Load(),
		Unstacks:     c.stUnstacks.Load(),
	}
	if c.seg.acquire() {
		s.TxUsed, s.RxUsed = c.tx.used(), c.rx.used()
		s.TxPosition, s.RxPosition = c.tx.prod.Load(), c.rx.cons.Load()
		c.seg.release()
	}
	return s
}

// LocalAddr returns the Unix socket address of this side.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the Unix socket address of the peer.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets both the read and the write deadline.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for Read, ReadMsg and Peek, including
// calls already blocked. A zero t means none. Expired calls return
// os.ErrDeadlineExceeded, a net.Error whose Timeout() is true.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(&c.rdl, c.rxWait.f, t)
}

// SetWriteDeadline sets the deadline for Write, WriteMsg and Reserve,
// including calls already blocked.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(&c.wdl, c.txWait.f, t)
}

func (c *Conn) setDeadline(dl *atomic.Int64, f *os.File, t time.Time) error {
	if c.state.Load()&stClosed != 0 {
		return net.ErrClosed
	}
	if t.IsZero() {
		dl.Store(0)
	} else {
		dl.Store(max(t.UnixNano(), 1))
	}
	if err := f.SetReadDeadline(t); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

var _ net.Conn = (*Conn)(nil)
