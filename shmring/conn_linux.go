package shmring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
	hints  bool // publish CPU hints and unstack after a park (SPEC §3)
	policy WaitPolicy

	rxMu       sync.Mutex
	rx         rxState
	rxWait     *waiter
	rxPred     predictor // waits while the peer was awake
	rxPredRang predictor // waits after a publish that rang the peer
	rxSignal   *doorbell // peer's "space" doorbell: rung after releasing
	peekRef    bool      // a segment reference is held for peeked slices

	txMu     sync.Mutex
	tx       txState
	txWait   *waiter
	txPred   predictor
	txSignal *doorbell     // peer's "data" doorbell: rung after publishing
	txRang   atomic.Uint32 // the last publish rang the peer (read by waitRx)

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
	stSpinHits, stSpinMisses                       atomic.Uint64
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
	rs, err := newDoorbell(rxSpace)
	if err != nil {
		return nil, err
	}
	ts, err := newDoorbell(txData)
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
		hints:       cfg.cpuHints,
		policy:      cfg.waitPolicy,
		rxWait:      rw,
		rxPredRang:  predictor{rang: true},
		rxSignal:    rs,
		txWait:      tw,
		txSignal:    ts,
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
		for _, f := range []*os.File{c.rxWait.f, c.rxSignal.f, c.txWait.f, c.txSignal.f} {
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
		SpinHits:     c.stSpinHits.Load(),
		SpinMisses:   c.stSpinMisses.Load(),
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
