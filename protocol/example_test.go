package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ringwire/ringwire/protocol"
)

func ExampleParseFrame() {
	buf := protocol.AppendFrame(nil, protocol.MsgCancel, protocol.FlagRequest, 42, nil)

	// Half a frame: read more and try again.
	_, _, err := protocol.ParseFrame(buf[:10])
	fmt.Println(errors.Is(err, protocol.ErrShortFrame))

	f, n, err := protocol.ParseFrame(buf)
	fmt.Println(f, n, err)

	// One flipped bit anywhere is caught.
	buf[13] ^= 0x04
	_, _, err = protocol.ParseFrame(buf)
	fmt.Println(errors.Is(err, protocol.ErrChecksum))
	// Output:
	// true
	// Cancel id=42 flags=request len=0 24 <nil>
	// true
}

func ExampleEncoder() {
	var enc protocol.Encoder // reuse it: encoding then allocates nothing
	frame := enc.AppendFrame(nil, protocol.FlagRequest, 2, &protocol.CompletionRequest{
		Model: "mock",
		Messages: []protocol.ChatMessage{
			{Role: protocol.RoleUser, Content: "Say hi"},
		},
		MaxTokens: 16,
		Stream:    true,
	})

	f, _, err := protocol.ParseFrame(frame)
	if err != nil {
		panic(err)
	}
	// Read in place: no copies, no allocations.
	v, err := protocol.ViewCompletionRequest(f.Payload)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %v %q, max %d, stream %v\n", v.Model(), v.Message(0).Role(), v.Message(0).Content(), v.MaxTokens(), v.Stream())

	// Or decode into the plain Go type.
	var req protocol.CompletionRequest
	if err := req.Unmarshal(f.Payload); err != nil {
		panic(err)
	}
	fmt.Println(req.Messages[0].Content)
	// Output:
	// mock: user "Say hi", max 16, stream true
	// Say hi
}

func ExampleDecode() {
	payload := protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeOverloaded, Message: "busy", Retryable: true})
	m, err := protocol.Decode(protocol.MsgError, payload)
	if err != nil {
		panic(err)
	}
	var perr *protocol.Error
	if errors.As(m.(error), &perr) {
		fmt.Println(perr, perr.Retryable)
	}

	_, err = protocol.Decode(protocol.MsgError, []byte{1, 2, 3, 4, 5})
	fmt.Println(errors.Is(err, protocol.ErrMalformed))
	// Output:
	// protocol error Overloaded: busy true
	// true
}

func ExampleValidateRules() {
	ok := protocol.Frame{Type: protocol.MsgStreamChunk, Flags: protocol.FlagResponse | protocol.FlagStream | protocol.FlagEnd, ID: 7}
	bad := protocol.Frame{Type: protocol.MsgStreamChunk, Flags: protocol.FlagRequest, ID: 7}
	fmt.Println(protocol.ValidateRules(ok))
	fmt.Println(protocol.ValidateRules(bad))
	// Output:
	// <nil>
	// protocol: frame breaks the protocol rules: StreamChunk id=7 flags=request: must be a response
}

func ExampleReader() {
	var conn bytes.Buffer // stands in for a socket

	w := protocol.NewWriter(&conn)
	w.EnableCompression(0) // both sides advertised FeatureZstd
	w.WriteMessage(protocol.FlagRequest, 1, &protocol.Heartbeat{SentUnixNano: 1000})
	w.WriteMessage(protocol.FlagResponse, 9, &protocol.ToolResult{CallID: "c1", Content: string(bytes.Repeat([]byte("line\n"), 2000))})

	r := protocol.NewReader(&conn, protocol.WithMaxPayload(1<<20))
	r.EnableCompression()
	for {
		f, err := r.ReadFrame() // f is valid until the next ReadFrame
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(f)
	}
	// Output:
	// Heartbeat id=1 flags=request len=24
	// ToolResult id=9 flags=response len=10037
}
