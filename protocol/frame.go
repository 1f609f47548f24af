package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Header layout constants. SPEC.md, "Frame header", is the authority.
const (
	// HeaderSize is the size of a frame header in bytes.
	HeaderSize = 24

	// Magic is the first field of every frame: the bytes 43 50 41 4C on
	// the wire, read as a little-endian uint32.
	Magic uint32 = 0x4C415043

	// Version is the header format version this package reads and writes:
	// the header's version byte. It is not the protocol version peers
	// negotiate in the handshake; that is ProtocolVersion.
	Version uint8 = 1

	// ProtocolVersion is the session protocol version this package speaks
	// (SPEC.md §6, "Version negotiation"): what a client offers in
	// Handshake MinVersion/MaxVersion and a server chooses in HandshakeAck
	// Version. It is independent of the header's Version byte.
	ProtocolVersion uint16 = 1

	// DefaultMaxPayload is the largest payload the protocol allows (10 MiB).
	// ParseFrame enforces it; ParseFrameMax, Reader and Writer can be given
	// a lower limit, never a higher one.
	DefaultMaxPayload = 10 << 20
)

// Byte offsets of the header fields.
const (
	offMagic   = 0
	offVersion = 4
	offFlags   = 5
	offType    = 6
	offLength  = 8
	offID      = 12
	offCRC     = 20
)

// Frame is one protocol frame: the header fields a caller needs and the
// payload. Frames returned by ParseFrame alias the parsed buffer.
type Frame struct {
	Type    MsgType
	Flags   Flags
	ID      uint64
	Payload []byte
}

// IsRequest reports whether the request flag is set.
func (f Frame) IsRequest() bool { return f.Flags&FlagRequest != 0 }

// IsResponse reports whether the response flag is set.
func (f Frame) IsResponse() bool { return f.Flags&FlagResponse != 0 }

// IsStream reports whether the frame is part of a stream.
func (f Frame) IsStream() bool { return f.Flags&FlagStream != 0 }

// IsEnd reports whether the frame is the last of a stream.
func (f Frame) IsEnd() bool { return f.Flags&FlagEnd != 0 }

// String describes the frame's header for logs, e.g.
// "CompletionRequest id=7 flags=request len=812".
func (f Frame) String() string {
	return fmt.Sprintf("%v id=%d flags=%v len=%d", f.Type, f.ID, f.Flags, len(f.Payload))
}

// FrameSize returns the encoded size of a frame with a payload of n bytes.
func FrameSize(n int) int { return HeaderSize + n }

// AppendFrame appends one encoded frame to dst and returns the extended
// slice. It writes the given type, flags and id as they are (ValidateRules
// checks them) and never compresses: the Writer does that when negotiated.
// It panics if the payload is longer than 2^32-1 bytes, which no header can
// describe; payloads longer than DefaultMaxPayload are encoded, but every
// conforming receiver rejects them.
func AppendFrame(dst []byte, typ MsgType, flags Flags, id uint64, payload []byte) []byte {
	if uint64(len(payload)) > math.MaxUint32 {
		panic("protocol: payload longer than 2^32-1 bytes")
	}
	start := len(dst)
	dst = append(dst,
		0x43, 0x50, 0x41, 0x4C, // Magic, little-endian
		Version, byte(flags),
		byte(typ), byte(typ>>8),
		0, 0, 0, 0, // length
		0, 0, 0, 0, 0, 0, 0, 0, // id
		0, 0, 0, 0, // crc
	)
	h := dst[start : start+HeaderSize]
	binary.LittleEndian.PutUint32(h[offLength:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[offID:], id)
	dst = append(dst, payload...)
	// One pass over header (CRC field still zero) and payload: the
	// checksum code is much faster on one long input than on short ones.
	binary.LittleEndian.PutUint32(dst[start+offCRC:], ^crcUpdate(0xFFFFFFFF, dst[start:]))
	return dst
}

// ParseFrame parses the frame at the start of b with the default maximum
// payload (DefaultMaxPayload). It returns the frame and the number of bytes
// it occupies. The frame's Payload aliases b: nothing is copied.
//
// Errors, all matched with errors.Is:
//   - ErrBadMagic, ErrVersion, ErrFlags (a reserved flag bit is set) and
//     ErrTooLarge (the length exceeds the maximum) come from the header
//     alone, as soon as the bytes holding the field are there: a header
//     claiming 4 GiB is ErrTooLarge at once, not ErrShortFrame;
//   - ErrShortFrame: b holds a valid prefix of a frame but not all of it;
//     read more bytes and call again;
//   - ErrChecksum: the whole frame is there and its CRC does not match.
//
// ParseFrame checks framing only; the frame rules (ValidateRules) and the
// payload (View… and Unmarshal functions) are checked separately. If b can
// change while or after it is checked (shared memory written by a peer),
// copy it first.
func ParseFrame(b []byte) (Frame, int, error) {
	return ParseFrameMax(b, DefaultMaxPayload)
}

// ParseFrameMax is ParseFrame with a maximum payload of max bytes. A max
// that is not positive, or larger than DefaultMaxPayload, means
// DefaultMaxPayload.
func ParseFrameMax(b []byte, max int) (Frame, int, error) {
	n, err := checkHeader(b, clampMax(max))
	if err != nil {
		return Frame{}, 0, err
	}
	total := HeaderSize + n
	if len(b) < total {
		return Frame{}, 0, ErrShortFrame
	}
	h := b[:HeaderSize]
	want := binary.LittleEndian.Uint32(h[offCRC:])
	if got := frameCRC(h, b[HeaderSize:total]); got != want {
		return Frame{}, 0, fmt.Errorf("%w: header says %#08x, frame hashes to %#08x", ErrChecksum, want, got)
	}
	return Frame{
		Type:    MsgType(binary.LittleEndian.Uint16(h[offType:])),
		Flags:   Flags(h[offFlags]),
		ID:      binary.LittleEndian.Uint64(h[offID:]),
		Payload: b[HeaderSize:total:total],
	}, total, nil
}

// clampMax maps a configured maximum onto (0, DefaultMaxPayload].
func clampMax(max int) int {
	if max <= 0 || max > DefaultMaxPayload {
		return DefaultMaxPayload
	}
	return max
}

// checkHeader validates as much of the header as b holds, field by field,
// and returns the payload length once the whole header is there. With a
// valid but incomplete header it returns ErrShortFrame.
func checkHeader(b []byte, max int) (int, error) {
	if len(b) >= offVersion {
		if m := binary.LittleEndian.Uint32(b); m != Magic {
			return 0, fmt.Errorf("%w: %#08x", ErrBadMagic, m)
		}
	} else if !magicPrefix(b) {
		return 0, fmt.Errorf("%w: prefix % x", ErrBadMagic, b)
	}
	if len(b) > offVersion && b[offVersion] != Version {
		return 0, fmt.Errorf("%w: %d, want %d", ErrVersion, b[offVersion], Version)
	}
	if len(b) > offFlags && Flags(b[offFlags])&flagsReserved != 0 {
		return 0, fmt.Errorf("%w: reserved bits %#02x set", ErrFlags, b[offFlags]&byte(flagsReserved))
	}
	if len(b) < offLength+4 {
		return 0, ErrShortFrame
	}
	n := binary.LittleEndian.Uint32(b[offLength:])
	if uint64(n) > uint64(max) {
		return 0, fmt.Errorf("%w: payload length %d, max %d", ErrTooLarge, n, max)
	}
	if len(b) < HeaderSize {
		return 0, ErrShortFrame
	}
	return int(n), nil
}

// magicPrefix reports whether b (shorter than 4 bytes) is a prefix of the
// magic's wire bytes.
func magicPrefix(b []byte) bool {
	for i, c := range b {
		if c != byte(Magic>>(8*i)) {
			return false
		}
	}
	return true
}

// frameCRC computes the frame checksum: CRC32-IEEE over the header with the
// CRC field taken as zero, then the payload (h is not written).
func frameCRC(h, payload []byte) uint32 {
	return ^crcUpdate(crcHeader(h), payload)
}
