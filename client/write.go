package client

import (
	"context"
	"fmt"

	"github.com/ringwire/ringwire/protocol"
)

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

// send writes a frame that is not a new request (Cancel, Credit,
// Disconnect).
func (c *conn) send(typ protocol.MsgType, id uint64, payload []byte) {
	c.wmu.Lock()
	if c.dead.Load() {
		c.wmu.Unlock()
		return
	}
	c.queueLocked(typ, id, payload)
	_ = c.flushLocked()
}
