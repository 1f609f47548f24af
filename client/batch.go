package client

import (
	"context"
	"fmt"

	"github.com/ringwire/ringwire/protocol"
)

// Batch is a set of calls sent and answered together (pipelining): Do
// writes every request back to back, waking the daemon once per 16 requests, then
// reads the answers as they come, so a batch of n small calls costs about
// one round trip plus the work of each call, not n round trips. The
// daemon still serves the calls concurrently and answers them in any
// order; a Batch gives each answer to its call.
//
// A Batch is reusable: Reset it, Add calls, Do it, read the Results. It
// allocates nothing in steady state. It is not safe for concurrent use;
// the Client it is done on is.
//
//	var b client.Batch
//	for _, p := range payloads {
//		b.Add(myType, p)
//	}
//	if err := cl.Do(ctx, &b); err != nil { ... }
//	for i := range b.Len() {
//		typ, payload, err := b.Result(i)
//		...
//	}
//	b.Reset()
type Batch struct {
	typs []protocol.MsgType
	buf  []byte // the payloads, back to back
	ends []int  // where each payload ends in buf
	enc  protocol.Encoder
	pend []*pending // the calls of the last Do, in Add order
	err  error      // the last Do's error, for calls it left without an answer
}

// Add queues a request of message type typ; payload is copied.
func (b *Batch) Add(typ protocol.MsgType, payload []byte) {
	b.done()
	b.typs = append(b.typs, typ)
	b.buf = append(b.buf, payload...)
	b.ends = append(b.ends, len(b.buf))
}

// AddMsg queues m, encoded, as a request of type m.MsgType().
func (b *Batch) AddMsg(m protocol.Message) {
	b.Add(m.MsgType(), b.enc.Encode(m))
}

// Len is the number of calls in the batch.
func (b *Batch) Len() int { return len(b.typs) }

// payload returns the payload of call i.
func (b *Batch) payload(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]]
}

// Result returns the answer to call i (in Add order) of the last Do: its
// message type and payload, valid until the next Reset, Add or Do; an
// Error answer is returned as a *protocol.Error, and a call Do could not
// complete (ctx ended, connection lost) returns Do's error.
func (b *Batch) Result(i int) (protocol.MsgType, []byte, error) {
	if i < 0 || i >= len(b.typs) {
		return 0, nil, fmt.Errorf("client: batch result %d of %d calls", i, len(b.typs))
	}
	if i >= len(b.pend) {
		if b.err != nil {
			return 0, nil, b.err
		}
		return 0, nil, fmt.Errorf("client: batch call %d was not done", i)
	}
	p := b.pend[i]
	if p.err != nil {
		return 0, nil, p.err
	}
	return p.typ, p.payload, nil
}

// done forgets the results of the last Do.
func (b *Batch) done() {
	for i, p := range b.pend {
		putPending(p)
		b.pend[i] = nil
	}
	b.pend, b.err = b.pend[:0], nil
}

// Reset empties the batch, keeping its memory for the next calls.
func (b *Batch) Reset() {
	b.done()
	b.typs, b.buf, b.ends = b.typs[:0], b.buf[:0], b.ends[:0]
	if cap(b.buf) > 1<<20 {
		b.buf = nil
	}
}

// Do sends the batch's calls on one connection and waits for every
// answer. It returns nil when every call was answered (an answer may be an
// Error: see Result), or why some were not: ctx ended (the calls still in
// flight are canceled) or the connection failed (ErrConnLost or
// ErrUnavailable, retryable; the client never resends a call by itself).
//
// Requests go out in chunks of at most a quarter of the ring (and at most
// the daemon's in-flight limit), each chunk answered before the next is
// sent, so a big batch never fills both rings and waits on itself.
func (cl *Client) Do(ctx context.Context, b *Batch) error {
	b.done()
	if len(b.typs) == 0 {
		return nil
	}
	c, err := cl.conn(ctx)
	if err != nil {
		b.err = err
		return err
	}
	for from := 0; from < len(b.typs); {
		to, bytes := from, 0
		for to < len(b.typs) && to-from < c.batchCalls {
			n := protocol.HeaderSize + len(b.payload(to))
			if to > from && bytes+n > c.batchBytes {
				break
			}
			bytes += n
			to++
		}
		for range to - from {
			b.pend = append(b.pend, getPending())
		}
		if err := c.startBatch(ctx, b, from, to); err != nil {
			// Nothing of this chunk is in flight: give its pendings back.
			for i := from; i < to; i++ {
				putPending(b.pend[i])
				b.pend[i] = nil
			}
			b.pend = b.pend[:from]
			b.err = err
			return err
		}
		if err := c.waitBatch(ctx, b.pend[from:to]); err != nil {
			b.err = err
			return err
		}
		from = to
	}
	return nil
}

// startBatch registers calls from..to of b (their pendings are in b.pend)
// and writes their frames, flushing every flushEvery frames so the daemon
// starts on the first calls while later ones are still being framed.
func (c *conn) startBatch(ctx context.Context, b *Batch, from, to int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for lo := from; lo < to; lo += flushEvery {
		hi := min(lo+flushEvery, to)
		if err := c.lockLive(); err != nil {
			if lo == from {
				return err
			}
			// fail marked the calls already registered; these were never sent.
			for _, p := range b.pend[lo:to] {
				p.err = err
				p.done.Store(true)
			}
			return nil
		}
		c.registerLocked(b.pend[lo:hi])
		for i := lo; i < hi; i++ {
			c.queueLocked(b.typs[i], b.pend[i].id, b.payload(i))
		}
		if err := c.flushLocked(); err != nil && lo == from {
			return err
		}
	}
	return nil
}

// flushEvery is how many frames of a Batch are written at once.
const flushEvery = 16

// waitBatch waits for every call of ps. A caller that leads the reading
// keeps the read token from one call to the next (it will read again at
// once), and hands it on only when it is done with the chunk. If ctx ends,
// the calls not yet answered are canceled and marked with ctx's error;
// if the connection fails, every call not answered carries that error
// (set by fail) and so does the returned error.
func (c *conn) waitBatch(ctx context.Context, ps []*pending) error {
	var err error
	for i, p := range ps {
		if err = c.waitHold(ctx, p, i < len(ps)-1); err == nil || p.typ == protocol.MsgError {
			err = nil // an Error answer is the call's result
			continue
		}
		if cerr := ctx.Err(); cerr == nil || err != cerr {
			// A failed connection: fail marked every call of the batch.
			break
		}
		for _, q := range ps[i+1:] {
			// Cancel it, unless its answer is being delivered right now.
			if c.abandon(ctx, q); !q.done.Load() {
				q.err = err
				q.done.Store(true)
			}
		}
		if p.err == nil {
			p.err = err
		}
		break
	}
	c.kick() // the token may have been kept and not handed on
	return err
}
