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
