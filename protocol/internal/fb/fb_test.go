package fb_test

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/protocol/internal/fb"
)

// These tests check the generated code against the protocol package both
// ways: payloads built with the generated builder functions on
// flatbuffers.Builder (back to front, the standard layout) decode with the
// protocol package's verifier, Unmarshal and views; and every generated
// accessor and mutator reads the protocol Encoder's (front to back)
// payloads without trouble. This file is not generated: go generate
// leaves *_test.go files in this directory alone.

// fixtures is one message of each type with every field set.
func fixtures() []protocol.Message {
	temp := float32(0.25)
	calls := []protocol.ToolCall{{ID: "c1", Name: "read_file", Arguments: `{"path":"a"}`, TimeoutMS: 100}, {ID: "c2", Name: "search"}}
	usage := protocol.Usage{PromptTokens: 11, CompletionTokens: 22}
	return []protocol.Message{
		&protocol.Handshake{MinVersion: 1, MaxVersion: 2, Features: protocol.FeatureZstd, ClientName: "client",
			SessionID: 7, TxRingBytes: 1 << 20, RxRingBytes: 2 << 20, Transport: protocol.TransportShm, MaxPayload: 4096},
		&protocol.HandshakeAck{Version: 1, Features: protocol.FeatureZstd, ServerName: "server", SessionID: 8,
			TxRingBytes: 3, RxRingBytes: 4, Transport: protocol.TransportSocket, MaxPayload: 5, MaxInflight: 6, HeartbeatIntervalMS: 7},
		&protocol.CompletionRequest{Model: "m", Temperature: &temp, MaxTokens: 9, SystemPrompt: "sys", Stream: true,
			Messages: []protocol.ChatMessage{
				{Role: protocol.RoleUser, Content: "q"},
				{Role: protocol.RoleAssistant, ToolCalls: calls},
				{Role: protocol.RoleTool, Content: "r", ToolCallID: "c1"},
			},
			Tools: []protocol.Tool{{Name: "read_file", Description: "d", Parameters: `{"type":"object"}`}}},
		&protocol.CompletionResponse{Content: "a", ToolCalls: calls, FinishReason: protocol.FinishToolCalls, Usage: usage, Model: "m"},
		&protocol.StreamChunk{Sequence: 3, Delta: "d", Final: true, FinishReason: protocol.FinishStop, Usage: usage,
			ToolCalls: []protocol.ToolCallDelta{{Index: 1, ID: "c3", Name: "n", ArgumentsDelta: "{"}}},
		&protocol.Error{Code: protocol.ErrCodeTimeout, Message: "slow", Retryable: true},
		&protocol.Heartbeat{SentUnixNano: 1, EchoUnixNano: 2},
		&protocol.Cancel{Reason: "esc"},
		&protocol.Disconnect{Code: protocol.ErrCodeUnavailable, Reason: "bye"},
		&calls[0],
		&protocol.ToolResult{CallID: "c1", Content: "out", IsError: true},
	}
}

// builder builds payloads the standard way, with the generated builder
// functions on a flatbuffers.Builder.
type builder struct {
	b    *flatbuffers.Builder
	offs []flatbuffers.UOffsetT
}

func (e *builder) str(s string) flatbuffers.UOffsetT {
	if s == "" {
		return 0
	}
	return e.b.CreateString(s)
}

func vector[T any](e *builder, xs []T, build func(*builder, *T) flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	if len(xs) == 0 {
		return 0
	}
	mark := len(e.offs)
	for i := range xs {
		off := build(e, &xs[i])
		e.offs = append(e.offs, off)
	}
	v := e.b.CreateVectorOfTables(e.offs[mark:])
	e.offs = e.offs[:mark]
	return v
}

// build lays m out with flatbuffers.Builder.
func build(m protocol.Message) []byte {
	e := &builder{b: flatbuffers.NewBuilder(0)}
	var root flatbuffers.UOffsetT
	switch m := m.(type) {
	case *protocol.Handshake:
		root = buildHandshake(e, m)
	case *protocol.HandshakeAck:
		root = buildHandshakeAck(e, m)
	case *protocol.ToolCall:
		root = buildToolCall(e, m)
	case *protocol.CompletionRequest:
		root = buildCompletionRequest(e, m)
	case *protocol.CompletionResponse:
		root = buildCompletionResponse(e, m)
	case *protocol.StreamChunk:
		root = buildStreamChunk(e, m)
	case *protocol.Error:
		root = buildError(e, m)
	case *protocol.Heartbeat:
		root = buildHeartbeat(e, m)
	case *protocol.Cancel:
		root = buildCancel(e, m)
	case *protocol.Disconnect:
		root = buildDisconnect(e, m)
	case *protocol.ToolResult:
		root = buildToolResult(e, m)
	}
	e.b.Finish(root)
	return e.b.FinishedBytes()
}

func TestBuilderPayloadsDecode(t *testing.T) {
	for _, m := range fixtures() {
		p := build(m)
		got, err := protocol.Decode(m.MsgType(), p)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%v: Builder payload decodes to %+v, %v; want %+v", m.MsgType(), got, err, m)
		}
		if bytes.Equal(p, protocol.Marshal(m)) {
			t.Errorf("%v: the two layouts agree byte for byte; this test then proves less", m.MsgType())
		}
	}
}

// roots gives each root table's GetRootAs and GetSizePrefixedRootAs.
var roots = map[protocol.MsgType][2]func([]byte, flatbuffers.UOffsetT) any{
	protocol.MsgHandshake: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsHandshake(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsHandshake(b, o) }},
	protocol.MsgHandshakeAck: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsHandshakeAck(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsHandshakeAck(b, o) }},
	protocol.MsgCompletionRequest: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsCompletionRequest(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsCompletionRequest(b, o) }},
	protocol.MsgCompletionResponse: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsCompletionResponse(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsCompletionResponse(b, o) }},
	protocol.MsgStreamChunk: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsStreamChunk(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsStreamChunk(b, o) }},
	protocol.MsgError: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsError(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsError(b, o) }},
	protocol.MsgHeartbeat: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsHeartbeat(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsHeartbeat(b, o) }},
	protocol.MsgCancel: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsCancel(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsCancel(b, o) }},
	protocol.MsgDisconnect: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsDisconnect(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsDisconnect(b, o) }},
	protocol.MsgToolCall: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsToolCall(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsToolCall(b, o) }},
	protocol.MsgToolResult: {
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetRootAsToolResult(b, o) },
		func(b []byte, o flatbuffers.UOffsetT) any { return fb.GetSizePrefixedRootAsToolResult(b, o) }},
}

// TestAccessorsAndMutators calls every method of every generated table
// type on the Encoder's payloads (and sub-tables reached from them), then
// checks the payload, mutated in place, still verifies.
func TestAccessorsAndMutators(t *testing.T) {
	var all []protocol.Message
	for _, m := range fixtures() {
		zero, _ := protocol.New(m.MsgType()) // every field absent
		all = append(all, m, zero)
	}
	for _, m := range all {
		p := protocol.Marshal(m)
		get := roots[m.MsgType()]
		sized := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
		sized = append(sized, p...)
		callAll(t, reflect.ValueOf(get[1](sized, 0)), 0)
		callAll(t, reflect.ValueOf(get[0](p, 0)), 0)
		if err := protocol.VerifyPayload(m.MsgType(), p); err != nil {
			t.Errorf("%v after mutation: %v", m.MsgType(), err)
		}
	}
}

// callAll calls each method of the table accessor v with zero arguments
// (index 0, a fresh object to fill), descending into filled sub-tables.
func callAll(t *testing.T, v reflect.Value, depth int) {
	typ := v.Type()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if m.Name == "Init" {
			continue
		}
		args := []reflect.Value{v}
		for a := 1; a < m.Type.NumIn(); a++ {
			if at := m.Type.In(a); at.Kind() == reflect.Pointer {
				args = append(args, reflect.New(at.Elem()))
			} else {
				args = append(args, reflect.Zero(at))
			}
		}
		out := m.Func.Call(args)
		if depth > 3 || len(args) < 2 || args[1].Kind() != reflect.Pointer {
			continue
		}
		filled := len(out) == 1 && (out[0].Kind() == reflect.Bool && out[0].Bool() ||
			out[0].Kind() == reflect.Pointer && !out[0].IsNil())
		if filled {
			callAll(t, args[1], depth+1)
		}
	}
}

func TestStartVectors(t *testing.T) {
	b := flatbuffers.NewBuilder(0)
	for _, start := range []func(*flatbuffers.Builder, int) flatbuffers.UOffsetT{
		fb.CompletionRequestStartMessagesVector, fb.CompletionRequestStartToolsVector,
		fb.CompletionResponseStartToolCallsVector, fb.MessageStartToolCallsVector,
		fb.StreamChunkStartToolCallsVector,
	} {
		start(b, 1)
		b.PrependUOffsetT(b.Offset())
		if b.EndVector(1) == 0 {
			t.Fatal("empty vector")
		}
	}
}

func TestEnums(t *testing.T) {
	for _, e := range []struct {
		names map[string]string
		str   func(int) string
	}{
		{enumNames(fb.EnumNamesRole), func(v int) string { return fb.Role(v).String() }},
		{enumNames(fb.EnumNamesTransport), func(v int) string { return fb.Transport(v).String() }},
		{enumNames(fb.EnumNamesFinishReason), func(v int) string { return fb.FinishReason(v).String() }},
	} {
		for v := range 256 {
			s := e.str(v)
			if name, ok := e.names[s]; ok != !strings.Contains(s, "(") || ok && name == "" {
				t.Errorf("value %d: %q", v, s)
			}
		}
	}
	if fb.EnumValuesRole["Tool"] != fb.RoleTool || fb.EnumValuesTransport["Shm"] != fb.TransportShm ||
		fb.EnumValuesFinishReason["Length"] != fb.FinishReasonLength {
		t.Error("EnumValues maps")
	}
	// The protocol package's enums have the schema's values.
	if int(protocol.RoleTool) != int(fb.RoleTool) || int(protocol.TransportSocket) != int(fb.TransportSocket) ||
		int(protocol.FinishError) != int(fb.FinishReasonError) {
		t.Error("protocol enums differ from the schema's")
	}
}

func enumNames[K ~uint8](m map[K]string) map[string]string {
	out := map[string]string{}
	for _, v := range m {
		out[v] = v
	}
	return out
}

// The builders, one per table, with the generated functions.

func buildHandshake(e *builder, m *protocol.Handshake) flatbuffers.UOffsetT {
	b := e.b
	name := e.str(m.ClientName)
	fb.HandshakeStart(b)
	fb.HandshakeAddMinVersion(b, m.MinVersion)
	fb.HandshakeAddMaxVersion(b, m.MaxVersion)
	fb.HandshakeAddFeatures(b, uint64(m.Features))
	fb.HandshakeAddClientName(b, name)
	fb.HandshakeAddSessionId(b, m.SessionID)
	fb.HandshakeAddTxRingBytes(b, m.TxRingBytes)
	fb.HandshakeAddRxRingBytes(b, m.RxRingBytes)
	fb.HandshakeAddTransport(b, fb.Transport(m.Transport))
	fb.HandshakeAddMaxPayload(b, m.MaxPayload)
	return fb.HandshakeEnd(b)
}

func buildHandshakeAck(e *builder, m *protocol.HandshakeAck) flatbuffers.UOffsetT {
	b := e.b
	name := e.str(m.ServerName)
	fb.HandshakeAckStart(b)
	fb.HandshakeAckAddVersion(b, m.Version)
	fb.HandshakeAckAddFeatures(b, uint64(m.Features))
	fb.HandshakeAckAddServerName(b, name)
	fb.HandshakeAckAddSessionId(b, m.SessionID)
	fb.HandshakeAckAddTxRingBytes(b, m.TxRingBytes)
	fb.HandshakeAckAddRxRingBytes(b, m.RxRingBytes)
	fb.HandshakeAckAddTransport(b, fb.Transport(m.Transport))
	fb.HandshakeAckAddMaxPayload(b, m.MaxPayload)
	fb.HandshakeAckAddMaxInflight(b, m.MaxInflight)
	fb.HandshakeAckAddHeartbeatIntervalMs(b, m.HeartbeatIntervalMS)
	return fb.HandshakeAckEnd(b)
}

func buildToolCall(e *builder, m *protocol.ToolCall) flatbuffers.UOffsetT {
	b := e.b
	id, name, args := e.str(m.ID), e.str(m.Name), e.str(m.Arguments)
	fb.ToolCallStart(b)
	fb.ToolCallAddId(b, id)
	fb.ToolCallAddName(b, name)
	fb.ToolCallAddArguments(b, args)
	fb.ToolCallAddTimeoutMs(b, m.TimeoutMS)
	return fb.ToolCallEnd(b)
}

func buildTool(e *builder, m *protocol.Tool) flatbuffers.UOffsetT {
	b := e.b
	name, desc, params := e.str(m.Name), e.str(m.Description), e.str(m.Parameters)
	fb.ToolStart(b)
	fb.ToolAddName(b, name)
	fb.ToolAddDescription(b, desc)
	fb.ToolAddParameters(b, params)
	return fb.ToolEnd(b)
}

func buildChatMessage(e *builder, m *protocol.ChatMessage) flatbuffers.UOffsetT {
	content := e.str(m.Content)
	calls := vector(e, m.ToolCalls, buildToolCall)
	callID := e.str(m.ToolCallID)
	b := e.b
	fb.MessageStart(b)
	fb.MessageAddRole(b, fb.Role(m.Role))
	fb.MessageAddContent(b, content)
	fb.MessageAddToolCalls(b, calls)
	fb.MessageAddToolCallId(b, callID)
	return fb.MessageEnd(b)
}

func buildCompletionRequest(e *builder, m *protocol.CompletionRequest) flatbuffers.UOffsetT {
	model := e.str(m.Model)
	msgs := vector(e, m.Messages, buildChatMessage)
	tools := vector(e, m.Tools, buildTool)
	sys := e.str(m.SystemPrompt)
	b := e.b
	fb.CompletionRequestStart(b)
	fb.CompletionRequestAddModel(b, model)
	fb.CompletionRequestAddMessages(b, msgs)
	fb.CompletionRequestAddTools(b, tools)
	if m.Temperature != nil {
		fb.CompletionRequestAddTemperature(b, *m.Temperature)
	}
	fb.CompletionRequestAddMaxTokens(b, m.MaxTokens)
	fb.CompletionRequestAddSystemPrompt(b, sys)
	fb.CompletionRequestAddStream(b, m.Stream)
	return fb.CompletionRequestEnd(b)
}

func buildCompletionResponse(e *builder, m *protocol.CompletionResponse) flatbuffers.UOffsetT {
	content := e.str(m.Content)
	calls := vector(e, m.ToolCalls, buildToolCall)
	model := e.str(m.Model)
	b := e.b
	fb.CompletionResponseStart(b)
	fb.CompletionResponseAddContent(b, content)
	fb.CompletionResponseAddToolCalls(b, calls)
	fb.CompletionResponseAddFinishReason(b, fb.FinishReason(m.FinishReason))
	if m.Usage != (protocol.Usage{}) {
		fb.CompletionResponseAddUsage(b, fb.CreateUsage(b, m.Usage.PromptTokens, m.Usage.CompletionTokens))
	}
	fb.CompletionResponseAddModel(b, model)
	return fb.CompletionResponseEnd(b)
}

func buildToolCallDelta(e *builder, m *protocol.ToolCallDelta) flatbuffers.UOffsetT {
	b := e.b
	id, name, args := e.str(m.ID), e.str(m.Name), e.str(m.ArgumentsDelta)
	fb.ToolCallDeltaStart(b)
	fb.ToolCallDeltaAddIndex(b, m.Index)
	fb.ToolCallDeltaAddId(b, id)
	fb.ToolCallDeltaAddName(b, name)
	fb.ToolCallDeltaAddArgumentsDelta(b, args)
	return fb.ToolCallDeltaEnd(b)
}

func buildStreamChunk(e *builder, m *protocol.StreamChunk) flatbuffers.UOffsetT {
	delta := e.str(m.Delta)
	calls := vector(e, m.ToolCalls, buildToolCallDelta)
	b := e.b
	fb.StreamChunkStart(b)
	fb.StreamChunkAddSequence(b, m.Sequence)
	fb.StreamChunkAddDelta(b, delta)
	fb.StreamChunkAddToolCalls(b, calls)
	fb.StreamChunkAddFinal(b, m.Final)
	fb.StreamChunkAddFinishReason(b, fb.FinishReason(m.FinishReason))
	if m.Usage != (protocol.Usage{}) {
		fb.StreamChunkAddUsage(b, fb.CreateUsage(b, m.Usage.PromptTokens, m.Usage.CompletionTokens))
	}
	return fb.StreamChunkEnd(b)
}

func buildError(e *builder, m *protocol.Error) flatbuffers.UOffsetT {
	b := e.b
	msg := e.str(m.Message)
	fb.ErrorStart(b)
	fb.ErrorAddCode(b, uint16(m.Code))
	fb.ErrorAddMessage(b, msg)
	fb.ErrorAddRetryable(b, m.Retryable)
	return fb.ErrorEnd(b)
}

func buildHeartbeat(e *builder, m *protocol.Heartbeat) flatbuffers.UOffsetT {
	b := e.b
	fb.HeartbeatStart(b)
	fb.HeartbeatAddSentUnixNano(b, m.SentUnixNano)
	fb.HeartbeatAddEchoUnixNano(b, m.EchoUnixNano)
	return fb.HeartbeatEnd(b)
}

func buildCancel(e *builder, m *protocol.Cancel) flatbuffers.UOffsetT {
	b := e.b
	reason := e.str(m.Reason)
	fb.CancelStart(b)
	fb.CancelAddReason(b, reason)
	return fb.CancelEnd(b)
}

func buildDisconnect(e *builder, m *protocol.Disconnect) flatbuffers.UOffsetT {
	b := e.b
	reason := e.str(m.Reason)
	fb.DisconnectStart(b)
	fb.DisconnectAddCode(b, uint16(m.Code))
	fb.DisconnectAddReason(b, reason)
	return fb.DisconnectEnd(b)
}

func buildToolResult(e *builder, m *protocol.ToolResult) flatbuffers.UOffsetT {
	b := e.b
	callID, content := e.str(m.CallID), e.str(m.Content)
	fb.ToolResultStart(b)
	fb.ToolResultAddCallId(b, callID)
	fb.ToolResultAddContent(b, content)
	fb.ToolResultAddIsError(b, m.IsError)
	return fb.ToolResultEnd(b)
}
