package daemon

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/ringwire/ringwire/protocol"
)

// call is one request being served; it is the handler's ResponseWriter.
type call struct {
	s         *session
	req       Request
	ctx       context.Context
	cancel    context.CancelFunc
	credit    atomic.Int64
	creditSig chan struct{}
	finished  atomic.Bool
	canceled  atomic.Bool
	streamed  bool
	inline    bool  // served in the reader goroutine (Mux Inline)
	start     int64 // when the request was routed, monoNow (metrics on only)
	end       int64 // when its work ended, monoNow, if a hook read the clock then (metrics on only)
	observed  bool  // its duration is observed already (metrics.oneShotDone)
}

func newCall(s *session, f protocol.Frame) *call {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &call{s: s, ctx: ctx, cancel: cancel, creditSig: make(chan struct{}, 1)}
	c.credit.Store(protocol.StreamWindow)
	c.req = Request{
		Type:    f.Type,
		Flags:   f.Flags,
		ID:      f.ID,
		Payload: append([]byte(nil), f.Payload...),
		Session: s.info,
	}
	return c
}

// inlineCall prepares the session's reusable call for request f, served
// inline: its payload is f's (the reader's private copy, not copied again)
// and its context the session's, since nothing can cancel it meanwhile.
func (s *session) inlineCall(f protocol.Frame) *call {
	c := s.icall
	if c == nil {
		c = &call{s: s, ctx: s.ctx, cancel: func() {}, inline: true}
		s.icall = c
	}
	c.finished.Store(false)
	c.canceled.Store(false)
	c.streamed = false
	c.end, c.observed = 0, false
	c.credit.Store(protocol.StreamWindow)
	c.req = Request{Type: f.Type, Flags: f.Flags, ID: f.ID, Payload: f.Payload, Session: s.info}
	return c
}

// send writes a frame of call c: queued in the reader's batch for an
// inline call, written at once otherwise.
func (c *call) send(typ protocol.MsgType, flags protocol.Flags, payload []byte) error {
	if c.inline {
		return c.s.queue(typ, flags, c.req.ID, payload)
	}
	return c.s.write(typ, flags, c.req.ID, payload)
}

func (c *call) Respond(typ protocol.MsgType, payload []byte) error {
	return c.terminal(typ, protocol.FlagResponse, payload)
}

func (c *call) Send(typ protocol.MsgType, payload []byte) error {
	if c.finished.Load() || c.canceled.Load() {
		return ErrCallDone
	}
	if err := c.waitCredit(); err != nil {
		return err
	}
	c.streamed = true
	if err := c.send(typ, protocol.FlagResponse|protocol.FlagStream, payload); err != nil {
		return fmt.Errorf("%w: %w", ErrCallDone, err)
	}
	return nil
}

func (c *call) End(typ protocol.MsgType, payload []byte) error {
	if c.finished.Load() || c.canceled.Load() {
		return ErrCallDone
	}
	if err := c.waitCredit(); err != nil {
		c.finished.Store(true)
		return err
	}
	return c.terminal(typ, protocol.FlagResponse|protocol.FlagStream|protocol.FlagEnd, payload)
}

func (c *call) Error(code protocol.ErrorCode, message string, retryable bool) error {
	flags := protocol.FlagResponse
	if c.streamed {
		flags |= protocol.FlagStream | protocol.FlagEnd
	}
	err := c.terminal(protocol.MsgError, flags, encodeError(nil, code, message, retryable))
	if err == nil && c.s.m != nil {
		c.s.m.errorSent(code)
	}
	return err
}

func (c *call) terminal(typ protocol.MsgType, flags protocol.Flags, payload []byte) error {
	if c.finished.Swap(true) || c.canceled.Load() {
		return ErrCallDone
	}
	if err := c.send(typ, flags, payload); err != nil {
		return fmt.Errorf("%w: %w", ErrCallDone, err)
	}
	return nil
}

// waitCredit takes one credit, waiting for the client to grant more.
func (c *call) waitCredit() error {
	for {
		if c.credit.Add(-1) >= 0 {
			return nil
		}
		c.credit.Add(1)
		if c.inline {
			// Credit arrives through the reader, which is running us.
			return fmt.Errorf("%w: an inline handler ran out of stream credit", ErrCallDone)
		}
		select {
		case <-c.creditSig:
		case <-c.ctx.Done():
			return fmt.Errorf("%w: %w", ErrCallDone, context.Cause(c.ctx))
		}
	}
}
