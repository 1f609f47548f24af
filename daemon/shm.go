package daemon

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// shmFrameConn adapts a shared-memory connection to frameConn and
// batchConn. The session copies each message out of shared memory before
// it parses it (serveBatches, then handleMsg), so everything it verifies
// and decodes is a private copy. Its write methods are called under the session's write
// lock.
type shmFrameConn struct {
	*shmring.Conn
	wbuf      []byte
	msgs      [][]byte
	threshold int // compress payloads from this size; 0: never

	in, out *atomic.Uint64 // bytes received and sent; nil: metrics off
}

// newShmFrameConn adapts c, counting its bytes in m's counters unless m
// is nil.
func newShmFrameConn(c *shmring.Conn, m *metrics) *shmFrameConn {
	fc := &shmFrameConn{Conn: c}
	if m != nil {
		fc.in, fc.out = &m.shmIn, &m.shmOut
	}
	return fc
}

// PeekBatch returns the messages waiting (shmring.Conn.PeekBatch),
// counting their bytes.
func (c *shmFrameConn) PeekBatch(dst [][]byte) ([][]byte, error) {
	msgs, err := c.Conn.PeekBatch(dst)
	if c.in != nil {
		n := 0
		for _, m := range msgs {
			n += len(m)
		}
		c.in.Add(uint64(n))
	}
	return msgs, err
}

// WriteFrame encodes one frame, compressed where it pays once
// EnableCompression was called, and publishes it.
func (c *shmFrameConn) WriteFrame(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) error {
	c.wbuf = protocol.AppendFrameCompress(c.wbuf[:0], typ, flags, id, payload, c.threshold)
	err := c.WriteMsg(c.wbuf)
	if err == nil && c.out != nil {
		c.out.Add(uint64(len(c.wbuf)))
	}
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil
	}
	return err
}

// WriteFrames publishes the frames in buf with one WriteMsgs (one wake-up
// of the client).
func (c *shmFrameConn) WriteFrames(buf []byte, ends []int) error {
	if c.out != nil {
		c.out.Add(uint64(len(buf)))
	}
	if len(ends) == 1 {
		return c.WriteMsg(buf)
	}
	start := 0
	msgs := c.msgs[:0]
	for _, e := range ends {
		msgs = append(msgs, buf[start:e])
		start = e
	}
	_, err := c.WriteMsgs(msgs)
	clear(msgs)
	c.msgs = msgs[:0]
	return err
}

// EnableCompression sets the threshold from which written payloads are
// compressed; the session accepts compressed messages by itself.
func (c *shmFrameConn) EnableCompression(threshold int) { c.threshold = max(threshold, 0) }

var errPeerGone = shmring.ErrPeerGone

// isTransportClosed reports errors that mean the connection is over rather
// than that the client sent something bad.
func isTransportClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, shmring.ErrPeerClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
