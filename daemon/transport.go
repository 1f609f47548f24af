package daemon

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/ringwire/ringwire/protocol"
)

// frameConn is what a session needs from a transport: whole frames in and
// out. ReadMsg copies one message (one frame) into buf, growing it if
// needed, and returns it; the returned bytes are a private copy. WriteMsg
// writes one whole frame. Close unblocks pending calls.
type frameConn interface {
	ReadMsg(buf []byte) ([]byte, error)
	WriteMsg(p []byte) error
	Close() error
}

// sockConn is the socket transport: frames back to back on a Unix stream
// socket.
type sockConn struct {
	c   net.Conn
	r   *bufio.Reader
	max int // largest payload accepted
}

func newSockConn(c net.Conn, maxPayload int) *sockConn {
	return &sockConn{c: c, r: bufio.NewReaderSize(c, 64<<10), max: maxPayload}
}

// ReadMsg reads one frame. The header is validated before the payload is
// read, so an oversized length is refused without allocating it.
func (s *sockConn) ReadMsg(buf []byte) ([]byte, error) {
	return readSockFrame(s.r, buf, s.max)
}

// readSockFrame reads one frame from r into buf; see sockConn.ReadMsg.
func readSockFrame(r io.Reader, buf []byte, max int) ([]byte, error) {
	if cap(buf) < protocol.HeaderSize {
		buf = make([]byte, 0, 4096)
	}
	buf = buf[:protocol.HeaderSize]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: connection closed inside a frame header", protocol.ErrShortFrame)
		}
		return nil, err
	}
	if _, _, err := protocol.ParseFrameMax(buf, max); err != nil && !errors.Is(err, protocol.ErrShortFrame) {
		if errors.Is(err, protocol.ErrChecksum) {
			return buf, nil // an empty payload with a bad CRC: let the caller report it
		}
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(buf[8:12]))
	total := protocol.HeaderSize + n
	if cap(buf) < total {
		nb := make([]byte, total)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:total]
	if _, err := io.ReadFull(r, buf[protocol.HeaderSize:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: connection closed inside a frame payload", protocol.ErrShortFrame)
		}
		return nil, err
	}
	return buf, nil
}

// WriteMsg writes one frame.
func (s *sockConn) WriteMsg(p []byte) error {
	_, err := s.c.Write(p)
	return err
}

// Buffered reports how many bytes were read from the socket and not yet
// consumed: the session writes its batched answers when none are left.
func (s *sockConn) Buffered() int { return s.r.Buffered() }

// WriteBytes writes frames held back to back in one write.
func (s *sockConn) WriteBytes(p []byte) error {
	_, err := s.c.Write(p)
	return err
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
