package daemon

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"github.com/ringwire/ringwire/protocol"
)

// sockConn is the socket transport: frames back to back on a Unix stream
// socket, read with a protocol.Reader (a header is validated before its
// payload is read, so an oversized length is refused without allocating
// it) and written with a protocol.Writer.
type sockConn struct {
	c net.Conn
	r *protocol.Reader
	w *protocol.Writer
}

// newSockConn serves c, counting its bytes in m's counters unless m is
// nil.
func newSockConn(c net.Conn, maxPayload int, m *metrics) *sockConn {
	var rw io.ReadWriter = c
	if m != nil {
		rw = &countingConn{c: c, in: &m.sockIn, out: &m.sockOut}
	}
	return &sockConn{c: c, r: protocol.NewReader(rw, protocol.WithMaxPayload(maxPayload)), w: protocol.NewWriter(rw)}
}

// countingConn counts the bytes read from and written to a socket.
type countingConn struct {
	c       net.Conn
	in, out *atomic.Uint64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.c.Read(p)
	c.in.Add(uint64(max(n, 0)))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.c.Write(p)
	c.out.Add(uint64(max(n, 0)))
	return n, err
}

// ReadFrame reads one frame. The end of the stream inside a frame is an
// error matching protocol.ErrShortFrame (reported as BadFrame).
func (s *sockConn) ReadFrame() (protocol.Frame, error) {
	f, err := s.r.ReadFrame()
	if err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("%w: connection closed inside a frame", protocol.ErrShortFrame)
	}
	return f, err
}

// Buffered reports how many bytes were read from the socket and not yet
// returned as frames.
func (s *sockConn) Buffered() int { return s.r.Buffered() }

// WriteFrame writes one frame with the Writer.
func (s *sockConn) WriteFrame(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) error {
	return s.w.WriteFrame(typ, flags, id, payload)
}

// WriteFrames writes frames held back to back in one write.
func (s *sockConn) WriteFrames(buf []byte, _ []int) error { return s.w.WriteEncoded(buf) }

// EnableCompression turns compression on in the Writer and the Reader.
func (s *sockConn) EnableCompression(threshold int) {
	if threshold > 0 {
		s.w.EnableCompression(threshold)
	}
	s.r.EnableCompression()
}

// Close closes the socket.
func (s *sockConn) Close() error { return s.c.Close() }
