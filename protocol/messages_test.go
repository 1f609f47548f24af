package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMessagesRoundTrip(t *testing.T) {
	var e Encoder
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			p := bytes.Clone(e.Encode(s.msg))
			if err := VerifyPayload(s.msg.MsgType(), p); err != nil {
				t.Fatalf("VerifyPayload: %v", err)
			}
			got, err := Decode(s.msg.MsgType(), p)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, s.msg)
			}
			// The view reads the same values as Unmarshal.
			if v := viewOf(t, s.msg.MsgType(), p); !reflect.DeepEqual(v, got) {
				t.Fatalf("view:\n got %+v\nwant %+v", v, got)
			}
			if m := Marshal(s.msg); !bytes.Equal(m, p) {
				t.Fatalf("Marshal differs from Encoder.Encode")
			}
		})
	}
}

// viewOf reads every field of payload through the view API into a plain
// message, independently of the Unmarshal methods.
func viewOf(t testing.TB, typ MsgType, p []byte) Message {
	t.Helper()
	m, err := viewDecode(typ, p)
	if err != nil {
		t.Fatalf("view %v: %v", typ, err)
	}
	return m
}

func s(b []byte) string { return string(b) }

func viewToolCall(v ToolCallView) ToolCall {
	return ToolCall{ID: s(v.ID()), Name: s(v.Name()), Arguments: s(v.Arguments()), TimeoutMS: v.TimeoutMS()}
}

// viewDecode decodes through the views alone: every getter of every view.
// The fuzzers call it on every input that verifies, without the recover
// backstop, so a verifier gap panics there.
func viewDecode(typ MsgType, p []byte) (Message, error) {
	switch typ {
	case MsgHandshake:
		v, err := ViewHandshake(p)
		if err != nil {
			return nil, err
		}
		return &Handshake{v.MinVersion(), v.MaxVersion(), v.Features(), s(v.ClientName()), v.SessionID(),
			v.TxRingBytes(), v.RxRingBytes(), v.Transport(), v.MaxPayload()}, nil
	case MsgHandshakeAck:
		v, err := ViewHandshakeAck(p)
		if err != nil {
			return nil, err
		}
		return &HandshakeAck{v.Version(), v.Features(), s(v.ServerName()), v.SessionID(), v.TxRingBytes(),
			v.RxRingBytes(), v.Transport(), v.MaxPayload(), v.MaxInflight(), v.HeartbeatIntervalMS()}, nil
	case MsgCompletionRequest:
		v, err := ViewCompletionRequest(p)
		if err != nil {
			return nil, err
		}
		m := &CompletionRequest{Model: s(v.Model()), MaxTokens: v.MaxTokens(), SystemPrompt: s(v.SystemPrompt()), Stream: v.Stream()}
		if t, ok := v.Temperature(); ok {
			m.Temperature = &t
		}
		for i := range v.MessagesLen() {
			mv := v.Message(i)
			cm := ChatMessage{Role: mv.Role(), Content: s(mv.Content()), ToolCallID: s(mv.ToolCallID())}
			for j := range mv.ToolCallsLen() {
				cm.ToolCalls = append(cm.ToolCalls, viewToolCall(mv.ToolCall(j)))
			}
			m.Messages = append(m.Messages, cm)
		}
		for i := range v.ToolsLen() {
			tv := v.Tool(i)
			m.Tools = append(m.Tools, Tool{s(tv.Name()), s(tv.Description()), s(tv.Parameters())})
		}
		return m, nil
	case MsgCompletionResponse:
		v, err := ViewCompletionResponse(p)
		if err != nil {
			return nil, err
		}
		m := &CompletionResponse{Content: s(v.Content()), FinishReason: v.FinishReason(), Usage: v.Usage(), Model: s(v.Model())}
		for i := range v.ToolCallsLen() {
			m.ToolCalls = append(m.ToolCalls, viewToolCall(v.ToolCall(i)))
		}
		return m, nil
	case MsgStreamChunk:
		v, err := ViewStreamChunk(p)
		if err != nil {
			return nil, err
		}
		m := &StreamChunk{Sequence: v.Sequence(), Delta: s(v.Delta()), Final: v.Final(), FinishReason: v.FinishReason(), Usage: v.Usage()}
		for i := range v.ToolCallsLen() {
			d := v.ToolCall(i)
			m.ToolCalls = append(m.ToolCalls, ToolCallDelta{d.Index(), s(d.ID()), s(d.Name()), s(d.ArgumentsDelta())})
		}
		return m, nil
	case MsgError:
		v, err := ViewError(p)
		if err != nil {
			return nil, err
		}
		return &Error{v.Code(), s(v.Message()), v.Retryable()}, nil
	case MsgHeartbeat:
		v, err := ViewHeartbeat(p)
		if err != nil {
			return nil, err
		}
		return &Heartbeat{v.SentUnixNano(), v.EchoUnixNano()}, nil
	case MsgCancel:
		v, err := ViewCancel(p)
		if err != nil {
			return nil, err
		}
		return &Cancel{s(v.Reason())}, nil
	case MsgDisconnect:
		v, err := ViewDisconnect(p)
		if err != nil {
			return nil, err
		}
		return &Disconnect{v.Code(), s(v.Reason())}, nil
	case MsgToolCall:
		v, err := ViewToolCall(p)
		if err != nil {
			return nil, err
		}
		c := viewToolCall(v)
		return &c, nil
	case MsgToolResult:
		v, err := ViewToolResult(p)
		if err != nil {
			return nil, err
		}
		return &ToolResult{s(v.CallID()), s(v.Content()), v.IsError()}, nil
	}
	return nil, ErrUnknownType
}

func TestEmptyPayloadIsZeroMessage(t *testing.T) {
	for _, typ := range payloadTypes() {
		m, err := Decode(typ, nil)
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		zero, _ := New(typ)
		if !reflect.DeepEqual(m, zero) {
			t.Errorf("%v: empty payload decodes to %+v", typ, m)
		}
		if v := viewOf(t, typ, nil); !reflect.DeepEqual(v, zero) {
			t.Errorf("%v: empty payload views as %+v", typ, v)
		}
		// A zero message encodes to a table with no fields, which decodes
		// back to the zero message.
		if m2, err := Decode(typ, Marshal(zero)); err != nil || !reflect.DeepEqual(m2, zero) {
			t.Errorf("%v: zero message round trip: %+v, %v", typ, m2, err)
		}
	}
}

func payloadTypes() []MsgType {
	return []MsgType{MsgCompletionRequest, MsgCompletionResponse, MsgStreamChunk, MsgError, MsgHeartbeat,
		MsgCancel, MsgHandshake, MsgHandshakeAck, MsgDisconnect, MsgToolCall, MsgToolResult}
}

func TestNewAndDecodeUnknownType(t *testing.T) {
	for _, typ := range []MsgType{0, 0x0007, MsgAppMin, 0xFFFF} {
		if _, err := New(typ); !errors.Is(err, ErrUnknownType) {
			t.Errorf("New(%v) = %v", typ, err)
		}
		if _, err := Decode(typ, nil); !errors.Is(err, ErrUnknownType) {
			t.Errorf("Decode(%v) = %v", typ, err)
		}
		if err := VerifyPayload(typ, nil); !errors.Is(err, ErrUnknownType) {
			t.Errorf("VerifyPayload(%v) = %v", typ, err)
		}
	}
	for _, typ := range payloadTypes() {
		m, err := New(typ)
		if err != nil || m.MsgType() != typ {
			t.Errorf("New(%v) = %T, %v", typ, m, err)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, typ := range payloadTypes() {
		if _, err := Decode(typ, []byte{1, 2, 3}); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%v, 3 bytes) = %v", typ, err)
		}
	}
}

func TestErrorIsAnError(t *testing.T) {
	var err error = &Error{Code: ErrCodeOverloaded, Message: "busy"}
	if got := err.Error(); got != "protocol error Overloaded: busy" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Code: ErrCodeInternal}).Error(); got != "protocol error Internal" {
		t.Errorf("Error() = %q", got)
	}
	if ErrorCodeFor(err) != ErrCodeOverloaded {
		t.Errorf("ErrorCodeFor(*Error) = %v", ErrorCodeFor(err))
	}
}

// TestEncoderVtableCache: the cached vtable of a kind is compared only
// where it lies inside the buffer, and equal vtables are shared.
func TestEncoderVtableCache(t *testing.T) {
	// 44 bytes hold exactly the root, the request's vtable and table, the
	// vector and the first (empty) message: when the second message looks
	// at the first one's 4-byte vtable, the buffer is full to capacity, and
	// its own 12-byte vtable reaches past it.
	e := NewEncoder(44)
	full := ChatMessage{Role: RoleUser, Content: "x", ToolCallID: "y"}
	req := &CompletionRequest{Messages: []ChatMessage{{}, full, full}}
	p := e.Encode(req)
	var got CompletionRequest
	if err := got.Unmarshal(p); err != nil || !reflect.DeepEqual(&got, req) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	// The two full messages share one vtable: 12 bytes less than two.
	alone := len(Marshal(&CompletionRequest{Messages: []ChatMessage{{}, full}}))
	if len(p) != alone+4+4+8+1+3+8+8 { // slot, table (soffset, 2 offsets, role, padding), 2 strings
		t.Errorf("payload %d bytes, one message less is %d: vtable not shared?", len(p), alone)
	}
}

func TestEncoderReuse(t *testing.T) {
	e := NewEncoder(64)
	req := sampleRequest()
	first := bytes.Clone(e.Encode(req))
	e.Encode(&Heartbeat{SentUnixNano: 1})
	if again := e.Encode(req); !bytes.Equal(first, again) {
		t.Fatal("re-encoding with a reused Encoder gives different bytes")
	}
	frame := e.AppendFrame(nil, FlagRequest, 9, req)
	f, n, err := ParseFrame(frame)
	if err != nil || n != len(frame) || f.Type != MsgCompletionRequest || f.ID != 9 || !bytes.Equal(f.Payload, first) {
		t.Fatalf("Encoder.AppendFrame: %v %d %v", f, n, err)
	}
}

func TestEncodeDecodeAllocs(t *testing.T) {
	var e Encoder
	req := sampleRequest()
	e.Encode(req) // warm up the buffers
	if n := testing.AllocsPerRun(100, func() { e.Encode(req) }); n != 0 {
		t.Errorf("Encoder.Encode allocates %v times per run, want 0", n)
	}
	p := bytes.Clone(e.Encode(req))
	n := testing.AllocsPerRun(100, func() {
		v, err := ViewCompletionRequest(p)
		if err != nil {
			t.Fatal(err)
		}
		_ = v.Model()
		_, _ = v.Temperature()
		for i := range v.MessagesLen() {
			m := v.Message(i)
			_ = m.Content()
			for j := range m.ToolCallsLen() {
				_ = m.ToolCall(j).Arguments()
			}
		}
		for i := range v.ToolsLen() {
			_ = v.Tool(i).Parameters()
		}
	})
	if n != 0 {
		t.Errorf("viewing a CompletionRequest allocates %v times per run, want 0", n)
	}
	resp := Marshal(samples()[3].msg)
	n = testing.AllocsPerRun(100, func() {
		v, _ := ViewCompletionResponse(resp)
		_ = v.Usage()
	})
	if n != 0 {
		t.Errorf("viewing a CompletionResponse allocates %v times per run, want 0", n)
	}
}

func TestUnmarshalStringsShareOneCopy(t *testing.T) {
	p := Marshal(sampleRequest())
	var req CompletionRequest
	if err := req.Unmarshal(p); err != nil {
		t.Fatal(err)
	}
	// Changing the payload afterwards must not change the decoded strings.
	for i := range p {
		p[i] = 0
	}
	if !reflect.DeepEqual(&req, sampleRequest()) {
		t.Fatal("decoded strings alias the payload")
	}
}

func TestStringTableFallback(t *testing.T) {
	st := stringTable{p: []byte("hello world")}
	if got := st.get(st.p[6:]); got != "world" {
		t.Errorf("get(subslice) = %q", got)
	}
	if got := st.get([]byte("elsewhere")); got != "elsewhere" {
		t.Errorf("get(foreign slice) = %q", got)
	}
	// Same capacity arithmetic, different array.
	other := make([]byte, len(st.p))
	copy(other, "abcdefghijk")
	if got := st.get(other[6:]); got != "ghijk" {
		t.Errorf("get(other array) = %q", got)
	}
	if got := st.get(nil); got != "" {
		t.Errorf("get(nil) = %q", got)
	}
}

func TestBackstop(t *testing.T) {
	err := func() (err error) {
		defer backstop(&err)
		var s []int
		_ = s[3]
		return nil
	}()
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("backstop: %v", err)
	}
}

func TestViewIndexOutOfRangePanics(t *testing.T) {
	v, err := ViewCompletionRequest(Marshal(sampleRequest()))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"Message":  func() { v.Message(v.MessagesLen()) },
		"Tool":     func() { v.Tool(-1) },
		"ToolCall": func() { v.Message(0).ToolCall(0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s out of range did not panic", name)
				}
			}()
			f()
		}()
	}
}
