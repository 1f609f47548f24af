// Package protocol is ringwire's wire protocol: the 24-byte frame header
// with its CRC32, the flags and the message-type registry, the frame rules,
// the FlatBuffers payloads with a hand-written verifier, zstd compression,
// and a frame Reader and Writer for byte streams. SPEC.md in this directory
// specifies the bytes; this package follows it, and the golden vectors in
// testdata/golden tie the two together.
//
// # Frames
//
// AppendFrame encodes a frame; ParseFrame parses one in place (the
// payload aliases the input) and checks framing only: magic, version,
// reserved flag bits, length against the maximum, CRC. ValidateRules
// checks the frame rules one frame can show by itself; payloads are
// checked when they are decoded.
//
//	buf = protocol.AppendFrame(buf[:0], protocol.MsgHeartbeat, protocol.FlagRequest, id, payload)
//	f, n, err := protocol.ParseFrame(buf) // errors.Is(err, protocol.ErrShortFrame): read more
//
// # Payloads
//
// Each message type's payload has a plain Go type (CompletionRequest,
// StreamChunk, Error, ...). Encode them with an Encoder, which reuses its
// buffer (zero allocations in steady state), decode them with Unmarshal or
// Decode, or read them in place, without copying or allocating, with the
// View functions, whose string getters return []byte aliasing the payload:
//
//	var enc protocol.Encoder
//	buf = enc.AppendFrame(buf[:0], protocol.FlagRequest, 2, &protocol.CompletionRequest{
//		Model:    "mock",
//		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: "hi"}},
//	})
//
//	v, err := protocol.ViewCompletionRequest(f.Payload)
//	if err != nil { // errors.Is(err, protocol.ErrMalformed)
//		...
//	}
//	model := v.Model() // []byte inside f.Payload
//
// Every decoder verifies the payload first (offsets, lengths, alignment,
// nesting, a budget that keeps the work linear), so bytes from another
// process never make it panic or loop; Unmarshal also has a recover
// backstop. The generated FlatBuffers code lives in internal/fb and is
// regenerated from schema/ringwire.fbs by `go generate`.
//
// # Streams
//
// Reader and Writer carry frames over an io.Reader and io.Writer (the
// socket transport) with reused and pooled buffers: zero allocations per
// frame in steady state, and never a buffer larger than one frame of the
// maximum size, allocated only once that frame's header is validated.
// After the handshake grants FeatureZstd, EnableCompression on both turns
// on zstd for large payloads; decompression is bounded by the maximum too.
//
//	w := protocol.NewWriter(conn)
//	r := protocol.NewReader(conn, protocol.WithMaxPayload(1<<20))
//	err := w.WriteMessage(protocol.FlagRequest, 1, &protocol.Handshake{MinVersion: 1, MaxVersion: 1})
//	f, err := r.ReadFrame() // f.Payload is valid until the next ReadFrame
//
// Nothing in this package is safe for concurrent use unless it says so.
package protocol
