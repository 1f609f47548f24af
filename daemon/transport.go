package daemon

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/ringwire/ringwire/protocol"
)

// frameConn is what a session needs from a transport to send: frames
// out, one at a time or a batch at once, and Close, which unblocks
// pending calls. How frames come in depends on the transport: a
// frameReader (socket) or a batchConn (shared memory).
type frameConn interface {
	// WriteFrame encodes and writes one frame; once EnableCompression
	// set a threshold, a payload of at least that many bytes is sent
	// compressed when that makes it smaller.
	WriteFrame(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) error
	// WriteFrames writes the frames encoded back to back in buf, ends[i]
	// being where frame i ends, with one write or one ring publish.
	WriteFrames(buf []byte, ends []int) error
	// EnableCompression is called once the handshake granted
	// protocol.FeatureZstd: written payloads of threshold bytes or more
	// are compressed where it pays (threshold <= 0: none are), and
	// compressed frames are accepted.
	EnableCompression(threshold int)
	Close() error
}

// frameReader is a transport whose frames arrive on a byte stream. A
// returned frame, payload included, is valid until the next ReadFrame.
// Buffered reports the input read and not yet returned as frames: the
// session writes its batched answers when none is left.
type frameReader interface {
	ReadFrame() (protocol.Frame, error)
	Buffered() int
}

// batchConn is a transport that reads every waiting message at once and
// writes several with one publish (the shared-memory transport).
type batchConn interface {
	PeekBatch(dst [][]byte) ([][]byte, error)
	Release()
	WriteMsgs(msgs [][]byte) (int, error)
}

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

// sockListener serves the socket transport on a Unix socket whose directory
// is private to the user (0700) and whose socket is 0600.
type sockListener struct {
	ln   *net.UnixListener
	path string
	once sync.Once
}

// listenSocket listens on path for the socket transport, replacing a stale
// socket file left by a dead daemon but refusing to steal a live one.
func listenSocket(path string) (*sockListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon: socket transport: %w", err)
	}
	if fi, err := os.Lstat(dir); err != nil {
		return nil, fmt.Errorf("daemon: socket transport: %w", err)
	} else if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: socket directory %s must be a directory with mode 0700 (is %v)", ErrConfig, dir, fi.Mode())
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: %s", ErrAddrInUse, path)
		}
		_ = os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("daemon: socket transport: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("daemon: socket transport: %w", err)
	}
	return &sockListener{ln: ln, path: path}, nil
}

func (l *sockListener) Close() error {
	var err error
	l.once.Do(func() { err = l.ln.Close() })
	return err
}
