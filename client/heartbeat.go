package client

import (
	"context"
	"fmt"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

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
