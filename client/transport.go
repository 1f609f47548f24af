package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// msgConn is one connection's frame transport. ReadFrame reads the next
// frame and copies its payload, decompressed if it came compressed, into
// buf (growing it as needed): the returned frame's Payload aliases the
// returned buffer, which the caller owns. With an error about one frame's
// payload (it cannot be decompressed) the frame's Type, Flags and ID come
// back too, so that call alone fails. WriteMsg writes one encoded frame.
type msgConn interface {
	ReadFrame(ctx context.Context, buf []byte) (protocol.Frame, []byte, error)
	WriteMsg(ctx context.Context, p []byte) error
	// WriteBatch writes the frames held back to back in buf; ends[i] is
	// where frame i ends. scratch is reusable space for the transport.
	WriteBatch(buf []byte, ends []int, scratch *[][]byte) error
	// EnableCompression makes ReadFrame accept compressed frames: the
	// handshake granted protocol.FeatureZstd.
	EnableCompression()
	SetReadDeadline(t time.Time) error
	Close() error
}

// shmConn is the shared-memory transport. Each message is one frame,
// copied out of the ring into the caller's buffer and parsed there.
type shmConn struct {
	c *shmring.Conn
	msgFrames
}

// ReadFrame reads one message and parses it as one frame; a compressed
// payload is decoded into buf, bounded by the maximum payload.
func (s *shmConn) ReadFrame(ctx context.Context, buf []byte) (protocol.Frame, []byte, error) {
	msg, err := s.c.ReadMsgContext(ctx, buf[:0])
	if err != nil {
		return protocol.Frame{}, buf, err
	}
	// The hot path, kept here rather than in parse: one whole uncompressed
	// frame.
	if f, n, err := protocol.ParseFrameMax(msg, s.max); err == nil && n == len(msg) && f.Flags&protocol.FlagCompressed == 0 {
		return f, msg, nil
	}
	return s.parse(msg)
}

// msgFrames parses messages that each hold one whole frame (the
// shared-memory transport), decompressing once compression is on.
type msgFrames struct {
	max      int
	compress bool
	zbuf     []byte // spare buffer for decompressed payloads
}

// parse parses msg, a private copy holding one frame, and returns the
// frame and the buffer its payload is in: msg, or for a compressed frame
// the spare buffer, msg then becoming the spare.
func (s *msgFrames) parse(msg []byte) (protocol.Frame, []byte, error) {
	f, n, err := protocol.ParseFrameMax(msg, s.max)
	if err == nil && n != len(msg) {
		err = fmt.Errorf("%d stray bytes after a frame", len(msg)-n)
	}
	if err != nil {
		return protocol.Frame{}, msg, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if f.Flags&protocol.FlagCompressed == 0 {
		return f, msg, nil
	}
	if !s.compress {
		return f, msg, fmt.Errorf("%w: compressed %v id=%d, compression was not negotiated", ErrProtocol, f.Type, f.ID)
	}
	// msg holds the compressed copy: decode into the spare buffer, which
	// becomes the caller's, and keep msg as the next spare.
	d, err := protocol.DecompressFrame(s.zbuf[:0], f, s.max)
	if err != nil {
		return d, msg, err
	}
	s.zbuf = msg[:0]
	if cap(s.zbuf) > 1<<20 {
		s.zbuf = nil
	}
	return d, d.Payload, nil
}

func (s *shmConn) WriteMsg(ctx context.Context, p []byte) error {
	if ctx.Done() == nil {
		return s.c.WriteMsg(p)
	}
	return s.c.WriteMsgContext(ctx, p)
}
func (s *shmConn) WriteBatch(buf []byte, ends []int, scratch *[][]byte) error {
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
func (s *msgFrames) EnableCompression()              { s.compress = true }
func (s *shmConn) SetReadDeadline(t time.Time) error { return s.c.SetReadDeadline(t) }
func (s *shmConn) Close() error                      { return s.c.Close() }

// Done is closed when the connection is down (the peer closed or died):
// the background reader of an idle connection waits on it.
func (s *shmConn) Done() <-chan struct{} { return s.c.Done() }

// dialShm sets up a shared-memory connection at path; shmring.Dial checks
// that the listener runs as our uid.
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
		return nil, setupErr(err)
	}
	return &shmConn{c: c, msgFrames: msgFrames{max: o.maxPayload}}, nil
}

// setupErr classifies an error setting up a transport: a listener running
// as another uid is ErrPeerUID, which no retry cures; anything else (no
// daemon, a stale socket, a timeout) is ErrUnavailable.
func setupErr(err error) error {
	if errors.Is(err, shmring.ErrPeerUID) {
		return fmt.Errorf("%w: %w", ErrPeerUID, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
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

// sockConn is the socket transport: frames back to back on a Unix
// socket, read with a protocol.Reader and written with a protocol.Writer.
type sockConn struct {
	c net.Conn
	r *protocol.Reader
	w *protocol.Writer
}

// dialSocket connects the socket transport to protocol.StreamPath(path)
// with shmring.DialUnix, which checks that the listener runs as our uid.
func dialSocket(ctx context.Context, path string, o *options) (msgConn, error) {
	c, _, err := o.dialUnix(ctx, protocol.StreamPath(path))
	if err != nil {
		return nil, setupErr(err)
	}
	return newSockConn(c, o.maxPayload), nil
}

func newSockConn(c net.Conn, maxPayload int) *sockConn {
	return &sockConn{c: c, r: protocol.NewReader(c, protocol.WithMaxPayload(maxPayload)), w: protocol.NewWriter(c)}
}

// ReadFrame reads the next frame and copies its payload into buf. A read
// that times out (the connection kicks its reader with a past read
// deadline, see conn.kickLocked) returns os.ErrDeadlineExceeded and keeps what
// it read of the frame in the Reader: the next ReadFrame resumes it.
// Framing errors wrap ErrProtocol; the end of the stream is io.EOF, or
// io.ErrUnexpectedEOF inside a frame.
func (s *sockConn) ReadFrame(_ context.Context, buf []byte) (protocol.Frame, []byte, error) {
	f, err := s.r.ReadFrame()
	switch {
	case err == nil:
	case f.Type != 0:
		// One frame's payload was refused (compressed without the
		// feature, or undecodable); the stream goes on.
		if errors.Is(err, protocol.ErrProtocol) {
			err = fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		return f, buf, err
	case errors.Is(err, protocol.ErrBadMagic), errors.Is(err, protocol.ErrVersion), errors.Is(err, protocol.ErrFlags),
		errors.Is(err, protocol.ErrChecksum), errors.Is(err, protocol.ErrTooLarge):
		return f, buf, fmt.Errorf("%w: %w", ErrProtocol, err)
	default:
		return f, buf, err
	}
	buf = append(buf[:0], f.Payload...)
	f.Payload = buf
	return f, buf, nil
}

func (s *sockConn) WriteMsg(_ context.Context, p []byte) error { return s.w.WriteEncoded(p) }

func (s *sockConn) WriteBatch(buf []byte, _ []int, _ *[][]byte) error { return s.w.WriteEncoded(buf) }

func (s *sockConn) EnableCompression()                { s.r.EnableCompression() }
func (s *sockConn) SetReadDeadline(t time.Time) error { return s.c.SetReadDeadline(t) }
func (s *sockConn) Close() error                      { return s.c.Close() }
