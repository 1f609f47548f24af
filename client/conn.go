package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
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

// sframe is a stream frame received: its payload is in buf, a buffer of
// its own.
type sframe struct {
	f   protocol.Frame
	buf []byte
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

// start registers p under a fresh id and sends the request frame.
//
// Writes are group-committed: a caller queues its frame under wmu and, if
// no other caller is writing, becomes the flusher and writes everything
// queued (its own frame and those queued meanwhile) in one batch, which
// the shared-memory transport publishes with at most one wake-up of the
// daemon. ids are assigned in queue order, so they reach the daemon in
// increasing order.
func (c *conn) start(ctx context.Context, typ protocol.MsgType, payload []byte, p *pending) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.lockLive(); err != nil {
		return err
	}
	c.registerLocked([]*pending{p})
	c.queueLocked(typ, p.id, payload)
	return c.flushLocked()
}

// lockLive takes wmu, unless the connection is down: then it returns the
// (retryable) ErrUnavailable error a call gets.
func (c *conn) lockLive() error {
	c.wmu.Lock()
	if c.dead.Load() {
		c.wmu.Unlock()
		return fmt.Errorf("%w: %w", ErrUnavailable, c.downErr())
	}
	return nil
}

// registerLocked gives each of ps the next id, in order, and registers it
// for its answer; wmu is held, so ids reach the daemon in increasing order.
func (c *conn) registerLocked(ps []*pending) {
	c.mu.Lock()
	for _, p := range ps {
		c.nextID++
		p.id = c.nextID
		c.calls[p.id] = p
	}
	c.mu.Unlock()
}

// queueLocked appends a frame to the write queue; wmu is held.
func (c *conn) queueLocked(typ protocol.MsgType, id uint64, payload []byte) {
	c.wq = protocol.AppendFrameCompress(c.wq, typ, protocol.FlagRequest, id, payload, c.zthreshold)
	c.wends = append(c.wends, len(c.wq))
}

// flushLocked writes the queue unless another goroutine is already doing
// so (it will write our frame too). It is called with wmu held and
// releases it. A failed write fails the whole connection: every call
// queued, sent or not, then ends with the connection's error.
func (c *conn) flushLocked() error {
	if c.flushing {
		c.wmu.Unlock()
		return nil
	}
	c.flushing = true
	var err error
	for len(c.wends) > 0 && err == nil {
		buf, ends := c.wq, c.wends
		c.wq, c.wends = c.wq2[:0], c.wends2[:0]
		c.wmu.Unlock()
		err = c.t.WriteBatch(buf, ends, &c.wscratch)
		c.wmu.Lock()
		if cap(buf) > 64<<10 {
			buf = nil
		}
		c.wq2, c.wends2 = buf[:0], ends[:0]
	}
	c.flushing = false
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("%w: write: %w", ErrConnLost, err))
		// The transport refused the batch: the daemon is gone or the
		// connection closed, so our frame was not served.
		return fmt.Errorf("%w: write: %w", ErrUnavailable, err)
	}
	return nil
}

// send writes a frame that is not a new request (Cancel, credit).
func (c *conn) send(typ protocol.MsgType, id uint64, payload []byte) {
	c.wmu.Lock()
	if c.dead.Load() {
		c.wmu.Unlock()
		return
	}
	c.queueLocked(typ, id, payload)
	_ = c.flushLocked()
}

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

// grant gives the daemon n more credits on stream id.
func (c *conn) grant(id uint64, n int) {
	var b [protocol.CreditSize]byte
	c.send(protocol.MsgCredit, id, protocol.AppendCredit(b[:0], uint32(n)))
}

// wait waits for unary call p; on ctx's end it cancels the call.
//
// Leader/follower: a waiting caller that finds nobody reading the
// transport takes the read token and reads itself, delivering other calls'
// frames to them, until its own answer arrives; then, if calls remain in
// flight, it hands the token to the background reader, which keeps it
// until no call is left. So a lone caller is woken by the transport itself,
// not by another goroutine; under load the background reader stays hot;
// and only one goroutine per connection spins on the ring. On the socket
// transport the background reader holds the token whenever nobody else
// does; a caller then kicks it (see kickLocked) and becomes its heir.
func (c *conn) wait(ctx context.Context, p *pending) error { return c.waitHold(ctx, p, false) }

// waitHold is wait; with hold, a caller that leads keeps the read token
// when p is answered instead of handing it to the background reader (it
// is about to wait for another call of its batch, see waitBatch, and
// hands the token on itself). The socket transport ignores hold.
func (c *conn) waitHold(ctx context.Context, p *pending, hold bool) error {
	for !p.done.Load() {
		if c.leaders {
			c.mu.Lock()
			if !c.reading && !p.done.Load() {
				c.reading = true
				c.leaveLocked(p)
				c.mu.Unlock()
				if err := c.lead(ctx, p, hold && !c.kickable); err != nil {
					return c.abandon(ctx, p)
				}
				continue
			}
			if c.kickable && c.bgHolds && c.heir == nil && !p.done.Load() {
				c.heir = p
				c.kickLocked()
			}
			c.mu.Unlock()
		}
		if done := ctx.Done(); done == nil {
			<-p.ch // a plain receive is cheaper than a select
		} else {
			select {
			case <-p.ch:
			case <-done:
				return c.abandon(ctx, p)
			}
		}
	}
	if c.kickable {
		c.mu.Lock()
		c.leaveLocked(p)
		c.mu.Unlock()
	}
	return p.err
}

// abandon ends a wait whose ctx is done: it cancels the call unless its
// answer is already being delivered.
func (c *conn) abandon(ctx context.Context, p *pending) error {
	if c.kickable {
		c.mu.Lock()
		c.leaveLocked(p)
		c.mu.Unlock()
	}
	if c.cancel(p.id) {
		return ctx.Err()
	}
	// The call was completed (or failed) by a reader right now; its
	// result is set before done.
	for !p.done.Load() {
		<-p.ch
	}
	return p.err
}

// leaveLocked forgets p as the heir; if the token was handed to p and is
// still free, it is passed on.
func (c *conn) leaveLocked(p *pending) {
	if c.heir == p {
		c.heir = nil
	}
	if p.offered {
		p.offered = false
		if !c.reading {
			c.passLocked()
		}
	}
}

// kickLocked makes the reader's blocked read (socket transport) return
// os.ErrDeadlineExceeded by setting a read deadline in the past; the
// reader that sees it clears it (readOne).
func (c *conn) kickLocked() {
	if c.kickable && !c.kicked {
		c.kicked = true
		_ = c.t.SetReadDeadline(time.Unix(1, 0))
	}
}

// kick makes sure somebody reads the transport for a call no caller will
// lead (a stream).
func (c *conn) kick() {
	c.mu.Lock()
	if c.leaders && !c.reading {
		c.passLocked()
	}
	c.mu.Unlock()
}

// passLocked hands the free read token to the background reader when calls
// are in flight.
func (c *conn) passLocked() {
	if len(c.calls) > 0 {
		select {
		case c.bgWake <- struct{}{}:
		default:
		}
	}
}

// idleGrace is how often the socket transport's background reader looks
// whether the connection went idle (no call in flight, nobody reading, no
// caller led since it last looked); then it reads, to see EOF or a
// Disconnect, until a caller kicks it. So a dead daemon is noticed within
// about two idleGrace on an idle connection, while calls in quick
// succession read for themselves without kicks.
const idleGrace = time.Millisecond

// idle reports whether no call is in flight and nobody reads.
func (c *conn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls) == 0 && !c.reading
}

// errKicked is readOne's answer when a kick interrupted the read.
var errKicked = errors.New("client: read interrupted")

// lead reads frames while holding the read token until p is answered, the
// connection fails or ctx ends (then it returns ctx's error). It releases
// the token and, unless hold is set and p was answered, hands it to the
// background reader when calls are in flight.
func (c *conn) lead(ctx context.Context, p *pending, hold bool) error {
	var stop func() bool
	if c.kickable && ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() {
			c.mu.Lock()
			c.kickLocked()
			c.mu.Unlock()
		})
	}
	if c.kickable && !c.used.Load() {
		c.used.Store(true)
	}
	var err error
	c.leader = p
	for !p.done.Load() {
		c.yieldIfWoke()
		err = c.readOne(ctx)
		if err == errKicked {
			if err = ctx.Err(); err != nil {
				break
			}
			continue
		}
		if err != nil {
			break
		}
	}
	c.leader = nil
	if stop != nil {
		stop()
	}
	c.mu.Lock()
	c.reading = false
	if !hold || err != nil {
		c.passLocked()
	}
	c.mu.Unlock()
	if err != nil && !p.done.Load() && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
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

// yieldIfWoke lets the goroutines the token holder just handed answers to
// run before it reads (and spins) again: Go queues a woken goroutine on
// the waker's P, and another P takes it over only after a few
// microseconds. Only the shared-memory transport spins; a socket read
// blocks, which lets them run anyway. The caller holds the read token.
func (c *conn) yieldIfWoke() {
	if c.woke {
		c.woke = false
		if !c.kickable {
			runtime.Gosched()
		}
	}
}

// readOne reads and delivers one frame; the caller holds the read token.
// A non-nil error means the connection failed (fail was called), ctx
// ended, or a kick interrupted the read (errKicked).
func (c *conn) readOne(ctx context.Context) error {
	f, msg, err := c.t.ReadFrame(ctx, c.rbuf[:0])
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
// whose payload could not be read; the stream flag tells whether a
// stream ends with it.
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
	if p.stream {
		p.smu.Lock()
		p.serr, p.ended = err, true
		p.smu.Unlock()
	} else {
		p.err = err
		p.done.Store(true)
	}
	if p != c.leader {
		c.woke = true
	}
	p.signal() // under c.mu, see deliver
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
		if p.stream {
			p.smu.Lock()
			p.serr, p.ended = err, true
			p.smu.Unlock()
		} else {
			p.err = err
			p.done.Store(true)
		}
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

// heartbeatLoop pings the daemon when the connection has been quiet for a
// heartbeat interval, and declares it lost when a ping goes unanswered.
func (c *conn) heartbeatLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.o.hbInterval / 2)
	defer tick.Stop()
	lastRecv := time.Now()
	for {
		var now time.Time
		select {
		case <-c.done:
			return
		case now = <-tick.C:
		}
		if c.recvd.Swap(false) {
			lastRecv = now
		}
		if now.Sub(lastRecv) < c.o.hbInterval {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.o.hbTimeout)
		_, err := c.ping(ctx)
		cancel()
		if err != nil && !c.dead.Load() {
			c.fail(fmt.Errorf("%w: no heartbeat answer within %v", ErrConnLost, c.o.hbTimeout))
			return
		}
	}
}

// ping sends a Heartbeat and waits for its answer.
func (c *conn) ping(ctx context.Context) (time.Duration, error) {
	p := getPending()
	start := time.Now()
	p.hb = protocol.Heartbeat{SentUnixNano: start.UnixNano()}
	err := c.start(ctx, protocol.MsgHeartbeat, p.enc.Encode(&p.hb), p)
	if err == nil {
		err = c.wait(ctx, p)
	}
	rtt := time.Since(start)
	if err == nil && p.typ != protocol.MsgHeartbeat {
		err = fmt.Errorf("%w: Heartbeat answered with %v", ErrProtocol, p.typ)
	}
	putPending(p)
	return rtt, err
}

func (c *conn) downErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return ErrConnLost
	}
	return c.err
}
