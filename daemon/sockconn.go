package daemon

import (
	"fmt"
	"io"
	"net"

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

func newSockConn(c net.Conn, maxPayload int) *sockConn {
	return &sockConn{c: c, r: protocol.NewReader(c, protocol.WithMaxPayload(maxPayload)), w: protocol.NewWriter(c)}
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
