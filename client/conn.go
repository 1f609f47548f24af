package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// conn is one session with the daemon, multiplexing any number of calls.
type conn struct {
	t    msgConn
	o    *options
	sess uint64

	wmu      sync.Mutex
	wq       []byte // frames queued to write, back to back (under wmu)
	wends    []int  // where each queued frame ends
	wq2      []byte // spare queue buffers, swapped with wq by the flusher
	wends2   []int
	wscratch [][]byte // only the flusher uses it
	flushing bool     // a goroutine is writing the queue
	nextID   uint64   // under wmu: ids are assigned in write order

	mu    sync.Mutex
	calls map[uint64]*pending
	err   error // why the connection is down, under mu

	// Read token (leader/follower, see wait): at most one goroutine reads
	// the transport at a time. Under mu.
	reading bool   // a goroutine holds the read token
	rbuf    []byte // the token holder's read buffer
	// leaders: callers may read the transport themselves (the shared-
	// memory transport, whose Done reports the peer gone while nobody
	// reads). Otherwise the background reader always holds the token.
	leaders bool
	tdone   <-chan struct{} // the transport's Done, or nil
	bgWake  chan struct{}   // cap 1: the token was handed to the background reader
	// kickable: the socket transport, which has no Done: the background
	// reader holds the token whenever nobody else does (a read is the only
	// way to see EOF), and a caller that wants it kicks it out of its read
	// with a past read deadline (the read resumes where it stopped).
	kickable bool
	bgHolds  bool        // under mu: the background reader holds the token
	kicked   bool        // under mu: a kick's past read deadline is set
	heir     *pending    // under mu: the caller that kicked, to get the token
	used     atomic.Bool // a caller led since the background reader last looked
	// leader is the call whose caller holds the read token and reads in
	// lead (only the token holder reads or writes it): delivering its own
	// answer needs no wake-up.
	leader *pending
	// woke: the token holder handed a frame to another waiting goroutine
	// (only the token holder reads or writes it). Before it reads again it
	// yields the P (see yieldIfWoke), or the woken caller would wait behind
	// our spin on the ring.
	woke bool

	// A Batch is sent in chunks of at most batchCalls calls (the daemon's
	// in-flight limit) and batchBytes bytes of frames (a quarter of the
	// ring), each answered before the next goes out (see Client.Do).
	batchCalls, batchBytes int

	// zthreshold: the handshake granted compression, and queued payloads
	// of at least this many bytes are compressed where it pays; 0: off.
	// Set before the connection is used.
	zthreshold int

	dead    atomic.Bool
	closed  atomic.Bool // close was called: calls fail with ErrClosed
	recvd   atomic.Bool // a frame arrived since the heartbeat loop last looked (no clock read per frame)
	done    chan struct{}
	wg      sync.WaitGroup
	closing sync.Once
}

// pending is the state of one call in flight. It is reused through a
// sync.Pool, so a call allocates nothing in steady state.
type pending struct {
	id  uint64
	ch  chan struct{} // cap 1: signals completion or, for streams, new frames
	enc protocol.Encoder
	hb  protocol.Heartbeat // Ping's payload, kept here so encoding it does not allocate

	// Result of a unary call, set before ch is signaled.
	typ     protocol.MsgType
	buf     []byte // the frame holding payload
	payload []byte
	err     error
	done    atomic.Bool // the result above is set

	offered bool // under conn.mu: the read token was handed to this waiter (heir)

	// Streams only.
	stream bool
	smu    sync.Mutex
	queue  []sframe // frames received and not consumed, oldest first
	free   [][]byte // consumed frame buffers to reuse
	ended  bool     // the terminal frame was queued or the call failed
	serr   error
}

var pendings = sync.Pool{New: func() any { return &pending{ch: make(chan struct{}, 1)} }}

func getPending() *pending { return pendings.Get().(*pending) }

func putPending(p *pending) {
	p.err, p.serr, p.payload, p.typ = nil, nil, nil, 0
	p.stream, p.ended, p.offered = false, false, false
	p.done.Store(false)
	clear(p.queue)
	p.queue = p.queue[:0]
	if cap(p.buf) > 64<<10 {
		p.buf = nil
	}
	select { // drain a stale signal
	case <-p.ch:
	default:
	}
	pendings.Put(p)
}

func (p *pending) signal() {
	select {
	case p.ch <- struct{}{}:
	default:
	}
}

// dialConn makes one connection: transport setup then the protocol
// Handshake.
func dialConn(ctx context.Context, path string, o *options) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, o.dialTimeout)
	defer cancel()
	var t msgConn
	var err error
	switch o.transport {
	case protocol.TransportSocket:
		t, err = dialSocket(ctx, path, o)
	case protocol.TransportShm:
		t, err = dialShm(ctx, path, o)
	default:
		return nil, fmt.Errorf("client: unknown transport %v", o.transport)
	}
	if err != nil {
		return nil, err
	}
	c := &conn{t: t, o: o, calls: make(map[uint64]*pending), done: make(chan struct{}), nextID: 1,
		bgWake: make(chan struct{}, 1), rbuf: make([]byte, 0, 4096)}
	if d, ok := t.(interface{ Done() <-chan struct{} }); ok {
		c.leaders, c.tdone = true, d.Done()
	} else if _, ok := t.(*sockConn); ok {
		c.leaders, c.kickable = true, true
	}
	if err := c.handshake(ctx); err != nil {
		t.Close()
		return nil, err
	}
	c.wg.Add(1)
	go c.readLoop()
	if o.hbInterval > 0 {
		c.wg.Add(1)
		go c.heartbeatLoop()
	}
	return c, nil
}

func (c *conn) handshake(ctx context.Context) error {
	tr := c.o.transport
	zt := c.o.compressThreshold()
	hs := protocol.Handshake{
		MinVersion: protocol.ProtocolVersion, MaxVersion: protocol.ProtocolVersion,
		ClientName: c.o.name, Transport: tr, MaxPayload: uint32(c.o.maxPayload),
	}
	if zt > 0 {
		hs.Features = protocol.FeatureZstd
	}
	var e protocol.Encoder
	frame := e.AppendFrame(nil, protocol.FlagRequest, 1, &hs)
	werr := c.t.WriteMsg(ctx, frame)
	// Even if the write failed, a refusal may be waiting to be read: the
	// socket transport refuses by sending an Error frame and closing.
	dl, _ := ctx.Deadline()
	_ = c.t.SetReadDeadline(dl)
	f, _, err := c.t.ReadFrame(ctx, nil)
	_ = c.t.SetReadDeadline(time.Time{})
	if err != nil {
		if errors.Is(err, ErrProtocol) {
			return fmt.Errorf("handshake: %w", err)
		}
		if werr != nil {
			err = werr
		}
		return fmt.Errorf("%w: handshake: %w", ErrUnavailable, err)
	}
	switch {
	case f.Type == protocol.MsgError:
		// The socket transport refuses a connection with an Error frame.
		return fmt.Errorf("%w: %w", ErrRefused, decodeError(f.Payload))
	case f.Type != protocol.MsgHandshakeAck || f.ID != 1:
		return fmt.Errorf("%w: handshake answered with %v", ErrProtocol, f)
	}
	ack, err := protocol.ViewHandshakeAck(f.Payload)
	if err != nil {
		return fmt.Errorf("%w: handshake: %w", ErrProtocol, err)
	}
	if ack.Version() != protocol.ProtocolVersion {
		return fmt.Errorf("%w: daemon chose protocol version %d", ErrProtocol, ack.Version())
	}
	if zt > 0 && ack.Features().Has(protocol.FeatureZstd) {
		// Granted: from now on both directions may be compressed.
		c.zthreshold = zt
		c.t.EnableCompression()
	}
	c.sess = ack.SessionID()
	c.batchCalls = int(ack.MaxInflight())
	if c.batchCalls <= 0 || c.batchCalls > 4096 {
		c.batchCalls = 256
	}
	c.batchBytes = 256 << 10
	if sc, ok := c.t.(*shmConn); ok {
		tx, _ := sc.c.RingSizes()
		c.batchBytes = tx / 4
	}
	return nil
}

// alive reports whether the connection can take calls.
func (c *conn) alive() bool { return !c.dead.Load() }

// remove forgets call id; it reports whether the call was still registered
// (false means the reader already completed it).
func (c *conn) remove(id uint64) bool {
	c.mu.Lock()
	_, ok := c.calls[id]
	delete(c.calls, id)
	c.mu.Unlock()
	return ok
}

// cancel abandons call id: it stops tracking it and tells the daemon.
func (c *conn) cancel(id uint64) bool {
	if !c.remove(id) {
		return false
	}
	c.send(protocol.MsgCancel, id, nil)
	return true
}

// readLoop is the background reader: it reads when the read token is
// handed to it (calls in flight, no caller waiting) and, with the token
// free, when the transport reports the peer gone, so that a dead daemon or
// a Disconnect is noticed on an idle connection. On the socket transport
// it reads whenever nobody else does, and gives the token up when kicked.
// Without leaders it holds the token for good.
func (c *conn) readLoop() {
	defer c.wg.Done()
	if !c.leaders {
		c.mu.Lock()
		c.reading = true
		c.mu.Unlock()
		for c.readOne(context.Background()) == nil {
			c.yieldIfWoke()
		}
		return
	}
	// On the socket transport a timer, not each call, brings the
	// background reader back to an idle connection: waking it after every
	// call would cost more than the call.
	var idle *time.Timer
	var idleC <-chan time.Time
	if c.kickable {
		idle = time.NewTimer(0)
		defer idle.Stop()
		idleC = idle.C
	}
	for {
		gone := false
		select {
		case <-c.bgWake:
		case <-c.tdone:
			gone = true
		case <-idleC:
			if c.used.Swap(false) || !c.idle() {
				idle.Reset(idleGrace)
				continue
			}
		case <-c.done:
			return
		}
		c.mu.Lock()
		if c.reading {
			c.mu.Unlock()
			if idle != nil {
				idle.Reset(idleGrace)
			}
			if gone {
				// The peer is gone and a caller is reading: it will see
				// the end; look again shortly rather than spin on tdone.
				time.Sleep(50 * time.Microsecond)
			}
			continue
		}
		c.reading, c.bgHolds = true, true
		c.mu.Unlock()
		for {
			c.yieldIfWoke()
			err := c.readOne(context.Background())
			c.mu.Lock()
			if err == errKicked {
				if h := c.heir; h != nil {
					c.heir = nil
					c.reading, c.bgHolds = false, false
					h.offered = true
					h.signal()
					c.mu.Unlock()
					idle.Reset(idleGrace)
					break
				}
				c.mu.Unlock()
				continue
			}
			if err != nil {
				c.reading, c.bgHolds = false, false
				c.mu.Unlock()
				return
			}
			if !c.kickable && !gone && len(c.calls) == 0 {
				c.reading, c.bgHolds = false, false
				c.mu.Unlock()
				break
			}
			c.mu.Unlock()
		}
	}
}

// readOne reads and delivers one frame; the caller holds the read token.
// A non-nil error means the connection failed (fail was called), ctx
// ended, or a kick interrupted the read (errKicked).
func (c *conn) readOne(ctx context.Context) error {
	var f protocol.Frame
	var msg []byte
	var err error
	if sc, ok := c.t.(*shmConn); ok {
		f, msg, err = sc.ReadFrame(ctx, c.rbuf[:0]) // a direct call on the hot path
	} else {
		f, msg, err = c.t.ReadFrame(ctx, c.rbuf[:0])
	}
	if err != nil && f.Type != 0 && !errors.Is(err, ErrProtocol) {
		// A response whose payload cannot be decompressed fails its
		// call; the connection goes on (SPEC.md "Bad frames").
		c.rbuf = msg[:0]
		c.failCall(f, err)
		return nil
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		if c.kickable && errors.Is(err, os.ErrDeadlineExceeded) {
			c.mu.Lock()
			if c.kicked {
				c.kicked = false
				_ = c.t.SetReadDeadline(time.Time{})
			}
			c.mu.Unlock()
			return errKicked
		}
		if errors.Is(err, ErrProtocol) {
			c.fail(err)
		} else {
			c.fail(fmt.Errorf("%w: %w", ErrConnLost, err))
		}
		return err
	}
	if !c.recvd.Load() {
		c.recvd.Store(true)
	}
	if f.IsRequest() {
		c.rbuf = msg[:0]
		if f.Type == protocol.MsgDisconnect {
			reason := "daemon disconnected"
			if v, err := protocol.ViewDisconnect(f.Payload); err == nil && len(v.Reason()) > 0 {
				reason += ": " + string(v.Reason())
			}
			err := fmt.Errorf("%w: %s", ErrConnLost, reason)
			c.fail(err)
			return err
		}
		return nil // the daemon sends no other requests; ignore
	}
	if f.ID == 0 {
		err := fmt.Errorf("%w: %w", ErrConnLost, decodeError(f.Payload))
		c.fail(err)
		return err
	}
	next, err := c.deliver(f, msg)
	if err != nil {
		c.fail(err)
		return err
	}
	c.rbuf = next
	return nil
}

// failCall ends the call a response frame f was for with err, for a frame
// whose payload could not be read; a stream call ends with it.
func (c *conn) failCall(f protocol.Frame, err error) {
	if f.IsRequest() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.calls[f.ID]
	if p == nil {
		return
	}
	delete(c.calls, f.ID)
	p.end(err)
	if p != c.leader {
		c.woke = true
	}
	p.signal() // under c.mu, see deliver
}

// end makes err the outcome of the call: a stream ends with it, a one-shot
// call is done with it. The caller holds c.mu and signals p.
func (p *pending) end(err error) {
	if p.stream {
		p.smu.Lock()
		p.serr, p.ended = err, true
		p.smu.Unlock()
		return
	}
	p.err = err
	p.done.Store(true)
}

// deliver hands a response frame (its payload held in msg) to its call
// and returns the buffer to read the next frame into.
func (c *conn) deliver(f protocol.Frame, msg []byte) ([]byte, error) {
	c.mu.Lock()
	p := c.calls[f.ID]
	if p == nil {
		c.mu.Unlock()
		return msg[:0], nil // a late answer to a canceled call
	}
	terminal := !f.IsStream() || f.IsEnd()
	if p.stream {
		p.smu.Lock()
		if len(p.queue) >= protocol.StreamWindow+1 {
			p.smu.Unlock()
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: stream %d exceeded its credit window", ErrProtocol, f.ID)
		}
		p.queue = append(p.queue, sframe{f, msg})
		var next []byte
		if n := len(p.free); n > 0 {
			next = p.free[n-1][:0]
			p.free = p.free[:n-1]
		}
		if terminal {
			p.ended = true
			delete(c.calls, f.ID)
		}
		p.smu.Unlock()
		// Signal under c.mu: the stream's owner takes c.mu before it
		// recycles p, so no signal can land on a recycled pending.
		p.signal()
		c.woke = true
		c.mu.Unlock()
		if next == nil {
			next = make([]byte, 0, 512)
		}
		return next, nil
	}
	delete(c.calls, f.ID)
	c.mu.Unlock()
	next := p.buf[:0]
	p.buf = msg
	p.typ = f.Type
	p.payload = f.Payload
	if f.Type == protocol.MsgError {
		p.err = decodeError(f.Payload)
	}
	p.done.Store(true)
	if p != c.leader {
		p.signal()
		c.woke = true
	}
	if cap(next) == 0 {
		next = make([]byte, 0, 4096)
	}
	return next, nil
}

// fail marks the connection down with err and fails every call in flight.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if c.closed.Load() {
		err = ErrClosed
	}
	c.err = err
	c.dead.Store(true)
	for id, p := range c.calls {
		p.end(err)
		p.signal() // under c.mu, see deliver
		delete(c.calls, id)
	}
	c.mu.Unlock()
	c.closing.Do(func() { close(c.done) })
	c.t.Close()
	if !errors.Is(err, ErrClosed) {
		c.o.logger.Debug("ringwire connection down", "session", c.sess, "err", err)
	}
}

// close sends Disconnect, closes the connection and waits for its
// goroutines.
func (c *conn) close() {
	c.closed.Store(true)
	if c.alive() {
		var e protocol.Encoder
		d := protocol.Disconnect{Reason: "client closed"}
		c.send(protocol.MsgDisconnect, 0, e.Encode(&d))
	}
	c.fail(ErrClosed)
	c.wg.Wait()
}

func (c *conn) downErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return ErrConnLost
	}
	return c.err
}
