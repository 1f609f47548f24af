package shmring

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// ringView addresses one ring of a mapped segment: its data area and the
// fields of its control block. Nothing here is trusted: every value loaded
// from the control block or a record header is checked before use.
type ringView struct {
	data       []byte // the data area, len == capacity
	mask       uint64
	capacity   uint64
	maxPayload uint64 // largest payload one record may carry
	prod       *atomic.Uint64
	cons       *atomic.Uint64
	consParked *atomic.Uint32
	prodParked *atomic.Uint32
	closed     *atomic.Uint32
	prodCPU    *atomic.Uint32 // advisory hints, see SPEC.md "Wake-ups"
	consCPU    *atomic.Uint32
}

// newRingView returns ring i of the segment mem laid out as l. mem must be
// at least l.size bytes and 8-byte aligned (a mapping is page aligned).
func newRingView(mem []byte, l layout, i int) ringView {
	ctrl := mem[l.ctrl[i] : l.ctrl[i]+ctrlLen]
	u64 := func(off int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&ctrl[off])) }
	u32 := func(off int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&ctrl[off])) }
	c := l.cap[i]
	return ringView{
		data:       mem[l.data[i] : l.data[i]+c : l.data[i]+c],
		mask:       c - 1,
		capacity:   c,
		maxPayload: c/2 - recHdr,
		prod:       u64(ctrlProducer),
		cons:       u64(ctrlConsumer),
		consParked: u32(ctrlConsumerParked),
		prodParked: u32(ctrlProducerParked),
		closed:     u32(ctrlClosed),
		prodCPU:    u32(ctrlProducerCPU),
		consCPU:    u32(ctrlConsumerCPU),
	}
}

// used reports the bytes between the consumer and producer positions, as
// shared memory says right now (clamped to the capacity).
func (r *ringView) used() uint64 {
	p, c := r.prod.Load(), r.cons.Load()
	if p < c {
		return 0
	}
	return min(p-c, r.capacity)
}

// producer is the writing end of a ring. pos is private: the shared copy is
// written, never read back.
type producer struct {
	ringView
	pos      uint64 // next write position (ahead of the shared one until publish)
	consSeen uint64 // last validated consumer position
}

// reserve finds room for a record with an n-byte payload, writing a padding
// record first if the record would cross the end of the data area. It
// returns the offset of the record header, or ok=false when the ring lacks
// room now. n must not exceed maxPayload.
func (p *producer) reserve(n uint64) (off uint64, ok bool, err error) {
	need := align8(recHdr + n)
	off = p.pos & p.mask
	pad := uint64(0)
	if off+need > p.capacity {
		pad = p.capacity - off
	}
	total := pad + need
	if p.pos+total-p.consSeen > p.capacity {
		c := p.cons.Load()
		if c > p.pos || p.pos-c > p.capacity || c < p.consSeen {
			return 0, false, fmt.Errorf("%w: consumer position %d outside [%d, %d]", ErrCorrupt, c, max(p.consSeen, p.pos-min(p.pos, p.capacity)), p.pos)
		}
		p.consSeen = c
		if p.pos+total-c > p.capacity {
			return 0, false, nil
		}
	}
	if pad > 0 {
		binary.LittleEndian.PutUint64(p.data[off:], (pad-recHdr)|kindPad<<32)
		p.pos += pad
		off = 0
	}
	return off, true, nil
}

// put writes the header of the record reserved at off and advances the
// private position; nothing is visible to the consumer until publish.
func (p *producer) put(off, n uint64, kind uint8) {
	binary.LittleEndian.PutUint64(p.data[off:], n|uint64(kind)<<32)
	p.pos += align8(recHdr + n)
}

// publish makes every put record visible and reports whether the consumer
// was parked and must be signalled. The store of the position and the load
// of the flag are sequentially consistent (SPEC.md, "Wake-ups").
func (p *producer) publish() (signal bool) {
	// Swap, not Store: an atomic read-modify-write is a full fence in every
	// build. Under the race detector a plain Store is only a release store,
	// which may pass the following Load and break the Dekker handshake.
	p.prod.Swap(p.pos)
	return p.consParked.Load() != 0 && p.consParked.CompareAndSwap(1, 0)
}

// consumer is the reading end of a ring.
type consumer struct {
	ringView
	pos      uint64 // read cursor (at or ahead of released)
	released uint64 // consumer position last published
	prodSeen uint64 // last validated producer position
}

// record is a validated record header.
type record struct {
	kind  uint8
	off   uint64 // offset of the payload in data
	n     uint64 // payload length
	total uint64 // header + payload + alignment
}

func (r record) payload(data []byte) []byte { return data[r.off : r.off+r.n : r.off+r.n] }

// refresh loads and validates the producer position.
func (c *consumer) refresh() error {
	p := c.prod.Load()
	if p < c.prodSeen || p-c.released > c.capacity || p&7 != 0 {
		return fmt.Errorf("%w: producer position %d outside [%d, %d] or unaligned", ErrCorrupt, p, c.prodSeen, c.released+c.capacity)
	}
	c.prodSeen = p
	return nil
}

// empty reports whether nothing is readable at the cursor, reloading the
// producer position if the cached one is exhausted.
func (c *consumer) empty() (bool, error) {
	if c.pos != c.prodSeen {
		return false, nil
	}
	if err := c.refresh(); err != nil {
		return false, err
	}
	return c.pos == c.prodSeen, nil
}

// next validates the record at the cursor, skipping padding, without
// advancing past it. ok is false when the ring holds no record.
func (c *consumer) next() (rec record, ok bool, err error) {
	for {
		if e, err := c.empty(); e || err != nil {
			return record{}, false, err
		}
		off := c.pos & c.mask
		h := binary.LittleEndian.Uint64(c.data[off:])
		n, kind := h&0xffffffff, uint8(h>>32)
		if h>>40 != 0 {
			return record{}, false, fmt.Errorf("%w: record header at position %d has reserved bits %#x", ErrCorrupt, c.pos, h>>40)
		}
		total := align8(recHdr + n)
		if total > c.prodSeen-c.pos || off+total > c.capacity {
			return record{}, false, fmt.Errorf("%w: record of %d bytes at position %d overruns the ring", ErrCorrupt, n, c.pos)
		}
		switch kind {
		case kindPad:
			if off+total != c.capacity {
				return record{}, false, fmt.Errorf("%w: padding at position %d does not end the data area", ErrCorrupt, c.pos)
			}
			c.pos += total
			continue
		case kindMsg, kindMore, kindLast:
		case kindFirst:
			if n < 8 {
				return record{}, false, fmt.Errorf("%w: first fragment of %d bytes", ErrCorrupt, n)
			}
		default:
			return record{}, false, fmt.Errorf("%w: unknown record kind %d at position %d", ErrCorrupt, kind, c.pos)
		}
		if n > c.maxPayload {
			return record{}, false, fmt.Errorf("%w: record payload %d exceeds %d", ErrCorrupt, n, c.maxPayload)
		}
		return record{kind: kind, off: off + recHdr, n: n, total: total}, true, nil
	}
}

// release publishes the cursor as the consumer position and reports whether
// the producer was parked and must be signalled.
func (c *consumer) release() (signal bool) {
	if c.released == c.pos {
		return false
	}
	c.released = c.pos
	c.cons.Swap(c.pos) // a full fence in every build: see publish
	return c.prodParked.Load() != 0 && c.prodParked.CompareAndSwap(1, 0)
}

// rxState is the reading side of a connection above the ring: message
// reassembly and the byte-stream cursor. It never blocks; ok=false asks the
// caller to wait for the producer.
type rxState struct {
	consumer
	maxMsg    uint64
	frag      []byte // reassembly buffer (private copy)
	fragTotal uint64
	fragging  bool
	streamRec record // current record of the byte stream
	streamAt  uint64 // bytes of streamRec already returned
	inStream  bool
	peeked    int // messages returned by Peek and not yet released
}

// readMsg appends the next whole message to buf[:0].
func (r *rxState) readMsg(buf []byte) (out []byte, ok bool, err error) {
	for {
		rec, ok, err := r.next()
		if !ok || err != nil {
			return buf, false, err
		}
		done, err := r.take(rec)
		if err != nil {
			return buf, false, err
		}
		if done {
			if rec.kind == kindMsg {
				out = append(buf[:0], rec.payload(r.data)...)
			} else {
				out = append(buf[:0], r.frag...)
			}
			return out, true, nil
		}
	}
}

// take consumes rec into the reassembly state and reports whether a whole
// message is complete: for kindMsg it is rec's payload, otherwise r.frag.
func (r *rxState) take(rec record) (done bool, err error) {
	p := rec.payload(r.data)
	switch rec.kind {
	case kindMsg:
		r.fragging = false // a message interrupted by a write timeout is dropped
		r.pos += rec.total
		return true, nil
	case kindFirst:
		total := binary.LittleEndian.Uint64(p)
		if total > r.maxMsg {
			return false, fmt.Errorf("%w: peer announced a %d-byte message, limit %d", ErrTooLarge, total, r.maxMsg)
		}
		if total < rec.n-8 {
			return false, fmt.Errorf("%w: fragmented message of %d bytes starts with %d", ErrCorrupt, total, rec.n-8)
		}
		if uint64(cap(r.frag)) < total {
			r.frag = make([]byte, 0, total)
		}
		r.frag = append(r.frag[:0], p[8:]...)
		r.fragTotal, r.fragging = total, true
		r.pos += rec.total
		return false, nil
	default: // kindMore, kindLast
		if !r.fragging {
			return false, fmt.Errorf("%w: fragment without a first fragment", ErrCorrupt)
		}
		if uint64(len(r.frag))+rec.n > r.fragTotal {
			return false, fmt.Errorf("%w: fragments exceed the announced %d bytes", ErrCorrupt, r.fragTotal)
		}
		r.frag = append(r.frag, p...)
		r.pos += rec.total
		if rec.kind == kindMore {
			return false, nil
		}
		r.fragging = false
		if uint64(len(r.frag)) != r.fragTotal {
			return false, fmt.Errorf("%w: message of %d bytes announced, %d delivered", ErrCorrupt, r.fragTotal, len(r.frag))
		}
		return true, nil
	}
}

// peek returns the next message without releasing it: a slice into shared
// memory for a whole record, or the reassembly buffer for a fragmented one.
func (r *rxState) peek() (msg []byte, ok bool, err error) {
	for {
		rec, ok, err := r.next()
		if !ok || err != nil {
			return nil, false, err
		}
		if rec.kind != kindMsg && r.peeked > 0 {
			return nil, false, ErrPending
		}
		done, err := r.take(rec)
		if err != nil {
			return nil, false, err
		}
		if !done {
			continue
		}
		if rec.kind == kindMsg {
			r.peeked++
			return rec.payload(r.data), true, nil
		}
		return r.frag, true, nil
	}
}

// readStream copies stream bytes into p, crossing records, and returns as
// soon as it copied something and no further record is ready.
func (r *rxState) readStream(p []byte) (n int, err error) {
	for n < len(p) {
		if !r.inStream {
			rec, ok, err := r.next()
			if !ok || err != nil {
				return n, err
			}
			r.streamRec, r.streamAt, r.inStream = rec, 0, true
			if rec.kind == kindFirst {
				r.streamAt = 8
			}
		}
		src := r.streamRec.payload(r.data)[r.streamAt:]
		k := copy(p[n:], src)
		n += k
		r.streamAt += uint64(k)
		if r.streamAt == r.streamRec.n {
			r.pos += r.streamRec.total
			r.inStream = false
		}
	}
	return n, nil
}

// txState is the writing side of a connection above the ring.
type txState struct {
	producer
	maxMsg   uint64
	reserved int64 // payload bytes reserved by Reserve, -1 if none
	resOff   uint64
}

// writeRecord writes one record holding prefix (if non-nil, the u64 total of
// a fragmented message) followed by p, without publishing. ok=false: no room.
func (t *txState) writeRecord(kind uint8, total uint64, withTotal bool, p []byte) (ok bool, err error) {
	n := uint64(len(p))
	if withTotal {
		n += 8
	}
	off, ok, err := t.reserve(n)
	if !ok || err != nil {
		return false, err
	}
	dst := t.data[off+recHdr : off+recHdr+n]
	if withTotal {
		binary.LittleEndian.PutUint64(dst, total)
		dst = dst[8:]
	}
	copy(dst, p)
	t.put(off, n, kind)
	return true, nil
}

// fragment returns the record kind and chunk of message p (of total length)
// starting at done bytes, plus whether the chunk carries the total.
func (t *txState) fragment(p []byte, done int) (kind uint8, chunk []byte, withTotal bool) {
	max := int(t.maxPayload)
	if done == 0 && len(p) <= max {
		return kindMsg, p, false
	}
	if done == 0 {
		return kindFirst, p[:max-8], true
	}
	rest := p[done:]
	if len(rest) <= max {
		return kindLast, rest, false
	}
	return kindMore, rest[:max], false
}
