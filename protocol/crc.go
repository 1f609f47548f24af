package protocol

import (
	"encoding/binary"
	"hash/crc32"
)

// The frame checksum is CRC32-IEEE (hash/crc32's IEEE). hash/crc32 is fast
// on long inputs (carry-less multiplication) but costs a call through a
// function variable per input, which also makes every slice passed to it
// escape to the heap; a frame's checksum covers a short header, often
// followed by a short payload. So short inputs go through crcSlice8 below,
// the same slicing-by-8 table method hash/crc32 uses for short inputs,
// inlined into the caller; long ones through hash/crc32.

// crcLong is the input length from which hash/crc32 is used.
const crcLong = 64

// crcTab holds the slicing-by-8 tables of the reflected IEEE polynomial:
// crcTab[0] is the byte-at-a-time table, crcTab[k][b] the CRC of byte b
// followed by k zero bytes.
var crcTab = func() (t [8][256]uint32) {
	t[0] = *crc32.IEEETable
	for b := range 256 {
		c := t[0][b]
		for k := 1; k < 8; k++ {
			c = t[0][byte(c)] ^ c>>8
			t[k][b] = c
		}
	}
	return t
}()

// crcUpdate continues the CRC32-IEEE state c (not inverted: start with
// 0xFFFFFFFF, invert at the end) over p.
func crcUpdate(c uint32, p []byte) uint32 {
	if len(p) >= crcLong {
		return ^crc32.Update(^c, crc32.IEEETable, p)
	}
	for len(p) >= 8 {
		c = crcStep8(c, binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]))
		p = p[8:]
	}
	if len(p) >= 4 {
		c ^= binary.LittleEndian.Uint32(p)
		c = crcTab[3][byte(c)] ^ crcTab[2][byte(c>>8)] ^ crcTab[1][byte(c>>16)] ^ crcTab[0][byte(c>>24)]
		p = p[4:]
	}
	for _, b := range p {
		c = crcTab[0][byte(c)^b] ^ c>>8
	}
	return c
}

// crcStep8 advances the CRC state c over 8 bytes, given as two
// little-endian words.
func crcStep8(c, lo, hi uint32) uint32 {
	c ^= lo
	return crcTab[7][byte(c)] ^ crcTab[6][byte(c>>8)] ^ crcTab[5][byte(c>>16)] ^ crcTab[4][byte(c>>24)] ^
		crcTab[3][byte(hi)] ^ crcTab[2][byte(hi>>8)] ^ crcTab[1][byte(hi>>16)] ^ crcTab[0][byte(hi>>24)]
}

// crcHeader is the CRC state after the 24 header bytes h, with the CRC
// field (bytes 20-23) taken as zero, from the initial state.
func crcHeader(h []byte) uint32 {
	_ = h[offCRC-1]
	c := crcStep8(0xFFFFFFFF, binary.LittleEndian.Uint32(h), binary.LittleEndian.Uint32(h[4:]))
	c = crcStep8(c, binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:]))
	return crcStep8(c, binary.LittleEndian.Uint32(h[16:]), 0)
}
