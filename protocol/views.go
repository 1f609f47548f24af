package protocol

import (
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringwire/ringwire/protocol/internal/fb"
)

// Views read a payload in place, for the hot path: a View… function
// verifies the payload once and returns a small value whose getters read
// straight from it. String getters return []byte aliasing the payload
// (valid as long as the payload is, and only while nobody writes to it);
// nothing is copied or allocated. Vector getters take an index in
// [0, …Len()) and panic outside it, as slices do. An empty payload is a
// valid message with every field absent (zero).

func checkIndex(i, n int) {
	if uint(i) >= uint(n) {
		panic(fmt.Sprintf("protocol: index %d out of range [0:%d]", i, n))
	}
}

func usageOf(u *fb.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	return Usage{PromptTokens: u.PromptTokens(), CompletionTokens: u.CompletionTokens()}
}

// HandshakeView reads a Handshake payload in place.
type HandshakeView struct{ t fb.Handshake }

// ViewHandshake verifies payload and returns a view of it.
func ViewHandshake(payload []byte) (v HandshakeView, _ error) {
	buf, root, err := verifyPayload(payload, schemaHandshake)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v HandshakeView) MinVersion() uint16   { return v.t.MinVersion() }
func (v HandshakeView) MaxVersion() uint16   { return v.t.MaxVersion() }
func (v HandshakeView) Features() Features   { return Features(v.t.Features()) }
func (v HandshakeView) ClientName() []byte   { return v.t.ClientName() }
func (v HandshakeView) SessionID() uint64    { return v.t.SessionId() }
func (v HandshakeView) TxRingBytes() uint64  { return v.t.TxRingBytes() }
func (v HandshakeView) RxRingBytes() uint64  { return v.t.RxRingBytes() }
func (v HandshakeView) Transport() Transport { return Transport(v.t.Transport()) }
func (v HandshakeView) MaxPayload() uint32   { return v.t.MaxPayload() }

// HandshakeAckView reads a HandshakeAck payload in place.
type HandshakeAckView struct{ t fb.HandshakeAck }

// ViewHandshakeAck verifies payload and returns a view of it.
func ViewHandshakeAck(payload []byte) (v HandshakeAckView, _ error) {
	buf, root, err := verifyPayload(payload, schemaHandshakeAck)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v HandshakeAckView) Version() uint16             { return v.t.Version() }
func (v HandshakeAckView) Features() Features          { return Features(v.t.Features()) }
func (v HandshakeAckView) ServerName() []byte          { return v.t.ServerName() }
func (v HandshakeAckView) SessionID() uint64           { return v.t.SessionId() }
func (v HandshakeAckView) TxRingBytes() uint64         { return v.t.TxRingBytes() }
func (v HandshakeAckView) RxRingBytes() uint64         { return v.t.RxRingBytes() }
func (v HandshakeAckView) Transport() Transport        { return Transport(v.t.Transport()) }
func (v HandshakeAckView) MaxPayload() uint32          { return v.t.MaxPayload() }
func (v HandshakeAckView) MaxInflight() uint32         { return v.t.MaxInflight() }
func (v HandshakeAckView) HeartbeatIntervalMS() uint32 { return v.t.HeartbeatIntervalMs() }

// ToolCallView reads a ToolCall, as a payload or inside another message.
type ToolCallView struct{ t fb.ToolCall }

// ViewToolCall verifies payload and returns a view of it.
func ViewToolCall(payload []byte) (v ToolCallView, _ error) {
	buf, root, err := verifyPayload(payload, schemaToolCall)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v ToolCallView) ID() []byte        { return v.t.Id() }
func (v ToolCallView) Name() []byte      { return v.t.Name() }
func (v ToolCallView) Arguments() []byte { return v.t.Arguments() }
func (v ToolCallView) TimeoutMS() uint32 { return v.t.TimeoutMs() }

// ToolView reads a Tool inside a CompletionRequest.
type ToolView struct{ t fb.Tool }

func (v ToolView) Name() []byte        { return v.t.Name() }
func (v ToolView) Description() []byte { return v.t.Description() }
func (v ToolView) Parameters() []byte  { return v.t.Parameters() }

// ChatMessageView reads a ChatMessage inside a CompletionRequest.
type ChatMessageView struct{ t fb.Message }

func (v ChatMessageView) Role() Role         { return Role(v.t.Role()) }
func (v ChatMessageView) Content() []byte    { return v.t.Content() }
func (v ChatMessageView) ToolCallsLen() int  { return v.t.ToolCallsLength() }
func (v ChatMessageView) ToolCallID() []byte { return v.t.ToolCallId() }

// ToolCall returns the i'th tool call.
func (v ChatMessageView) ToolCall(i int) (c ToolCallView) {
	checkIndex(i, v.t.ToolCallsLength())
	v.t.ToolCalls(&c.t, i)
	return c
}

// CompletionRequestView reads a CompletionRequest payload in place.
type CompletionRequestView struct{ t fb.CompletionRequest }

// ViewCompletionRequest verifies payload and returns a view of it.
func ViewCompletionRequest(payload []byte) (v CompletionRequestView, _ error) {
	buf, root, err := verifyPayload(payload, schemaCompletionRequest)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v CompletionRequestView) Model() []byte        { return v.t.Model() }
func (v CompletionRequestView) MessagesLen() int     { return v.t.MessagesLength() }
func (v CompletionRequestView) ToolsLen() int        { return v.t.ToolsLength() }
func (v CompletionRequestView) MaxTokens() uint32    { return v.t.MaxTokens() }
func (v CompletionRequestView) SystemPrompt() []byte { return v.t.SystemPrompt() }
func (v CompletionRequestView) Stream() bool         { return v.t.Stream() }

// Message returns the i'th message of the conversation.
func (v CompletionRequestView) Message(i int) (m ChatMessageView) {
	checkIndex(i, v.t.MessagesLength())
	v.t.Messages(&m.t, i)
	return m
}

// Tool returns the i'th tool.
func (v CompletionRequestView) Tool(i int) (t ToolView) {
	checkIndex(i, v.t.ToolsLength())
	v.t.Tools(&t.t, i)
	return t
}

// Temperature returns the sampling temperature and whether it is set.
func (v CompletionRequestView) Temperature() (float32, bool) {
	tab := v.t.Table()
	o := tab.Offset(10) // vtable slot of field 3, temperature
	if o == 0 {
		return 0, false
	}
	return tab.GetFloat32(flatbuffers.UOffsetT(o) + tab.Pos), true
}

// CompletionResponseView reads a CompletionResponse payload in place.
type CompletionResponseView struct{ t fb.CompletionResponse }

// ViewCompletionResponse verifies payload and returns a view of it.
func ViewCompletionResponse(payload []byte) (v CompletionResponseView, _ error) {
	buf, root, err := verifyPayload(payload, schemaCompletionResponse)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v CompletionResponseView) Content() []byte   { return v.t.Content() }
func (v CompletionResponseView) ToolCallsLen() int { return v.t.ToolCallsLength() }
func (v CompletionResponseView) FinishReason() FinishReason {
	return FinishReason(v.t.FinishReason())
}
func (v CompletionResponseView) Usage() Usage  { var u fb.Usage; return usageOf(v.t.Usage(&u)) }
func (v CompletionResponseView) Model() []byte { return v.t.Model() }

// ToolCall returns the i'th tool call.
func (v CompletionResponseView) ToolCall(i int) (c ToolCallView) {
	checkIndex(i, v.t.ToolCallsLength())
	v.t.ToolCalls(&c.t, i)
	return c
}

// ToolCallDeltaView reads a ToolCallDelta inside a StreamChunk.
type ToolCallDeltaView struct{ t fb.ToolCallDelta }

func (v ToolCallDeltaView) Index() uint32          { return v.t.Index() }
func (v ToolCallDeltaView) ID() []byte             { return v.t.Id() }
func (v ToolCallDeltaView) Name() []byte           { return v.t.Name() }
func (v ToolCallDeltaView) ArgumentsDelta() []byte { return v.t.ArgumentsDelta() }

// StreamChunkView reads a StreamChunk payload in place.
type StreamChunkView struct{ t fb.StreamChunk }

// ViewStreamChunk verifies payload and returns a view of it.
func ViewStreamChunk(payload []byte) (v StreamChunkView, _ error) {
	buf, root, err := verifyPayload(payload, schemaStreamChunk)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v StreamChunkView) Sequence() uint32           { return v.t.Sequence() }
func (v StreamChunkView) Delta() []byte              { return v.t.Delta() }
func (v StreamChunkView) ToolCallsLen() int          { return v.t.ToolCallsLength() }
func (v StreamChunkView) Final() bool                { return v.t.Final() }
func (v StreamChunkView) FinishReason() FinishReason { return FinishReason(v.t.FinishReason()) }
func (v StreamChunkView) Usage() Usage               { var u fb.Usage; return usageOf(v.t.Usage(&u)) }

// ToolCall returns the i'th tool-call delta.
func (v StreamChunkView) ToolCall(i int) (d ToolCallDeltaView) {
	checkIndex(i, v.t.ToolCallsLength())
	v.t.ToolCalls(&d.t, i)
	return d
}

// ErrorView reads an Error payload in place.
type ErrorView struct{ t fb.Error }

// ViewError verifies payload and returns a view of it.
func ViewError(payload []byte) (v ErrorView, _ error) {
	buf, root, err := verifyPayload(payload, schemaError)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v ErrorView) Code() ErrorCode { return ErrorCode(v.t.Code()) }
func (v ErrorView) Message() []byte { return v.t.Message() }
func (v ErrorView) Retryable() bool { return v.t.Retryable() }

// HeartbeatView reads a Heartbeat payload in place.
type HeartbeatView struct{ t fb.Heartbeat }

// ViewHeartbeat verifies payload and returns a view of it.
func ViewHeartbeat(payload []byte) (v HeartbeatView, _ error) {
	buf, root, err := verifyPayload(payload, schemaHeartbeat)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v HeartbeatView) SentUnixNano() int64 { return v.t.SentUnixNano() }
func (v HeartbeatView) EchoUnixNano() int64 { return v.t.EchoUnixNano() }

// CancelView reads a Cancel payload in place.
type CancelView struct{ t fb.Cancel }

// ViewCancel verifies payload and returns a view of it.
func ViewCancel(payload []byte) (v CancelView, _ error) {
	buf, root, err := verifyPayload(payload, schemaCancel)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v CancelView) Reason() []byte { return v.t.Reason() }

// DisconnectView reads a Disconnect payload in place.
type DisconnectView struct{ t fb.Disconnect }

// ViewDisconnect verifies payload and returns a view of it.
func ViewDisconnect(payload []byte) (v DisconnectView, _ error) {
	buf, root, err := verifyPayload(payload, schemaDisconnect)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v DisconnectView) Code() ErrorCode { return ErrorCode(v.t.Code()) }
func (v DisconnectView) Reason() []byte  { return v.t.Reason() }

// ToolResultView reads a ToolResult payload in place.
type ToolResultView struct{ t fb.ToolResult }

// ViewToolResult verifies payload and returns a view of it.
func ViewToolResult(payload []byte) (v ToolResultView, _ error) {
	buf, root, err := verifyPayload(payload, schemaToolResult)
	if err == nil {
		v.t.Init(buf, root)
	}
	return v, err
}

func (v ToolResultView) CallID() []byte  { return v.t.CallId() }
func (v ToolResultView) Content() []byte { return v.t.Content() }
func (v ToolResultView) IsError() bool   { return v.t.IsError() }
