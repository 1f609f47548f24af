package shmring

import (
	"encoding/binary"
	"testing"
)

// FuzzSetupMessage: setup messages from the peer never panic the parser,
// and whatever parses is within bounds.
func FuzzSetupMessage(f *testing.F) {
	f.Add(hello{reqDialToListen: 4096, reqListenToDial: 1 << 20}.append(nil))
	f.Add(accept{capDialToListen: 4096, capListenToDial: 4096, segSize: newLayout(4096, 4096).size}.append(nil))
	f.Add(appendRefuse(nil, []byte("busy")))
	f.Add(appendReady(nil))
	f.Add([]byte("RWSU"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseSetupHeader(b, msgHello, msgAccept, msgRefuse, msgReady)
		if err != nil {
			return
		}
		body := b[setupHdr:]
		if uint32(len(body)) > h.bodyLen {
			body = body[:h.bodyLen]
		}
		switch h.typ {
		case msgHello:
			if m, err := parseHelloBody(body); err == nil {
				_ = roundRingSize(int(m.reqDialToListen))
			}
		case msgAccept:
			if m, err := parseAcceptBody(body); err == nil {
				if !isPow2Ring(uint64(m.capDialToListen)) || m.segSize != newLayout(uint64(m.capDialToListen), uint64(m.capListenToDial)).size {
					t.Fatalf("accepted bad grant %+v", m)
				}
			}
		case msgRefuse:
			if h.bodyLen > maxRefuseBody {
				t.Fatalf("refusal of %d bytes accepted", h.bodyLen)
			}
		}
	})
}

// FuzzSegmentHeader: a segment header only validates in its canonical form.
func FuzzSegmentHeader(f *testing.F) {
	good := make([]byte, headerSize)
	newLayout(4096, 8192).writeHeader(good)
	f.Add(good[:ctrlOff0], int64(headerSize+4096+8192), uint32(4096), uint32(8192))
	f.Add(make([]byte, 16), int64(0), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, size int64, c0, c1 uint32) {
		h := make([]byte, headerSize)
		copy(h, b)
		l, err := parseHeader(h, size, uint64(c0), uint64(c1))
		if err != nil {
			return
		}
		if l.size != uint64(size) || l.data[1]+l.cap[1] != l.size || l.data[0]+l.cap[0] != l.data[1] {
			t.Fatalf("inconsistent layout accepted: %+v", l)
		}
	})
}

// FuzzRing: whatever a peer writes into the ring and its producer position,
// the reader returns messages or an error, never panics nor reads outside
// the data area, and never returns more than the ring could hold.
func FuzzRing(f *testing.F) {
	const cp = 4096
	seed := func(msgs ...[]byte) []byte {
		mem := make([]byte, headerSize+2*cp)
		l := newLayout(cp, cp)
		l.writeHeader(mem)
		tx := txState{producer: producer{ringView: newRingView(mem, l, 0)}, maxMsg: 1 << 20}
		for _, m := range msgs {
			for done := 0; ; {
				kind, chunk, wt := tx.fragment(m, done)
				if ok, _ := tx.writeRecord(kind, uint64(len(m)), wt, chunk); !ok {
					break
				}
				done += len(chunk)
				if kind == kindMsg || kind == kindLast {
					break
				}
			}
		}
		out := make([]byte, 8+cp)
		binary.LittleEndian.PutUint64(out, tx.pos)
		copy(out[8:], tx.data)
		return out
	}
	f.Add(seed([]byte("hello"), make([]byte, 100)), uint8(0))
	f.Add(seed(make([]byte, 3000)), uint8(1))
	f.Add(seed([]byte("a"), []byte("b"), []byte("c")), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, mode uint8) {
		if len(in) < 8 {
			return
		}
		mem := make([]byte, headerSize+2*cp)
		l := newLayout(cp, cp)
		l.writeHeader(mem)
		rx := rxState{consumer: consumer{ringView: newRingView(mem, l, 0)}, maxMsg: 1 << 16}
		copy(rx.data, in[8:])
		rx.prod.Store(binary.LittleEndian.Uint64(in))
		var buf []byte
		for range 64 {
			var ok bool
			var err error
			switch mode % 3 {
			case 0:
				buf, ok, err = rx.readMsg(buf)
			case 1:
				var m []byte
				m, ok, err = rx.peek()
				if len(m) > 1<<16 {
					t.Fatalf("peeked %d bytes", len(m))
				}
				rx.release()
				rx.peeked = 0
			case 2:
				var p [100]byte
				var n int
				n, err = rx.readStream(p[:])
				ok = n > 0
			}
			if err != nil || !ok {
				return
			}
			if rx.pos-rx.released > cp || rx.pos > rx.prodSeen {
				t.Fatalf("cursor %d beyond producer %d", rx.pos, rx.prodSeen)
			}
			rx.release()
		}
	})
}
