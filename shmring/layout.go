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

// Setup messages on the Unix socket (SPEC.md, "Setup exchange").
const (
	setupMagic   = 0x55535752 // bytes "RWSU"
	setupVersion = 1
	setupHdr     = 16

	msgHello  = 1
	msgAccept = 2
	msgRefuse = 3
	msgReady  = 4

	helloBody     = 16
	acceptBody    = 16
	maxRefuseBody = 64 << 10
	acceptFDs     = 5 // memfd, then eventfds: d2l data, d2l space, l2d data, l2d space
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

// setupHeader is a decoded setup-message header.
type setupHeader struct {
	typ     uint8
	bodyLen uint32
}

func putSetupHeader(b []byte, typ uint8, bodyLen int) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], setupMagic)
	b[4] = setupVersion
	b[5] = typ
	le.PutUint16(b[6:], 0)
	le.PutUint32(b[8:], uint32(bodyLen))
	le.PutUint32(b[12:], 0)
}

// parseSetupHeader validates a 16-byte setup header; want is the set of
// message types acceptable at this step.
func parseSetupHeader(b []byte, want ...uint8) (setupHeader, error) {
	le := binary.LittleEndian
	if len(b) < setupHdr {
		return setupHeader{}, fmt.Errorf("%w: setup header is %d bytes, want %d", ErrCorrupt, len(b), setupHdr)
	}
	if m := le.Uint32(b[0:]); m != setupMagic {
		return setupHeader{}, fmt.Errorf("%w: setup magic %#x, want %#x (not a shmring peer?)", ErrCorrupt, m, setupMagic)
	}
	if b[4] != setupVersion {
		return setupHeader{}, fmt.Errorf("%w: setup version %d, want %d", ErrCorrupt, b[4], setupVersion)
	}
	if le.Uint16(b[6:]) != 0 || le.Uint32(b[12:]) != 0 {
		return setupHeader{}, fmt.Errorf("%w: reserved setup header bytes are not zero", ErrCorrupt)
	}
	h := setupHeader{typ: b[5], bodyLen: le.Uint32(b[8:])}
	ok := false
	for _, w := range want {
		ok = ok || h.typ == w
	}
	if !ok {
		return setupHeader{}, fmt.Errorf("%w: unexpected setup message type %d", ErrCorrupt, h.typ)
	}
	var limit uint32
	switch h.typ {
	case msgHello:
		limit = helloBody
	case msgAccept:
		limit = acceptBody
	case msgRefuse:
		limit = maxRefuseBody
	case msgReady:
		limit = 0
	}
	if h.typ == msgRefuse {
		if h.bodyLen > limit {
			return setupHeader{}, fmt.Errorf("%w: refusal reason of %d bytes exceeds %d", ErrCorrupt, h.bodyLen, limit)
		}
	} else if h.bodyLen != limit {
		return setupHeader{}, fmt.Errorf("%w: setup message type %d has a %d-byte body, want %d", ErrCorrupt, h.typ, h.bodyLen, limit)
	}
	return h, nil
}

// hello is the dialer's request.
type hello struct {
	reqDialToListen uint32 // requested capacity, dialer → listener
	reqListenToDial uint32 // requested capacity, listener → dialer
}

func (m hello) append(b []byte) []byte {
	var buf [setupHdr + helloBody]byte
	putSetupHeader(buf[:], msgHello, helloBody)
	binary.LittleEndian.PutUint32(buf[16:], m.reqDialToListen)
	binary.LittleEndian.PutUint32(buf[20:], m.reqListenToDial)
	return append(b, buf[:]...)
}

func parseHelloBody(b []byte) (hello, error) {
	le := binary.LittleEndian
	if len(b) != helloBody {
		return hello{}, fmt.Errorf("%w: hello body is %d bytes", ErrCorrupt, len(b))
	}
	if le.Uint64(b[8:]) != 0 {
		return hello{}, fmt.Errorf("%w: reserved hello bytes are not zero", ErrCorrupt)
	}
	return hello{reqDialToListen: le.Uint32(b[0:]), reqListenToDial: le.Uint32(b[4:])}, nil
}

// accept is the listener's grant.
type accept struct {
	capDialToListen uint32
	capListenToDial uint32
	segSize         uint64
}

func (m accept) append(b []byte) []byte {
	var buf [setupHdr + acceptBody]byte
	putSetupHeader(buf[:], msgAccept, acceptBody)
	binary.LittleEndian.PutUint32(buf[16:], m.capDialToListen)
	binary.LittleEndian.PutUint32(buf[20:], m.capListenToDial)
	binary.LittleEndian.PutUint64(buf[24:], m.segSize)
	return append(b, buf[:]...)
}

func parseAcceptBody(b []byte) (accept, error) {
	le := binary.LittleEndian
	if len(b) != acceptBody {
		return accept{}, fmt.Errorf("%w: accept body is %d bytes", ErrCorrupt, len(b))
	}
	m := accept{capDialToListen: le.Uint32(b[0:]), capListenToDial: le.Uint32(b[4:]), segSize: le.Uint64(b[8:])}
	c0, c1 := uint64(m.capDialToListen), uint64(m.capListenToDial)
	if !isPow2Ring(c0) || !isPow2Ring(c1) {
		return accept{}, fmt.Errorf("%w: granted capacities %d/%d are not powers of two in [%d, %d]", ErrCorrupt, c0, c1, MinRingSize, MaxRingSize)
	}
	if m.segSize != newLayout(c0, c1).size {
		return accept{}, fmt.Errorf("%w: segment size %d does not match capacities %d/%d", ErrCorrupt, m.segSize, c0, c1)
	}
	return m, nil
}

func appendRefuse(b, reason []byte) []byte {
	var buf [setupHdr]byte
	putSetupHeader(buf[:], msgRefuse, len(reason))
	return append(append(b, buf[:]...), reason...)
}

func appendReady(b []byte) []byte {
	var buf [setupHdr]byte
	putSetupHeader(buf[:], msgReady, 0)
	return append(b, buf[:]...)
}
