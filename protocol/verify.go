package protocol

import (
	"encoding/binary"
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"
)

// The FlatBuffers verifier. flatc 2.0.8 generates no Go verifiers, so this
// file checks a payload against a description of its schema (schema.go)
// before any generated accessor touches it: every offset, vtable, table,
// string and vector must lie inside the payload, be aligned as the
// reference (C++) verifier requires, and strings must be NUL-terminated.
// After verification the generated accessors for the described fields
// cannot index out of range. Unknown fields (vtable slots past the ones
// described) are ignored, as schema evolution requires.
//
// Work is linear in the payload's size: every table visited and every
// element of a vector of tables spends one unit of a budget of
// len(payload)/2+64 units, so a payload whose offsets point many times at
// the same table (legal FlatBuffers, but also a way to make a reader loop)
// cannot make verification or decoding quadratic.

// maxDepth bounds table nesting. The schema nests 3 deep; the bound is a
// second guard should it ever become recursive.
const maxDepth = 16

// fieldKind is how a field is stored.
type fieldKind uint8

const (
	kScalar   fieldKind = iota // inline scalar or struct: size and align bytes
	kString                    // offset to a string
	kVecTable                  // offset to a vector of offsets to tables
)

// fieldSpec describes one field (one vtable slot) of a table.
type fieldSpec struct {
	kind  fieldKind
	size  uint8        // inline size (kScalar)
	align uint8        // inline alignment (kScalar)
	sub   *tableSchema // element table (kVecTable)
}

// tableSchema describes a table: its fields in vtable order.
type tableSchema struct {
	name   string
	fields []fieldSpec
}

func scalar(size uint8) fieldSpec { return fieldSpec{kind: kScalar, size: size, align: size} }
func structField(size, align uint8) fieldSpec {
	return fieldSpec{kind: kScalar, size: size, align: align}
}
func vecOf(t *tableSchema) fieldSpec { return fieldSpec{kind: kVecTable, sub: t} }

var str = fieldSpec{kind: kString}

// emptyTable is a buffer holding one table with no fields. An empty payload
// decodes as this table: every field absent.
var emptyTable = []byte{
	8, 0, 0, 0, // root offset: the table is at 8
	4, 0, 4, 0, // vtable at 4: vtable size 4, table size 4, no fields
	4, 0, 0, 0, // table at 8: its vtable is 8-4 = 4
}

const emptyTableRoot = 8

type verifier struct {
	buf    []byte
	budget int
}

// verifyPayload checks that p is a valid buffer whose root table is s, and
// returns the buffer and root position to read it with: for an empty
// payload, emptyTable.
func verifyPayload(p []byte, s *tableSchema) ([]byte, flatbuffers.UOffsetT, error) {
	if len(p) == 0 {
		return emptyTable, emptyTableRoot, nil
	}
	if len(p) < 4 {
		return nil, 0, malformed(s, "shorter than a root offset", 0)
	}
	if uint64(len(p)) > math.MaxInt32 {
		return nil, 0, malformed(s, "larger than 2 GiB", 0)
	}
	v := verifier{buf: p, budget: len(p)/2 + 64}
	root, err := v.offset(0, s)
	if err != nil {
		return nil, 0, err
	}
	if err := v.table(root, s, 1); err != nil {
		return nil, 0, err
	}
	return p, flatbuffers.UOffsetT(root), nil
}

func malformed(s *tableSchema, what string, pos uint64) error {
	return fmt.Errorf("%w: %s: %s at byte %d", ErrMalformed, s.name, what, pos)
}

func (v *verifier) u16(pos uint64) uint64 { return uint64(binary.LittleEndian.Uint16(v.buf[pos:])) }
func (v *verifier) u32(pos uint64) uint64 { return uint64(binary.LittleEndian.Uint32(v.buf[pos:])) }

// offset follows the uoffset stored at pos (which the caller has bounds
// checked) and returns its target. Offsets point forward: zero and values
// of 2^31 or more are invalid, so no chain of offsets can loop.
func (v *verifier) offset(pos uint64, s *tableSchema) (uint64, error) {
	if pos%4 != 0 || pos+4 > uint64(len(v.buf)) {
		return 0, malformed(s, "offset out of bounds or misaligned", pos)
	}
	o := v.u32(pos)
	if o == 0 || o > math.MaxInt32 {
		return 0, malformed(s, "invalid offset", pos)
	}
	return pos + o, nil
}

func (v *verifier) table(pos uint64, s *tableSchema, depth int) error {
	if depth > maxDepth {
		return malformed(s, "tables nested too deep", pos)
	}
	v.budget--
	if v.budget < 0 {
		return malformed(s, "too many objects for the payload's size", pos)
	}
	n := uint64(len(v.buf))
	if pos%4 != 0 || pos+4 > n {
		return malformed(s, "table out of bounds or misaligned", pos)
	}
	vt := int64(pos) - int64(int32(binary.LittleEndian.Uint32(v.buf[pos:])))
	if vt < 0 || vt%2 != 0 || uint64(vt)+4 > n {
		return malformed(s, "vtable out of bounds or misaligned", pos)
	}
	vtPos := uint64(vt)
	vtSize, tblSize := v.u16(vtPos), v.u16(vtPos+2)
	if vtSize < 4 || vtSize%2 != 0 || vtPos+vtSize > n {
		return malformed(s, "bad vtable size", vtPos)
	}
	if tblSize < 4 || pos+tblSize > n {
		return malformed(s, "bad table size", vtPos)
	}
	for i := range s.fields {
		slot := 4 + 2*uint64(i)
		if slot+2 > vtSize {
			break // fields past the vtable's end are absent
		}
		fo := v.u16(vtPos + slot)
		if fo == 0 {
			continue
		}
		f := &s.fields[i]
		size, align := uint64(4), uint64(4)
		if f.kind == kScalar {
			size, align = uint64(f.size), uint64(f.align)
		}
		if fo < 4 || fo+size > tblSize {
			return malformed(s, fmt.Sprintf("field %d outside its table", i), pos)
		}
		fp := pos + fo
		if fp&(align-1) != 0 { // align is a power of two
			return malformed(s, fmt.Sprintf("field %d misaligned", i), fp)
		}
		if f.kind == kScalar {
			continue
		}
		target, err := v.offset(fp, s)
		if err != nil {
			return err
		}
		if f.kind == kString {
			err = v.string(target, s)
		} else {
			err = v.vectorOfTables(target, f.sub, depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// vector checks a vector's length prefix at pos and that count elements of
// elemSize bytes follow inside the buffer; it returns the count.
func (v *verifier) vector(pos, elemSize uint64, s *tableSchema) (uint64, error) {
	if pos%4 != 0 || pos+4 > uint64(len(v.buf)) {
		return 0, malformed(s, "vector out of bounds or misaligned", pos)
	}
	count := v.u32(pos)
	if pos+4+count*elemSize > uint64(len(v.buf)) {
		return 0, malformed(s, "vector longer than the payload", pos)
	}
	return count, nil
}

func (v *verifier) string(pos uint64, s *tableSchema) error {
	n, err := v.vector(pos, 1, s)
	if err != nil {
		return err
	}
	end := pos + 4 + n
	if end >= uint64(len(v.buf)) || v.buf[end] != 0 {
		return malformed(s, "string not NUL-terminated", pos)
	}
	return nil
}

func (v *verifier) vectorOfTables(pos uint64, sub *tableSchema, depth int) error {
	n, err := v.vector(pos, 4, sub)
	if err != nil {
		return err
	}
	if n > uint64(v.budget) {
		return malformed(sub, "too many objects for the payload's size", pos)
	}
	v.budget -= int(n)
	for i := uint64(0); i < n; i++ {
		t, err := v.offset(pos+4+4*i, sub)
		if err != nil {
			return err
		}
		if err := v.table(t, sub, depth+1); err != nil {
			return err
		}
	}
	return nil
}
