package client

import (
	"context"
	"fmt"
	"iter"

	"github.com/ringwire/ringwire/protocol"
)

// sframe is a stream frame received: its payload is in buf, a buffer of
// its own.
type sframe struct {
	f   protocol.Frame
	buf []byte
}

// CompleteStream asks for a streamed completion and returns an iterator
// over its chunks, in order; the last has Final set. An error ends the
// iteration (yielded with a zero chunk). The request is sent when the
// iteration starts; breaking out of the loop, or ctx ending, cancels it.
// Chunks are buffered (at most protocol.StreamWindow) and credit is
// granted as the loop consumes them, so a slow loop slows only its own
// stream.
func (cl *Client) CompleteStream(ctx context.Context, req *protocol.CompletionRequest) iter.Seq2[protocol.StreamChunk, error] {
	return func(yield func(protocol.StreamChunk, error) bool) {
		c, err := cl.conn(ctx)
		if err != nil {
			yield(protocol.StreamChunk{}, err)
			return
		}
		r := *req
		r.Stream = true
		p := getPending()
		p.stream = true
		defer func() {
			// Taking c.mu (remove) waits out a reader or fail still
			// signaling p; then p can be recycled.
			c.remove(p.id)
			putPending(p)
		}()
		if err := c.start(ctx, protocol.MsgCompletionRequest, p.enc.Encode(&r), p); err != nil {
			yield(protocol.StreamChunk{}, err)
			return
		}
		c.kick()
		consumed := 0
		for {
			f, buf, ok, ended, serr := p.pop()
			if !ok {
				if serr != nil {
					yield(protocol.StreamChunk{}, serr)
					return
				}
				if ended {
					yield(protocol.StreamChunk{}, fmt.Errorf("%w: stream %d ended without a final chunk", ErrProtocol, p.id))
					return
				}
				select {
				case <-p.ch:
					continue
				case <-ctx.Done():
					c.cancel(p.id)
					yield(protocol.StreamChunk{}, ctx.Err())
					return
				}
			}
			var chunk protocol.StreamChunk
			switch f.Type {
			case protocol.MsgError:
				err = decodeError(f.Payload)
			case protocol.MsgStreamChunk:
				err = chunk.Unmarshal(f.Payload)
				if err != nil {
					err = fmt.Errorf("%w: %w", ErrProtocol, err)
				} else if chunk.Final != f.IsEnd() {
					err = fmt.Errorf("%w: stream %d: final=%v on a frame with flags %v", ErrProtocol, p.id, chunk.Final, f.Flags)
				}
			default:
				err = fmt.Errorf("%w: stream %d carried %v", ErrProtocol, p.id, f.Type)
			}
			end := f.IsEnd() || !f.IsStream()
			p.recycle(buf)
			if err != nil {
				if !end {
					c.cancel(p.id)
				}
				yield(protocol.StreamChunk{}, err)
				return
			}
			if !end {
				if consumed++; consumed >= protocol.StreamWindow/2 {
					c.grant(p.id, consumed)
					consumed = 0
				}
			}
			if !yield(chunk, nil) {
				if !end {
					c.cancel(p.id)
				}
				return
			}
			if end {
				return
			}
		}
	}
}

// pop takes the oldest queued frame of a stream (ok) and the buffer its
// payload is in, to recycle once used; with none queued it reports
// whether the stream ended and why it failed, if it did.
func (p *pending) pop() (f protocol.Frame, buf []byte, ok, ended bool, err error) {
	p.smu.Lock()
	defer p.smu.Unlock()
	if n := len(p.queue); n > 0 {
		sf := p.queue[0]
		copy(p.queue, p.queue[1:])
		p.queue[n-1] = sframe{}
		p.queue = p.queue[:n-1]
		return sf.f, sf.buf, true, false, nil
	}
	return protocol.Frame{}, nil, false, p.ended, p.serr
}

func (p *pending) recycle(b []byte) {
	p.smu.Lock()
	if len(p.free) < protocol.StreamWindow {
		p.free = append(p.free, b[:0])
	}
	p.smu.Unlock()
}

// grant gives the daemon n more credits on stream id.
func (c *conn) grant(id uint64, n int) {
	var b [protocol.CreditSize]byte
	c.send(protocol.MsgCredit, id, protocol.AppendCredit(b[:0], uint32(n)))
}
