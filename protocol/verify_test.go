package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringwire/ringwire/protocol/internal/fb"
)

// TestVerifierSchemaMatchesFBS parses schema/ringwire.fbs and checks that
// the verifier's description of every table (schema.go) agrees with it
// field by field, so a schema change cannot leave a field unverified.
func TestVerifierSchemaMatchesFBS(t *testing.T) {
	src := string(readFile(t, "schema/ringwire.fbs"))
	src = regexp.MustCompile(`//[^\n]*`).ReplaceAllString(src, "")
	enums := map[string]uint8{}
	for _, m := range regexp.MustCompile(`enum (\w+)\s*:\s*(\w+)`).FindAllStringSubmatch(src, -1) {
		enums[m[1]] = scalarSizes[m[2]]
	}
	structs := map[string][2]uint8{}
	for _, m := range regexp.MustCompile(`struct (\w+)\s*\{([^}]*)\}`).FindAllStringSubmatch(src, -1) {
		var size, align uint8
		for _, f := range fields(m[2]) {
			n := scalarSizes[f[1]]
			size, align = size+n, max(align, n)
		}
		structs[m[1]] = [2]uint8{size, align}
	}
	tables := map[string]*tableSchema{}
	for _, s := range []*tableSchema{schemaToolCall, schemaTool, schemaMessage, schemaCompletionRequest,
		schemaCompletionResponse, schemaToolCallDelta, schemaStreamChunk, schemaError, schemaHeartbeat,
		schemaCancel, schemaDisconnect, schemaToolResult, schemaHandshake, schemaHandshakeAck} {
		tables[s.name] = s
	}
	seen := 0
	for _, m := range regexp.MustCompile(`table (\w+)\s*\{([^}]*)\}`).FindAllStringSubmatch(src, -1) {
		name := m[1]
		s, ok := tables[name]
		if !ok {
			t.Errorf("table %s has no verifier description", name)
			continue
		}
		seen++
		fs := fields(m[2])
		if len(fs) != len(s.fields) {
			t.Errorf("%s: %d fields in the schema, %d in the verifier", name, len(fs), len(s.fields))
			continue
		}
		for i, f := range fs {
			typ := f[1]
			var want fieldSpec
			switch {
			case typ == "string":
				want = str
			case strings.HasPrefix(typ, "["):
				sub := tables[strings.Trim(typ, "[]")]
				if sub == nil {
					t.Fatalf("%s.%s: vector of %s is not supported by the verifier", name, f[0], typ)
				}
				want = vecOf(sub)
			case scalarSizes[typ] != 0:
				want = scalar(scalarSizes[typ])
			case enums[typ] != 0:
				want = scalar(enums[typ])
			case structs[typ] != [2]uint8{}:
				want = structField(structs[typ][0], structs[typ][1])
			default:
				t.Fatalf("%s.%s: type %s is not supported by the verifier", name, f[0], typ)
			}
			if s.fields[i] != want {
				t.Errorf("%s field %d (%s %s): verifier has %+v", name, i, f[0], typ, s.fields[i])
			}
		}
	}
	if seen != len(tables) {
		t.Errorf("the verifier describes %d tables, the schema has %d of them", len(tables), seen)
	}
	for typ, s := range schemaFor {
		if !strings.EqualFold(s.name, typ.String()) {
			t.Errorf("%v has root table %s", typ, s.name)
		}
	}
}

var scalarSizes = map[string]uint8{
	"bool": 1, "byte": 1, "ubyte": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2,
	"uint16": 2, "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "long": 8,
	"ulong": 8, "int64": 8, "uint64": 8, "double": 8, "float64": 8,
}

// fields splits a table body into [name, type] pairs.
func fields(body string) [][2]string {
	var out [][2]string
	for _, decl := range strings.Split(body, ";") {
		name, typ, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		typ, _, _ = strings.Cut(typ, "=")
		out = append(out, [2]string{strings.TrimSpace(name), strings.TrimSpace(typ)})
	}
	return out
}

// cancelHi is a Cancel{Reason: "hi"} payload written by hand:
//
//	 0: root offset 12
//	 4: vtable: 6 bytes, table 8 bytes, field 0 at +4; 2 bytes padding
//	12: table: soffset 8 (vtable at 12-8 = 4); field 0 at 16: offset 4 (to 20)
//	20: string: length 2, "hi", NUL, padding
func cancelHi() []byte {
	return []byte{
		12, 0, 0, 0,
		6, 0, 8, 0, 4, 0, 0, 0,
		8, 0, 0, 0, 4, 0, 0, 0,
		2, 0, 0, 0, 'h', 'i', 0, 0,
	}
}

func TestHandWrittenPayload(t *testing.T) {
	v, err := ViewCancel(cancelHi())
	if err != nil || string(v.Reason()) != "hi" {
		t.Fatalf("reason %q, %v", v.Reason(), err)
	}
	// It is also the Encoder's layout (which leaves out the final padding).
	if got := Marshal(&Cancel{Reason: "hi"}); !bytes.Equal(got, cancelHi()[:27]) {
		t.Errorf("Encoder writes\n% x\nSPEC.md has\n% x", got, cancelHi())
	}
}

func TestVerifierRejects(t *testing.T) {
	le32 := func(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
	le16 := func(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
	tests := []struct {
		name string
		mod  func(b []byte) []byte
	}{
		{"three bytes", func(b []byte) []byte { return b[:3] }},
		{"root offset 0", func(b []byte) []byte { le32(b, 0, 0); return b }},
		{"root offset past the end", func(b []byte) []byte { le32(b, 0, 28); return b }},
		{"root offset 2^31", func(b []byte) []byte { le32(b, 0, 1<<31); return b }},
		{"root misaligned", func(b []byte) []byte { le32(b, 0, 13); return b }},
		{"vtable before the buffer", func(b []byte) []byte { le32(b, 12, 16); return b }},
		{"vtable after the buffer", func(b []byte) []byte { le32(b, 12, 0xFFFFFFF0); return b }},
		{"vtable misaligned", func(b []byte) []byte { le32(b, 12, 7); return b }},
		{"vtable size 2", func(b []byte) []byte { le16(b, 4, 2); return b }},
		{"vtable size odd", func(b []byte) []byte { le16(b, 4, 7); return b }},
		{"vtable size past the end", func(b []byte) []byte { le16(b, 4, 0xFFFE); return b }},
		{"table size 2", func(b []byte) []byte { le16(b, 6, 2); return b }},
		{"table size past the end", func(b []byte) []byte { le16(b, 6, 100); return b }},
		{"field past the table", func(b []byte) []byte { le16(b, 8, 6); return b }},
		{"field inside the soffset", func(b []byte) []byte { le16(b, 8, 2); return b }},
		{"string offset 0", func(b []byte) []byte { le32(b, 16, 0); return b }},
		{"string offset past the end", func(b []byte) []byte { le32(b, 16, 64); return b }},
		{"string misaligned", func(b []byte) []byte { le32(b, 16, 5); return b }},
		{"string length past the end", func(b []byte) []byte { le32(b, 20, 5); return b }},
		{"string length 2^32-1", func(b []byte) []byte { le32(b, 20, 0xFFFFFFFF); return b }},
		{"string without NUL", func(b []byte) []byte { b[26] = '!'; return b }},
		{"string NUL past the end", func(b []byte) []byte { le32(b, 20, 4); return b }},
	}
	for _, tt := range tests {
		b := tt.mod(cancelHi())
		if _, err := ViewCancel(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	// A misaligned scalar: Error.code (2 bytes) at an odd offset.
	e := Marshal(&Error{Code: 7})
	v, _ := ViewError(e)
	tab := v.t.Table()
	vt := int(tab.Pos) - int(int32(binary.LittleEndian.Uint32(e[tab.Pos:])))
	le16(e, vt+4, binary.LittleEndian.Uint16(e[vt+4:])+1)
	if _, err := ViewError(e); !errors.Is(err, ErrMalformed) {
		t.Errorf("misaligned scalar: %v", err)
	}
}

// requestWithSharedMessages builds a CompletionRequest whose messages
// vector has n entries all pointing at one Message table, whose tool_calls
// vector has m entries all pointing at one ToolCall: legal FlatBuffers of
// about 4(n+m) bytes, and the shape of a payload that would make a naive
// reader do n*m work.
func requestWithSharedMessages(n, m int) []byte {
	b := flatbuffers.NewBuilder(0)
	name := b.CreateString("read_file")
	fb.ToolCallStart(b)
	fb.ToolCallAddName(b, name)
	call := fb.ToolCallEnd(b)
	shared := func(off flatbuffers.UOffsetT, count int) flatbuffers.UOffsetT {
		b.StartVector(4, count, 4)
		for range count {
			b.PrependUOffsetT(off)
		}
		return b.EndVector(count)
	}
	calls := shared(call, m)
	b.StartObject(4)
	b.PrependUOffsetTSlot(2, calls, 0)
	msg := b.EndObject()
	msgs := shared(msg, n)
	b.StartObject(7)
	b.PrependUOffsetTSlot(1, msgs, 0)
	b.Finish(b.EndObject())
	return b.FinishedBytes()
}

func TestVerifierBudget(t *testing.T) {
	// Shared references are legal ...
	p := requestWithSharedMessages(3, 2)
	var req CompletionRequest
	if err := req.Unmarshal(p); err != nil || len(req.Messages) != 3 || req.Messages[2].ToolCalls[1].Name != "read_file" {
		t.Fatalf("shared tables: %v %+v", err, req)
	}
	// ... but they cannot make the reader visit more objects than the
	// payload has room for: 1000 x 1000 references in about 8 KB.
	p = requestWithSharedMessages(1000, 1000)
	if err := VerifyPayload(MsgCompletionRequest, p); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "too many objects") {
		t.Fatalf("1000x1000 shared tables in %d bytes: %v", len(p), err)
	}
}

// TestVerifierDepth checks the nesting bound with a recursive schema (the
// real one nests only 3 deep).
func TestVerifierDepth(t *testing.T) {
	node := &tableSchema{name: "Node"}
	node.fields = []fieldSpec{vecOf(node)}
	build := func(depth int) []byte {
		b := flatbuffers.NewBuilder(0)
		var child flatbuffers.UOffsetT
		for d := range depth {
			var vec flatbuffers.UOffsetT
			if d > 0 {
				vec = b.CreateVectorOfTables([]flatbuffers.UOffsetT{child})
			}
			b.StartObject(1)
			b.PrependUOffsetTSlot(0, vec, 0)
			child = b.EndObject()
		}
		b.Finish(child)
		return b.FinishedBytes()
	}
	if _, _, err := verifyPayload(build(maxDepth), node); err != nil {
		t.Fatalf("depth %d: %v", maxDepth, err)
	}
	if _, _, err := verifyPayload(build(maxDepth+1), node); !errors.Is(err, ErrMalformed) {
		t.Fatalf("depth %d: %v", maxDepth+1, err)
	}
}

func TestVectorOfTablesErrors(t *testing.T) {
	good := Marshal(&CompletionResponse{ToolCalls: []ToolCall{{ID: "a"}, {ID: "b"}}})
	v, _ := ViewCompletionResponse(good)
	tab := v.t.Table()
	vecPos := int(tab.Vector(flatbuffers.UOffsetT(tab.Offset(6)))) - 4
	for name, mod := range map[string]func(b []byte){
		"count past the end":   func(b []byte) { binary.LittleEndian.PutUint32(b[vecPos:], 1000) },
		"element offset 0":     func(b []byte) { binary.LittleEndian.PutUint32(b[vecPos+4:], 0) },
		"element past the end": func(b []byte) { binary.LittleEndian.PutUint32(b[vecPos+8:], 4096) },
		"element misaligned":   func(b []byte) { binary.LittleEndian.PutUint32(b[vecPos+4:], 6) },
		"count 2^32-1":         func(b []byte) { binary.LittleEndian.PutUint32(b[vecPos:], 0xFFFFFFFF) },
	} {
		b := bytes.Clone(good)
		mod(b)
		if err := VerifyPayload(MsgCompletionResponse, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The vector field itself pointing out of bounds.
	b := bytes.Clone(good)
	fieldPos := int(tab.Pos) + int(tab.Offset(6))
	binary.LittleEndian.PutUint32(b[fieldPos:], uint32(len(b)))
	if err := VerifyPayload(MsgCompletionResponse, b); !errors.Is(err, ErrMalformed) {
		t.Errorf("vector offset past the end: %v", err)
	}
}

// TestTruncatedAndCorruptedPayloads cuts every sample payload at every
// length and flips every bit of it: the decoders return an error or a
// message, never panic, and whatever verifies can be read through the
// views (which have no recover).
func TestTruncatedAndCorruptedPayloads(t *testing.T) {
	for _, s := range samples() {
		typ := s.msg.MsgType()
		p := Marshal(s.msg)
		try := func(b []byte, what string) {
			m, err := Decode(typ, b)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("%s %s: %v", s.name, what, err)
				}
				return
			}
			if _, err := viewDecode(typ, b); err != nil {
				t.Fatalf("%s %s: Decode accepted, view refused: %v", s.name, what, err)
			}
			// What decodes re-encodes and decodes the same.
			again := Marshal(m)
			m2, err := Decode(typ, again)
			if err != nil || !bytes.Equal(Marshal(m2), again) {
				t.Fatalf("%s %s: re-encoding changed the message: %v", s.name, what, err)
			}
		}
		for n := range len(p) {
			try(p[:n], fmt.Sprintf("cut to %d", n))
		}
		for bit := range len(p) * 8 {
			b := bytes.Clone(p)
			b[bit/8] ^= 1 << (bit % 8)
			try(b, fmt.Sprintf("bit %d flipped", bit))
		}
	}
}
