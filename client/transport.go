package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// msgConn is one connection's frame transport: ReadMsg copies the next
// whole frame into buf (growing it as needed), WriteMsg writes one frame.
type msgConn interface {
	ReadMsg(buf []byte) ([]byte, error)
	WriteMsg(ctx context.Context, p []byte) error
	// WriteBatch writes the frames held back to back in buf; ends[i] is
	// where frame i ends. scratch is reusable space for the transport.
	WriteBatch(buf []byte, ends []int, scratch *[][]byte) error
	SetReadDeadline(t time.Time) error
	Close() error
}

// shmConn is the shared-memory transport.
type shmConn struct{ c *shmring.Conn }

func (s shmConn) ReadMsg(buf []byte) ([]byte, error) { return s.c.ReadMsg(buf) }
func (s shmConn) WriteMsg(ctx context.Context, p []byte) error {
	if ctx.Done() == nil {
		return s.c.WriteMsg(p)
	}
	return s.c.WriteMsgContext(ctx, p)
}
func (s shmConn) WriteBatch(buf []byte, ends []int, scratch *[][]byte) error {
	if len(ends) == 1 {
		return s.c.WriteMsg(buf)
	}
	msgs := (*scratch)[:0]
	start := 0
	for _, e := range ends {
		msgs = append(msgs, buf[start:e])
		start = e
	}
	_, err := s.c.WriteMsgs(msgs)
	clear(msgs)
	*scratch = msgs[:0]
	return err
}
func (s shmConn) SetReadDeadline(t time.Time) error { return s.c.SetReadDeadline(t) }
func (s shmConn) Close() error                      { return s.c.Close() }

// Done is closed when the connection is down (the peer closed or died):
// the background reader of an idle connection waits on it.
func (s shmConn) Done() <-chan struct{} { return s.c.Done() }

func dialShm(ctx context.Context, path string, o *options) (msgConn, error) {
	c, err := shmring.Dial(ctx, path,
		shmring.WithRingSize(o.ringSize),
		shmring.WithMaxMessage(protocol.HeaderSize+o.maxPayload),
		shmring.WithHandshakeTimeout(o.dialTimeout))
	if err != nil {
		var re *shmring.RefusedError
		if errors.As(err, &re) {
			return nil, refusal(re.Reason)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return shmConn{c}, nil
}

// refusal turns the reason bytes of a refused connection (an encoded
// Error frame) into an error wrapping ErrRefused and the daemon's
// *protocol.Error.
func refusal(reason []byte) error {
	f, _, err := protocol.ParseFrame(reason)
	if err != nil || f.Type != protocol.MsgError {
		return fmt.Errorf("%w (unreadable reason, %d bytes)", ErrRefused, len(reason))
	}
	return fmt.Errorf("%w: %w", ErrRefused, decodeError(f.Payload))
}

// sockConn is the socket transport: frames back to back on a Unix socket.
type sockConn struct {
	c   net.Conn
	r   *bufio.Reader
	max int
	// part is a frame whose reading a read deadline interrupted (the
	// connection kicks its reader that way, see conn.kick): the next
	// ReadMsg resumes it.
	part []byte
}

func dialSocket(ctx context.Context, path string, o *options) (msgConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", protocol.StreamPath(path))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &sockConn{c: c, r: bufio.NewReaderSize(c, 64<<10), max: o.maxPayload}, nil
}

// ReadMsg reads the next frame into buf (growing it). A read that times
// out (os.ErrDeadlineExceeded) keeps what it read of the frame, and the
// next ReadMsg goes on with it (in its own buffer, not buf).
func (s *sockConn) ReadMsg(buf []byte) ([]byte, error) {
	if s.part != nil {
		buf, s.part = s.part, nil
	} else {
		if cap(buf) < protocol.HeaderSize {
			buf = make([]byte, 0, 4096)
		}
		buf = buf[:0]
	}
	buf, err := s.fill(buf, protocol.HeaderSize)
	if err != nil {
		return nil, err
	}
	if _, _, err := protocol.ParseFrameMax(buf[:protocol.HeaderSize], s.max); err != nil &&
		!errors.Is(err, protocol.ErrShortFrame) && !errors.Is(err, protocol.ErrChecksum) {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	total := protocol.HeaderSize + int(binary.LittleEndian.Uint32(buf[8:12]))
	if cap(buf) < total {
		nb := make([]byte, len(buf), total)
		copy(nb, buf)
		buf = nb
	}
	return s.fill(buf, total)
}

// fill reads into buf until it holds n bytes.
func (s *sockConn) fill(buf []byte, n int) ([]byte, error) {
	for len(buf) < n {
		k, err := s.r.Read(buf[len(buf):n])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < n {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.part = buf
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return nil, err
		}
	}
	return buf, nil
}

func (s *sockConn) WriteMsg(_ context.Context, p []byte) error {
	_, err := s.c.Write(p)
	return err
}

func (s *sockConn) WriteBatch(buf []byte, _ []int, _ *[][]byte) error {
	_, err := s.c.Write(buf)
	return err
}

func (s *sockConn) SetReadDeadline(t time.Time) error { return s.c.SetReadDeadline(t) }
func (s *sockConn) Close() error                      { return s.c.Close() }
