package shmring

import (
	"context"
	"errors"
	"fmt"
)

// dropPeeks forgets peeked messages (their records are released with the
// next releaseRx) and the segment reference they held.
func (c *Conn) dropPeeks() {
	c.rx.peeked = 0
	if c.peekRef {
		c.peekRef = false
		c.seg.release()
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
