package shmring

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Segment layout (SPEC.md, "Segment"). All integers little-endian.
const (
	segMagic      = 0x47535752 // bytes "RWSG"
	layoutVersion = 1
	headerSize    = 4096

	offMagic    = 0
	offVersion  = 4
	offReserved = 6
	offHdrSize  = 8
	offFlags    = 12
	offSegSize  = 16
	offRingDesc = 24 // two descriptors of ringDescSize bytes
	ringDescLen = 32

	// Control blocks, one per ring, inside the header page.
	ctrlOff0 = 1024
	ctrlOff1 = 2048
	ctrlLen  = 1024

	// Fields of a control block, each on its own 128-byte span so that
	// the two processes never share a cache line (nor its prefetch pair).
	ctrlProducer       = 0   // u64 producer position
	ctrlConsumer       = 128 // u64 consumer position
	ctrlConsumerParked = 256 // u32 1 while the consumer is parked
	ctrlProducerParked = 384 // u32 1 while the producer is parked
	ctrlClosed         = 512 // u32 1 once the producer closed the ring
	ctrlProducerCPU    = 640 // u32 advisory: 1 + the CPU the producer ran on when it last woke the consumer
	ctrlConsumerCPU    = 768 // u32 advisory: 1 + the CPU the consumer ran on when it last woke the producer

	// ring 0 carries dialer → listener, ring 1 listener → dialer.
	ringDialToListen = 0
	ringListenToDial = 1
)

// Record header: u32 payload length, u8 kind, three zero bytes.
const (
	recHdr = 8

	kindMsg   = 1 // a whole message
	kindPad   = 2 // padding up to the end of the data area
	kindFirst = 3 // first fragment; payload starts with the u64 total length
	kindMore  = 4 // middle fragment
	kindLast  = 5 // last fragment
)

// layout is the private, validated copy of a segment header.
type layout struct {
	size uint64
	cap  [2]uint64
	data [2]uint64
	ctrl [2]uint64
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

func isPow2Ring(n uint64) bool {
	return n >= MinRingSize && n <= MaxRingSize && bits.OnesCount64(n) == 1
}

// newLayout returns the canonical layout for the two capacities.
func newLayout(cap0, cap1 uint64) layout {
	return layout{
		size: headerSize + cap0 + cap1,
		cap:  [2]uint64{cap0, cap1},
		data: [2]uint64{headerSize, headerSize + cap0},
		ctrl: [2]uint64{ctrlOff0, ctrlOff1},
	}
}

// writeHeader fills the header page of a fresh (zeroed) segment.
func (l layout) writeHeader(h []byte) {
	le := binary.LittleEndian
	le.PutUint32(h[offMagic:], segMagic)
	le.PutUint16(h[offVersion:], layoutVersion)
	le.PutUint32(h[offHdrSize:], headerSize)
	le.PutUint64(h[offSegSize:], l.size)
	for i := range 2 {
		d := h[offRingDesc+i*ringDescLen:]
		le.PutUint64(d[0:], l.ctrl[i])
		le.PutUint64(d[8:], l.data[i])
		le.PutUint64(d[16:], l.cap[i])
	}
}

// parseHeader validates a segment header against the real size of the
// memory object and the capacities granted in the setup exchange. Only the
// canonical layout is accepted. The header lives in shared memory; callers
// pass a private copy.
func parseHeader(h []byte, realSize int64, cap0, cap1 uint64) (layout, error) {
	le := binary.LittleEndian
	bad := func(format string, args ...any) (layout, error) {
		return layout{}, fmt.Errorf("%w: segment header: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(h) < headerSize {
		return bad("%d bytes, want %d", len(h), headerSize)
	}
	if m := le.Uint32(h[offMagic:]); m != segMagic {
		return bad("magic %#x, want %#x", m, segMagic)
	}
	if v := le.Uint16(h[offVersion:]); v != layoutVersion {
		return bad("layout version %d, want %d", v, layoutVersion)
	}
	if r := le.Uint16(h[offReserved:]); r != 0 {
		return bad("reserved field %#x", r)
	}
	if hs := le.Uint32(h[offHdrSize:]); hs != headerSize {
		return bad("header size %d, want %d", hs, headerSize)
	}
	if f := le.Uint32(h[offFlags:]); f != 0 {
		return bad("unknown flags %#x", f)
	}
	if !isPow2Ring(cap0) || !isPow2Ring(cap1) {
		return bad("granted capacities %d/%d are not powers of two in range", cap0, cap1)
	}
	want := newLayout(cap0, cap1)
	if realSize < 0 || uint64(realSize) != want.size {
		return bad("memfd is %d bytes, want %d", realSize, want.size)
	}
	if s := le.Uint64(h[offSegSize:]); s != want.size {
		return bad("segment size field %d, memfd is %d bytes", s, want.size)
	}
	for i := range 2 {
		d := h[offRingDesc+i*ringDescLen:]
		ctrl, data, cp, res := le.Uint64(d[0:]), le.Uint64(d[8:]), le.Uint64(d[16:]), le.Uint64(d[24:])
		if ctrl != want.ctrl[i] || data != want.data[i] || cp != want.cap[i] || res != 0 {
			return bad("ring %d descriptor ctrl=%d data=%d cap=%d reserved=%d, want ctrl=%d data=%d cap=%d",
				i, ctrl, data, cp, res, want.ctrl[i], want.data[i], want.cap[i])
		}
	}
	for i := offRingDesc + 2*ringDescLen; i < ctrlOff0; i++ {
		if h[i] != 0 {
			return bad("reserved header byte %d is %#x", i, h[i])
		}
	}
	return want, nil
}
