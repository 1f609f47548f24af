package protocol

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// DefaultCompressThreshold is the payload size from which a Writer with
// compression on compresses (4 KiB). Smaller payloads rarely shrink enough
// to pay for the work.
const DefaultCompressThreshold = 4 << 10

// One encoder and one decoder serve the whole process: EncodeAll and
// DecodeAll are safe for concurrent use and keep a few internal states, so
// a connection costs no compression memory of its own.
var (
	zEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false),   // the frame's CRC32 covers the bytes sent
			zstd.WithSingleSegment(true), // so the header always states the content size
		)
		if err != nil {
			panic(err)
		}
		return e
	})
	zDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderMaxMemory(DefaultMaxPayload),
			zstd.WithDecoderMaxWindow(1<<maxPoolClass),
			zstd.WithDecodeAllCapLimit(true), // never write past cap(dst)
		)
		if err != nil {
			panic(err)
		}
		return d
	})
)

// compress appends the zstd compression of src to dst[:0] and returns it.
// dst needs room for maxCompressedSize(len(src)) bytes to avoid growing.
func compress(dst, src []byte) []byte {
	return zEncoder().EncodeAll(src, dst[:0])
}

// maxCompressedSize bounds the compressed size of n bytes.
func maxCompressedSize(n int) int { return zEncoder().MaxEncodedSize(n) }

// decompressedSize reads the content size from the zstd frame header at
// the start of src and checks it against max. SPEC.md, "Compression": a
// compressed payload is one zstd frame that states its content size and
// uses no dictionary.
func decompressedSize(src []byte, max int) (int, error) {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return 0, fmt.Errorf("%w: zstd header: %v", ErrMalformed, err)
	}
	switch {
	case h.Skippable:
		return 0, fmt.Errorf("%w: skippable zstd frame", ErrMalformed)
	case !h.HasFCS:
		return 0, fmt.Errorf("%w: zstd frame without content size", ErrMalformed)
	case h.DictionaryID != 0:
		return 0, fmt.Errorf("%w: zstd frame needs a dictionary", ErrMalformed)
	case h.FrameContentSize > uint64(max):
		return 0, fmt.Errorf("%w: decompresses to %d bytes, max %d", ErrTooLarge, h.FrameContentSize, max)
	}
	return int(h.FrameContentSize), nil
}

// decompress decodes src, whose content size decompressedSize returned as
// n, into dst (cap(dst) >= n). It never writes more than n bytes: a frame
// that decodes to more, or less, than it states is malformed.
func decompress(dst, src []byte, n int) ([]byte, error) {
	out, err := zDecoder().DecodeAll(src, dst[:0:n])
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return nil, fmt.Errorf("%w: zstd data decodes past its stated size %d", ErrMalformed, n)
	case err != nil:
		return nil, fmt.Errorf("%w: zstd: %v", ErrMalformed, err)
	case len(out) != n:
		return nil, fmt.Errorf("%w: zstd data decodes to %d bytes, header says %d", ErrMalformed, len(out), n)
	}
	return out, nil
}

// AppendFrameCompress is AppendFrame that compresses where it pays, for
// transports that carry encoded frames (the shared-memory rings, or a
// queue of frames written in one go): with threshold > 0, a payload of at
// least threshold bytes is sent zstd-compressed, with FlagCompressed
// added, when that makes it smaller, exactly as a Writer with compression
// on does. Handshake and HandshakeAck, and frames already flagged
// compressed, are never compressed. With threshold <= 0 it is AppendFrame.
// Use it only once the handshake granted FeatureZstd.
func AppendFrameCompress(dst []byte, typ MsgType, flags Flags, id uint64, payload []byte, threshold int) []byte {
	if threshold <= 0 || len(payload) < threshold || flags&FlagCompressed != 0 ||
		typ == MsgHandshake || typ == MsgHandshakeAck {
		return AppendFrame(dst, typ, flags, id, payload)
	}
	start := len(dst)
	// The header for an empty payload, then the compressed payload
	// straight after it: no copy of the compressed bytes.
	dst = AppendFrame(dst, typ, flags|FlagCompressed, id, nil)
	dst = zEncoder().EncodeAll(payload, dst)
	if z := len(dst) - start - HeaderSize; z >= len(payload) {
		return AppendFrame(dst[:start], typ, flags, id, payload)
	}
	putHeaderCRC(dst[start:start+HeaderSize], dst[start+HeaderSize:])
	return dst
}

// DecompressFrame returns f with its payload decompressed and
// FlagCompressed cleared, for frames parsed by ParseFrame or
// ParseFrameMax (a Reader decompresses by itself). The payload is
// decoded into dst[:n] when cap(dst) holds the content size n, else into
// a new buffer of exactly n bytes; keep f.Payload[:0] to reuse it. A frame
// without FlagCompressed is returned as it is. As SPEC.md "Compression"
// requires, the content size stated in the zstd header is checked against
// max (<= 0 or above DefaultMaxPayload: DefaultMaxPayload) before anything
// is allocated or decoded: above it is ErrTooLarge; a payload that is not
// one zstd frame stating its size, needs a dictionary, or decodes to
// anything but its stated size is ErrMalformed. On error the returned
// frame has f's Type, Flags and ID and no payload.
func DecompressFrame(dst []byte, f Frame, max int) (Frame, error) {
	if f.Flags&FlagCompressed == 0 {
		return f, nil
	}
	hdr := Frame{Type: f.Type, Flags: f.Flags, ID: f.ID}
	n, err := decompressedSize(f.Payload, clampMax(max))
	if err != nil {
		return hdr, err
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	out, err := decompress(dst, f.Payload, n)
	if err != nil {
		return hdr, err
	}
	f.Payload = out
	f.Flags &^= FlagCompressed
	return f, nil
}
