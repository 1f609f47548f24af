package shmring

import (
	"context"
	"fmt"
)

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
