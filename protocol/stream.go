package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Option configures a Reader or a Writer.
type Option func(*config)

type config struct {
	maxPayload int
	compress   bool
	threshold  int
}

func newConfig(opts []Option) config {
	c := config{maxPayload: DefaultMaxPayload, threshold: DefaultCompressThreshold}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithMaxPayload sets the largest payload accepted (Reader) or sent
// (Writer), as sent and once decompressed. Default and ceiling:
// DefaultMaxPayload; n <= 0 means the default. Set a Writer's to the
// peer's HandshakeAck/Handshake MaxPayload.
func WithMaxPayload(n int) Option { return func(c *config) { c.maxPayload = clampMax(n) } }

// WithCompression turns zstd compression on from the start: a Writer
// compresses payloads of threshold bytes or more (threshold <= 0 means
// DefaultCompressThreshold), a Reader accepts compressed frames. Usually
// compression is turned on after the handshake, with EnableCompression,
// once both sides advertised FeatureZstd.
func WithCompression(threshold int) Option {
	return func(c *config) {
		c.compress = true
		if threshold > 0 {
			c.threshold = threshold
		}
	}
}

const (
	// readBufSize is a Reader's first buffer size.
	readBufSize = 4 << 10
	// smallFrame is the largest frame a Reader keeps in its own buffer and
	// a Writer copies into its own buffer; larger frames use pooled
	// buffers (Reader) or are written header and payload apart (Writer).
	// It bounds what an idle connection holds.
	smallFrame = 16 << 10
)

// Reader reads frames from a byte stream. It reads ahead in chunks, so one
// read from the underlying reader can deliver many frames, and parses
// them in place.
//
// A Frame returned by ReadFrame, payload included, is valid until the next
// call of ReadFrame: copy what must outlive it. In steady state ReadFrame
// allocates nothing. A Reader holds at most HeaderSize+max bytes for a
// frame (and max for its decompressed payload), and only once the frame's
// header has been validated: a header claiming more than the maximum is
// ErrTooLarge before anything is allocated. Frames above 16 KiB use
// buffers pooled across all Readers, returned on the next call.
//
// ReadFrame checks framing, as ParseFrame does, and decompresses; the
// frame rules (ValidateRules) and payloads are the caller's to check.
// Framing errors and errors from the underlying reader are sticky: the
// stream cannot be resynchronised after them. The exception is a timeout
// (a net.Error whose Timeout is true, or os.ErrDeadlineExceeded, as a
// read deadline gives): the bytes read so far stay buffered and the next
// ReadFrame resumes the frame. A Reader is not safe for concurrent use.
type Reader struct {
	rd       io.Reader
	small    []byte  // the Reader's own buffer, up to smallFrame bytes
	buf      []byte  // the buffer in use: small, or *big
	big      *[]byte // a pooled buffer for a large frame, or nil
	dbuf     *[]byte // a pooled buffer holding the last decompressed payload
	r, w     int     // unread bytes are buf[r:w]
	rerr     error   // an error the underlying reader returned with data
	max      int
	compress bool
	err      error // sticky
}

// NewReader returns a Reader reading frames from rd.
func NewReader(rd io.Reader, opts ...Option) *Reader {
	c := newConfig(opts)
	return &Reader{rd: rd, max: c.maxPayload, compress: c.compress}
}

// EnableCompression makes the Reader accept compressed frames: call it
// once the handshake granted FeatureZstd. Before that, a frame with
// FlagCompressed is an error matching ErrProtocol.
func (r *Reader) EnableCompression() { r.compress = true }

// SetMaxPayload changes the largest payload accepted; see WithMaxPayload.
func (r *Reader) SetMaxPayload(n int) { r.max = clampMax(n) }

// Buffered returns the number of bytes read from the underlying reader
// but not yet returned as frames.
func (r *Reader) Buffered() int { return r.w - r.r }

// ReadFrame reads the next frame. At a clean end of the stream (between
// frames) it returns io.EOF; if the stream ends inside a frame,
// io.ErrUnexpectedEOF. Other errors match the ParseFrame errors, or
// ErrProtocol (a compressed frame before EnableCompression), ErrTooLarge
// and ErrMalformed (a compressed payload that is too large or invalid), or
// come from the underlying reader. Errors about one frame's payload
// (ErrProtocol, and the compression errors) are not sticky: the next
// frame can be read. With them ReadFrame also returns that frame's Type,
// Flags and ID (and no payload), so the caller can answer it, as SPEC.md
// "Bad frames" says.
func (r *Reader) ReadFrame() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	r.release()
	for {
		f, n, err := ParseFrameMax(r.buf[r.r:r.w], r.max)
		if err == nil {
			r.r += n
			if f.Flags&FlagCompressed != 0 {
				return r.decompress(f)
			}
			return f, nil
		}
		if err != ErrShortFrame {
			r.err = err
			return Frame{}, err
		}
		if err := r.fill(); err != nil {
			if !isTimeout(err) {
				r.err = err
			}
			return Frame{}, err
		}
	}
}

// release returns the pooled buffers the last frame used, moving what is
// left to read back into the Reader's own buffer when it fits.
func (r *Reader) release() {
	if r.dbuf != nil {
		putBuf(r.dbuf)
		r.dbuf = nil
	}
	if r.big == nil || r.w-r.r > smallFrame {
		return
	}
	if cap(r.small) < r.w-r.r {
		r.small = make([]byte, smallFrame)
	}
	r.small = r.small[:cap(r.small)]
	r.w = copy(r.small, r.buf[r.r:r.w])
	r.r = 0
	r.buf = r.small
	putBuf(r.big)
	r.big = nil
}

// fill reads more bytes, making room first: it moves unread bytes to the
// front and, when the buffer is full, grows it to fit the frame whose
// header (already validated by ParseFrameMax) is at the front.
func (r *Reader) fill() error {
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		r.grow()
	}
	for range 100 {
		n, err := 0, r.rerr
		r.rerr = nil
		if err == nil {
			n, err = r.rd.Read(r.buf[r.w:])
			r.w += n
		}
		switch {
		case n > 0:
			r.rerr = err // for the next call, once these bytes are used
			return nil
		case err == io.EOF && r.w == 0:
			return io.EOF
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// isTimeout reports whether err is a timeout of the underlying reader,
// after which reading may go on. It allocates nothing (kicking a reader
// out of a read with a past deadline is routine on the socket transport).
func isTimeout(err error) bool {
	if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
		return true
	}
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// grow makes room for at least one more byte: up to smallFrame in the
// Reader's own buffer (doubling), beyond that a pooled buffer holding the
// whole frame.
func (r *Reader) grow() {
	need := 2 * len(r.buf)
	if r.w >= HeaderSize {
		need = HeaderSize + int(binary.LittleEndian.Uint32(r.buf[offLength:]))
	}
	need = max(need, readBufSize)
	if need <= smallFrame && r.big == nil {
		need = min(max(need, 2*len(r.buf)), smallFrame)
		small := make([]byte, need)
		copy(small, r.buf[:r.w])
		r.small, r.buf = small, small
		return
	}
	big := getBuf(need, HeaderSize+r.max)
	copy(*big, r.buf[:r.w])
	if r.big != nil {
		putBuf(r.big)
	}
	r.big, r.buf = big, *big
}

// decompress replaces f's payload with its decompression into a pooled
// buffer and clears FlagCompressed. On error it returns f's header with no
// payload.
func (r *Reader) decompress(f Frame) (Frame, error) {
	hdr := Frame{Type: f.Type, Flags: f.Flags, ID: f.ID}
	if !r.compress {
		return hdr, fmt.Errorf("%w: compressed %v id=%d but compression was not negotiated", ErrProtocol, f.Type, f.ID)
	}
	n, err := decompressedSize(f.Payload, r.max)
	if err != nil {
		return hdr, err
	}
	r.dbuf = getBuf(max(n, 1), r.max)
	out, err := decompress(*r.dbuf, f.Payload, n)
	if err != nil {
		return hdr, err
	}
	f.Payload = out
	f.Flags &^= FlagCompressed
	return f, nil
}

// Writer writes frames to a byte stream. Each frame up to 16 KiB is handed
// to the underlying writer in one Write call; larger ones as two (header,
// then payload) with no copy. In steady state writing allocates nothing.
// An error from the underlying writer is sticky: the stream may hold part
// of a frame. A Writer is not safe for concurrent use.
type Writer struct {
	w         io.Writer
	buf       []byte
	hdr       [HeaderSize]byte
	enc       Encoder
	max       int
	compress  bool
	threshold int
	err       error
}

// NewWriter returns a Writer writing frames to w.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	c := newConfig(opts)
	return &Writer{w: w, max: c.maxPayload, compress: c.compress, threshold: c.threshold}
}

// EnableCompression turns compression on for payloads of threshold bytes
// or more (threshold <= 0 means DefaultCompressThreshold): call it once
// the handshake granted FeatureZstd.
func (w *Writer) EnableCompression(threshold int) {
	w.compress = true
	if threshold <= 0 {
		threshold = DefaultCompressThreshold
	}
	w.threshold = threshold
}

// SetMaxPayload changes the largest payload sent; see WithMaxPayload.
func (w *Writer) SetMaxPayload(n int) { w.max = clampMax(n) }

// WriteEncoded writes frames already encoded (by AppendFrame or
// AppendFrameCompress), back to back in frames, with one Write call: a
// batch of frames costs one system call. The bytes are not checked. An
// error is sticky, as for WriteFrame.
func (w *Writer) WriteEncoded(frames []byte) error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(frames); err != nil {
		w.err = err
		return err
	}
	return nil
}

// WriteFrame writes one frame. With compression on, a payload of at least
// the threshold is sent compressed, with FlagCompressed added, when that
// makes it smaller (never for Handshake and HandshakeAck). Flags are
// otherwise sent as given. A payload above the maximum is ErrTooLarge,
// and nothing is written.
func (w *Writer) WriteFrame(typ MsgType, flags Flags, id uint64, payload []byte) error {
	if w.err != nil {
		return w.err
	}
	if len(payload) > w.max {
		return fmt.Errorf("%w: payload length %d, max %d", ErrTooLarge, len(payload), w.max)
	}
	var zbuf *[]byte
	if w.compress && len(payload) >= w.threshold && flags&FlagCompressed == 0 &&
		typ != MsgHandshake && typ != MsgHandshakeAck {
		zbuf = getBuf(maxCompressedSize(len(payload)), 1<<maxPoolClass)
		if c := compress(*zbuf, payload); len(c) < len(payload) {
			payload, flags = c, flags|FlagCompressed
		}
	}
	err := w.write(typ, flags, id, payload)
	if zbuf != nil {
		putBuf(zbuf)
	}
	return err
}

func (w *Writer) write(typ MsgType, flags Flags, id uint64, payload []byte) error {
	var err error
	if HeaderSize+len(payload) <= smallFrame {
		w.buf = AppendFrame(w.buf[:0], typ, flags, id, payload)
		_, err = w.w.Write(w.buf)
	} else {
		AppendFrame(w.hdr[:0], typ, flags, id, nil)
		putHeaderCRC(w.hdr[:], payload)
		if _, err = w.w.Write(w.hdr[:]); err == nil {
			_, err = w.w.Write(payload)
		}
	}
	if err != nil {
		w.err = err
	}
	return err
}

// putHeaderCRC rewrites the header h (made for an empty payload) for the
// payload p: its length and CRC.
func putHeaderCRC(h, p []byte) {
	binary.LittleEndian.PutUint32(h[offLength:], uint32(len(p)))
	binary.LittleEndian.PutUint32(h[offCRC:], frameCRC(h, p))
}

// WriteMessage encodes m with the Writer's Encoder and writes it as a
// frame of type m.MsgType().
func (w *Writer) WriteMessage(flags Flags, id uint64, m Message) error {
	return w.WriteFrame(m.MsgType(), flags, id, w.enc.Encode(m))
}
