package client

import (
	"context"
	"errors"
	"runtime"
	"time"
)

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
