package shmring

import (
	"encoding/binary"
	"fmt"
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
