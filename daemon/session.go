package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// errDisconnect ends a session cleanly when the client sends Disconnect.
var errDisconnect = errors.New("daemon: client disconnected")

// sessionError is a fatal error to report to the client in an Error frame
// before the session closes.
type sessionError struct {
	code protocol.ErrorCode
	err  error
}

func (e *sessionError) Error() string { return e.err.Error() }
func (e *sessionError) Unwrap() error { return e.err }

func fatal(code protocol.ErrorCode, format string, args ...any) error {
	return &sessionError{code: code, err: fmt.Errorf(format, args...)}
}

// session serves one client connection.
type session struct {
	srv  *Server
	m    *metrics // srv.m: nil when metrics are off
	fc   frameConn
	info SessionInfo
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc

	started time.Time
	stats   func() (txUsed, txCap, rxUsed, rxCap uint64)

	// Reader goroutine state.
	handshaken atomic.Bool
	lastID     uint64

	wmu     sync.Mutex
	wclosed bool

	// Compression, once the handshake granted protocol.FeatureZstd:
	// compressed frames are accepted (zgranted) and the reader's queued
	// answers are compressed from zthreshold bytes (0: never). zbuf holds
	// the payload of the last compressed message (shared memory). Only
	// the reader goroutine touches them.
	zgranted   bool
	zthreshold int
	zbuf       []byte

	// Reader-side response batch: frames answered in the reader goroutine
	// (Heartbeat, inline handlers) are queued here and written together
	// when no more input is waiting (one ring publish, one wake-up).
	// Only the reader goroutine touches them.
	rq     []byte
	rends  []int
	icall  *call // reused for inline handlers
	peeked [][]byte
	renc   protocol.Encoder   // the reader's encoder (heartbeats)
	rhb    protocol.Heartbeat // the reader's heartbeat answer, kept here so encoding it does not allocate
	rnow   int64              // the clock (UnixNano) for the heartbeats of the messages read at once; 0: not read yet
	// spawned: the reader started handler goroutines since it last
	// yielded; it yields the P before it waits for more (serveBatches), or
	// they would wait behind its spin on the ring.
	spawned bool

	mu       sync.Mutex
	calls    map[uint64]*call
	requests atomic.Uint64
	inflight atomic.Int64
	handlers sync.WaitGroup

	closeOnce sync.Once
	done      chan struct{}
}

func newSession(srv *Server, fc frameConn, info SessionInfo) *session {
	ctx, stop := context.WithCancel(context.Background())
	return &session{
		srv:     srv,
		m:       srv.m,
		fc:      fc,
		info:    info,
		log:     srv.log.With("session", info.ID, "transport", info.Transport.String()),
		ctx:     ctx,
		stop:    stop,
		started: time.Now(),
		calls:   make(map[uint64]*call),
		done:    make(chan struct{}),
	}
}

// serve reads frames until the connection ends or a frame is bad.
func (s *session) serve() {
	defer s.close()
	t := time.AfterFunc(s.srv.cfg.HandshakeTimeout, func() {
		if !s.handshaken.Load() {
			s.log.Warn("no handshake in time; closing", "timeout", s.srv.cfg.HandshakeTimeout)
			s.fc.Close()
		}
	})
	defer t.Stop()
	if bc, ok := s.fc.(batchConn); ok {
		// The private copy of each message starts empty and grows to
		// the largest message served: an idle session (most of an
		// editor's) holds a few bytes instead of 4 KiB; a busy one
		// reaches its size within its first messages and then reuses it.
		s.serveBatches(bc, nil)
		return
	}
	fr, ok := s.fc.(frameReader)
	if !ok {
		s.finish(errPeerGone)
		return
	}
	for {
		f, err := fr.ReadFrame()
		s.rnow = 0
		switch {
		case err == nil:
			err = s.handleFrame(f)
		case f.Type != 0:
			// The frame was read but its payload refused.
			err = s.badPayload(f, err)
		}
		if err == nil && fr.Buffered() == 0 {
			err = s.flush()
		}
		if err != nil {
			_ = s.flush()
			s.finish(err)
			return
		}
	}
}

// serveBatches is serve's loop over a batchConn: it takes every message
// waiting, serves each from a private copy, releases them, then writes
// the answers queued meanwhile in one batch.
func (s *session) serveBatches(bc batchConn, buf []byte) {
	for {
		msgs, err := bc.PeekBatch(s.peeked[:0])
		s.peeked = msgs
		s.rnow = 0
		for i := 0; i < len(msgs) && err == nil; i++ {
			// A private copy: shared memory may change under us.
			buf = append(buf[:0], msgs[i]...)
			err = s.handleMsg(buf)
			if cap(buf) > 1<<20 {
				buf = nil
			}
			if len(s.rends) >= flushEvery && err == nil {
				// Answer a long batch in parts: the client reads the first
				// answers while we work on the rest.
				err = s.flush()
			}
		}
		clear(msgs)
		bc.Release()
		if ferr := s.flush(); err == nil {
			err = ferr
		}
		if err != nil {
			s.finish(err)
			return
		}
		if s.spawned {
			s.spawned = false
			runtime.Gosched()
		}
	}
}

// flushEvery is how many queued answers the reader writes at once while
// it serves a batch of requests.
const flushEvery = 16

// queue adds a frame to the reader's response batch, compressed where it
// pays once compression was granted.
func (s *session) queue(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) error {
	s.rq = protocol.AppendFrameCompress(s.rq, typ, flags, id, payload, s.zthreshold)
	s.rends = append(s.rends, len(s.rq))
	if s.m != nil {
		s.m.frameOut(typ)
	}
	return nil
}

// queuePlain is queue for a payload too small to be worth compressing (a
// Heartbeat answer): small enough to inline into the hot path (its caller
// counts the frame in the metrics).
func (s *session) queuePlain(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) error {
	s.rq = protocol.AppendFrame(s.rq, typ, flags, id, payload)
	s.rends = append(s.rends, len(s.rq))
	return nil
}

// flush writes the reader's response batch.
func (s *session) flush() error {
	if len(s.rends) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer func() {
		if cap(s.rq) > 1<<20 {
			s.rq = nil
		}
		s.rq, s.rends = s.rq[:0], s.rends[:0]
	}()
	if s.wclosed {
		return ErrCallDone
	}
	return s.fc.WriteFrames(s.rq, s.rends)
}

// finish logs why the session ends and tells the client when it was its
// fault.
func (s *session) finish(err error) {
	switch {
	case errors.Is(err, errDisconnect):
		s.log.Debug("client disconnected")
	case s.ctx.Err() != nil:
		// closed by us (shutdown)
	case isPeerGone(err):
		s.log.Debug("client gone", "err", err)
	default:
		code := protocol.ErrorCodeFor(err)
		var se *sessionError
		switch {
		case errors.As(err, &se):
			code = se.code
		case errors.Is(err, shmring.ErrTooLarge):
			code = protocol.ErrCodeTooLarge
		case errors.Is(err, shmring.ErrCorrupt):
			code = protocol.ErrCodeBadFrame
		}
		s.log.Warn("closing session after bad input", "code", code.String(), "err", err)
		s.sendError(0, 0, code, err.Error(), false)
	}
}

func isPeerGone(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, errPeerGone) {
		return true
	}
	return isTransportClosed(err)
}

// handleMsg is the session's entry point for one message read from the
// client (shared memory), a private copy holding one frame. It returns an
// error when the session must end.
func (s *session) handleMsg(msg []byte) error {
	f, n, err := protocol.ParseFrameMax(msg, s.srv.cfg.MaxPayload)
	if err != nil {
		return err
	}
	if n != len(msg) {
		return strayBytes(len(msg) - n)
	}
	if err := protocol.ValidateRules(f); err != nil {
		return err
	}
	if f.Flags&protocol.FlagCompressed != 0 {
		return s.serveCompressed(f)
	}
	return s.serveFrame(f)
}

// strayBytes is the error for a message holding more than one frame.
func strayBytes(n int) error {
	return fatal(protocol.ErrCodeBadFrame, "%w: %d bytes after the frame in one message", protocol.ErrProtocol, n)
}

// serveCompressed decompresses f's payload (shared memory: the Reader of
// the socket transport does it by itself) and serves it; kept out of
// handleMsg, whose uncompressed path is the hot one.
func (s *session) serveCompressed(f protocol.Frame) error {
	if !s.zgranted {
		return fatal(protocol.ErrCodeProtocol, "%w: compressed frame, compression was not negotiated", protocol.ErrProtocol)
	}
	d, err := protocol.DecompressFrame(s.zbuf[:0], f, s.srv.cfg.MaxPayload)
	if err != nil {
		return s.badPayload(d, err)
	}
	if cap(d.Payload) <= 1<<20 {
		s.zbuf = d.Payload[:0]
	}
	return s.serveFrame(d)
}

// handleFrame is the entry point for one frame read from a byte stream
// (the socket transport), already parsed and decompressed by the
// transport's Reader.
func (s *session) handleFrame(f protocol.Frame) error {
	if err := protocol.ValidateRules(f); err != nil {
		return err
	}
	return s.serveFrame(f)
}

// badPayload handles a frame whose payload could not be read: compressed
// without the feature (a protocol error), or undecodable or decompressing
// past the maximum. A request then gets an Error (Malformed or TooLarge)
// for its id and the session goes on, as SPEC.md "Bad frames" says;
// anything else ends the session.
func (s *session) badPayload(f protocol.Frame, err error) error {
	if errors.Is(err, protocol.ErrProtocol) {
		return err
	}
	if verr := protocol.ValidateRules(f); verr != nil {
		return verr
	}
	code := protocol.ErrorCodeFor(err)
	switch f.Type {
	case protocol.MsgCancel, protocol.MsgCredit, protocol.MsgDisconnect:
		return fatal(code, "%v: %w", f.Type, err)
	}
	if !s.handshaken.Load() || !f.IsRequest() || f.ID <= s.lastID {
		return fatal(code, "%v id=%d: %w", f.Type, f.ID, err)
	}
	s.lastID = f.ID
	s.requests.Add(1)
	s.srv.requests.Add(1)
	if s.m != nil {
		s.m.frameIn(f.Type)
		s.m.errorSent(code)
	}
	return s.queue(protocol.MsgError, protocol.FlagResponse, f.ID, encodeError(nil, code, err.Error(), false))
}

// serveFrame acts on one frame that passed framing and the frame rules.
func (s *session) serveFrame(f protocol.Frame) error {
	if s.m != nil {
		s.m.frameIn(f.Type)
	}
	if !s.handshaken.Load() {
		if f.Type != protocol.MsgHandshake {
			return fatal(protocol.ErrCodeProtocol, "%w: %v before the handshake", protocol.ErrProtocol, f.Type)
		}
		return s.handshake(f)
	}
	switch f.Type {
	case protocol.MsgCancel:
		s.mu.Lock()
		if c := s.calls[f.ID]; c != nil {
			c.canceled.Store(true)
			c.cancel()
		}
		s.mu.Unlock()
		return nil
	case protocol.MsgCredit:
		n, err := protocol.ParseCredit(f.Payload)
		if err != nil {
			return fatal(protocol.ErrCodeMalformed, "%w", err)
		}
		s.mu.Lock()
		if c := s.calls[f.ID]; c != nil {
			if c.credit.Add(int64(n)) > protocol.MaxStreamWindow {
				s.mu.Unlock()
				return fatal(protocol.ErrCodeProtocol, "%w: credit overflow on stream %d", protocol.ErrProtocol, f.ID)
			}
			select {
			case c.creditSig <- struct{}{}:
			default:
			}
		}
		s.mu.Unlock()
		return nil
	case protocol.MsgDisconnect:
		return errDisconnect
	case protocol.MsgHandshake:
		return fatal(protocol.ErrCodeProtocol, "%w: second Handshake", protocol.ErrProtocol)
	}
	if f.IsResponse() {
		// The daemon sends no requests that expect an answer.
		return fatal(protocol.ErrCodeProtocol, "%w: unexpected response %v id=%d", protocol.ErrProtocol, f.Type, f.ID)
	}
	if f.ID <= s.lastID {
		return fatal(protocol.ErrCodeProtocol, "%w: request id %d not above the previous request id %d (an id in flight or reused)",
			protocol.ErrProtocol, f.ID, s.lastID)
	}
	s.lastID = f.ID
	s.requests.Add(1)
	s.srv.requests.Add(1)
	if f.Type == protocol.MsgHeartbeat {
		return s.heartbeat(f)
	}
	rt := s.srv.mux.route(f.Type)
	h := rt.h
	if h == nil {
		return fatal(protocol.ErrCodeUnknownType, "%w: no handler for %v", protocol.ErrUnknownType, f.Type)
	}
	if s.srv.draining.Load() {
		s.sendError(f.ID, 0, protocol.ErrCodeUnavailable, "daemon is shutting down", true)
		return nil
	}
	if s.inflight.Load() >= int64(s.srv.cfg.MaxInflight) {
		s.sendError(f.ID, 0, protocol.ErrCodeOverloaded,
			fmt.Sprintf("too many requests in flight (limit %d)", s.srv.cfg.MaxInflight), true)
		return nil
	}
	if rt.inline != nil {
		if c := s.inlineCall(f); rt.inline(&c.req) {
			s.inflight.Add(1)
			s.srv.inflight.Add(1)
			if s.m != nil {
				c.start = monoNow()
			}
			s.runInline(c, h)
			return nil
		}
	}
	c := newCall(s, f)
	if s.m != nil {
		c.start = monoNow()
	}
	s.mu.Lock()
	s.calls[f.ID] = c
	s.mu.Unlock()
	s.inflight.Add(1)
	s.srv.inflight.Add(1)
	s.handlers.Add(1)
	s.spawned = true
	go s.run(c, h)
	return nil
}

// handshake answers the client's Handshake.
func (s *session) handshake(f protocol.Frame) error {
	hs, err := decodeHandshake(f.Payload)
	if err != nil {
		return fatal(protocol.ErrCodeMalformed, "handshake: %w", err)
	}
	if hs.minVersion > protocol.ProtocolVersion || hs.maxVersion < protocol.ProtocolVersion {
		return fatal(protocol.ErrCodeVersion, "%w: client speaks versions %d..%d, daemon speaks %d",
			protocol.ErrProtocol, hs.minVersion, hs.maxVersion, protocol.ProtocolVersion)
	}
	s.lastID = f.ID
	s.info.ClientName = hs.clientName
	var txCap, rxCap uint64
	if s.stats != nil {
		_, txCap, _, rxCap = s.stats()
	}
	// Grant the features both sides have: zstd, unless this transport's
	// compression is off.
	threshold := s.srv.cfg.CompressSocket
	if s.info.Transport == protocol.TransportShm {
		threshold = s.srv.cfg.CompressShm
	}
	var granted protocol.Features
	if threshold >= 0 {
		granted = hs.features & protocol.FeatureZstd
	}
	ack := encodeHandshakeAck(nil, handshakeAck{
		features:    granted,
		sessionID:   s.info.ID,
		transport:   s.info.Transport,
		txRing:      txCap,
		rxRing:      rxCap,
		maxPayload:  uint32(s.srv.cfg.MaxPayload),
		maxInflight: uint32(s.srv.cfg.MaxInflight),
	})
	if err := s.write(protocol.MsgHandshakeAck, protocol.FlagResponse, f.ID, ack); err != nil {
		return err
	}
	if granted.Has(protocol.FeatureZstd) {
		s.zgranted, s.zthreshold = true, max(threshold, 0)
		s.wmu.Lock()
		s.fc.EnableCompression(threshold)
		s.wmu.Unlock()
	}
	s.handshaken.Store(true)
	s.log.Debug("session started", "client", hs.clientName, "pid", s.info.PID)
	return nil
}

// heartbeat answers a Heartbeat request inline.
func (s *session) heartbeat(f protocol.Frame) error {
	var sent int64
	if len(f.Payload) > 0 {
		v, err := protocol.ViewHeartbeat(f.Payload)
		if err != nil {
			return fatal(protocol.ErrCodeMalformed, "heartbeat: %w", err)
		}
		sent = v.SentUnixNano()
	}
	if s.rnow == 0 {
		// One clock read per batch of messages read at once: their
		// answers leave together.
		s.rnow = time.Now().UnixNano()
	}
	s.rhb = protocol.Heartbeat{SentUnixNano: s.rnow, EchoUnixNano: sent}
	if s.m != nil {
		s.m.frameOut(protocol.MsgHeartbeat)
	}
	return s.queuePlain(protocol.MsgHeartbeat, protocol.FlagResponse, f.ID, s.renc.Encode(&s.rhb))
}

// run executes a handler for c and makes sure the call ends with exactly
// one terminal frame.
func (s *session) run(c *call, h Handler) {
	defer s.handlers.Done()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "type", c.req.Type.String(), "id", c.req.ID, "panic", r, "stack", string(debug.Stack()))
			_ = c.Error(protocol.ErrCodeInternal, "handler panicked", false)
		}
		if !c.finished.Load() {
			_ = c.Error(protocol.ErrCodeInternal, "handler returned without a response", false)
		}
		s.mu.Lock()
		delete(s.calls, c.req.ID)
		s.mu.Unlock()
		c.cancel()
		if s.m != nil && !c.observed {
			// Before the request leaves the in-flight count: a scrape
			// that sees none in flight sees every duration.
			s.m.requestDone(c.req.Type, c.start, c.end)
		}
		s.inflight.Add(-1)
		s.srv.inflight.Add(-1)
	}()
	h.ServeFrame(c.ctx, c, &c.req)
}

// runInline runs an inline handler in the reader goroutine; see run.
func (s *session) runInline(c *call, h Handler) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "type", c.req.Type.String(), "id", c.req.ID, "panic", r, "stack", string(debug.Stack()))
			_ = c.Error(protocol.ErrCodeInternal, "handler panicked", false)
		}
		if !c.finished.Load() {
			_ = c.Error(protocol.ErrCodeInternal, "handler returned without a response", false)
		}
		c.finished.Store(true) // late frames from a misbehaving handler are dropped
		if s.m != nil && !c.observed {
			s.m.requestDone(c.req.Type, c.start, c.end)
		}
		c.req.Payload, c.req.cview, c.req.cviewOf = nil, protocol.CompletionRequestView{}, nil
		s.inflight.Add(-1)
		s.srv.inflight.Add(-1)
	}()
	h.ServeFrame(c.ctx, c, &c.req)
}

// write sends one frame; writers are serialized.
func (s *session) write(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wclosed {
		return ErrCallDone
	}
	err := s.fc.WriteFrame(typ, flags, id, payload)
	if err == nil && s.m != nil {
		s.m.frameOut(typ)
	}
	return err
}

// sendError sends an Error frame; id 0 is a connection-level error.
func (s *session) sendError(id uint64, flags protocol.Flags, code protocol.ErrorCode, msg string, retryable bool) error {
	err := s.write(protocol.MsgError, protocol.FlagResponse|flags, id, encodeError(nil, code, msg, retryable))
	if err == nil && s.m != nil {
		s.m.errorSent(code)
	}
	return err
}

// disconnectTimeout bounds how long Disconnect may wait for room in the
// ring of a client that stopped reading.
const disconnectTimeout = time.Second

// disconnect sends Disconnect (best effort) and closes the session.
func (s *session) disconnect(code protocol.ErrorCode, reason string) {
	t := time.AfterFunc(disconnectTimeout, func() { s.fc.Close() })
	_ = s.write(protocol.MsgDisconnect, protocol.FlagRequest, 0, encodeDisconnect(nil, code, reason))
	t.Stop()
	s.close()
}

// close ends the session: handlers are canceled, the transport closed (its
// mappings and fds released) and the session forgotten by the server.
func (s *session) close() {
	s.closeOnce.Do(func() {
		// No frame may follow the fatal Error or Disconnect: close the
		// write side before handlers see their contexts canceled.
		s.wmu.Lock()
		s.wclosed = true
		s.wmu.Unlock()
		s.stop()
		s.fc.Close()
		s.srv.forget(s)
		go func() {
			s.handlers.Wait()
			close(s.done)
		}()
	})
}
