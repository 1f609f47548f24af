package protocol

// The plain Go payload types. Each field is the schema field of the same
// name (schema/ringwire.fbs, SPEC.md "Payloads"); zero values are absent
// fields and encode to nothing. Encode them with an Encoder (or Marshal),
// decode them with Unmarshal (or Decode), or read them in place with the
// View… functions.

// Handshake opens a session: the first frame a client sends, as a request.
type Handshake struct {
	MinVersion  uint16    // lowest protocol version the client speaks
	MaxVersion  uint16    // highest protocol version the client speaks
	Features    Features  // features the client supports
	ClientName  string    // free text, e.g. "vim-ringwire/0.3"
	SessionID   uint64    // 0 for a new session
	TxRingBytes uint64    // capacity of the ring the client writes to; 0 on the socket transport
	RxRingBytes uint64    // capacity of the ring the client reads from; 0 on the socket transport
	Transport   Transport // what the connection runs over
	MaxPayload  uint32    // largest payload the client accepts; 0 means DefaultMaxPayload
}

// HandshakeAck accepts a Handshake (response).
type HandshakeAck struct {
	Version             uint16    // the protocol version chosen
	Features            Features  // the features both sides use from now on
	ServerName          string    // free text, e.g. "ringwired/0.1.0"
	SessionID           uint64    // the session's id, never 0
	TxRingBytes         uint64    // capacity of the ring the server writes to
	RxRingBytes         uint64    // capacity of the ring the server reads from
	Transport           Transport // what the connection runs over
	MaxPayload          uint32    // largest payload the server accepts; 0 means DefaultMaxPayload
	MaxInflight         uint32    // requests the client may have in flight; 0 = no stated limit
	HeartbeatIntervalMS uint32    // how often the server expects a heartbeat; 0 = none
}

// ToolCall is a call of a tool by name: the payload of a MsgToolCall
// request, and an element of a completion's tool calls.
type ToolCall struct {
	ID        string // call id, unique within a conversation
	Name      string // tool name
	Arguments string // JSON object
	TimeoutMS uint32 // 0 = the server's default
}

// Tool describes a tool the model may call.
type Tool struct {
	Name        string
	Description string
	Parameters  string // JSON Schema of the arguments object
}

// ChatMessage is one turn of a conversation.
type ChatMessage struct {
	Role       Role
	Content    string
	ToolCalls  []ToolCall // assistant turns that called tools
	ToolCallID string     // tool turns: the call this answers
}

// CompletionRequest asks for a completion (request). With Stream set the
// answer is a stream of StreamChunk frames, else one CompletionResponse.
type CompletionRequest struct {
	Model        string
	Messages     []ChatMessage
	Tools        []Tool
	Temperature  *float32 // nil = the provider's default
	MaxTokens    uint32   // 0 = the provider's default
	SystemPrompt string
	Stream       bool
}

// Usage counts the tokens of a completion.
type Usage struct {
	PromptTokens     uint32
	CompletionTokens uint32
}

// CompletionResponse answers a CompletionRequest whose Stream is false.
type CompletionResponse struct {
	Content      string
	ToolCalls    []ToolCall
	FinishReason FinishReason
	Usage        Usage
	Model        string // the model that answered
}

// ToolCallDelta is a piece of a tool call being streamed: the first delta
// of a call carries its ID and Name, later ones extend its arguments.
type ToolCallDelta struct {
	Index          uint32 // which tool call of the response this extends
	ID             string
	Name           string
	ArgumentsDelta string
}

// StreamChunk is one frame of a streamed completion (response|stream; the
// last one response|stream|end with Final set).
type StreamChunk struct {
	Sequence     uint32 // 0, 1, 2, ... within the stream
	Delta        string // the next piece of the text
	ToolCalls    []ToolCallDelta
	Final        bool         // agrees with the frame's end flag
	FinishReason FinishReason // on the final chunk
	Usage        Usage        // on the final chunk
}

// Error reports a failure (response). It is an error: a client can return
// it as it is.
type Error struct {
	Code      ErrorCode
	Message   string
	Retryable bool // the same request may succeed later
}

// Error returns "protocol error Overloaded: message".
func (m *Error) Error() string {
	if m.Message == "" {
		return "protocol error " + m.Code.String()
	}
	return "protocol error " + m.Code.String() + ": " + m.Message
}

// Heartbeat checks the peer is alive (request, and the response that
// echoes it).
type Heartbeat struct {
	SentUnixNano int64 // the sender's clock when sent
	EchoUnixNano int64 // responses: the request's SentUnixNano
}

// Cancel cancels the request whose id is the frame's id (request, never
// answered).
type Cancel struct {
	Reason string
}

// Disconnect says the sender is closing the session (request with id 0).
type Disconnect struct {
	Code   ErrorCode // ErrCodeNone for a normal close
	Reason string
}

// ToolResult answers a ToolCall (response).
type ToolResult struct {
	CallID  string
	Content string
	IsError bool // Content describes a failure of the tool
}

// MsgType methods: which message type each payload type is.

func (*Handshake) MsgType() MsgType          { return MsgHandshake }
func (*HandshakeAck) MsgType() MsgType       { return MsgHandshakeAck }
func (*ToolCall) MsgType() MsgType           { return MsgToolCall }
func (*CompletionRequest) MsgType() MsgType  { return MsgCompletionRequest }
func (*CompletionResponse) MsgType() MsgType { return MsgCompletionResponse }
func (*StreamChunk) MsgType() MsgType        { return MsgStreamChunk }
func (*Error) MsgType() MsgType              { return MsgError }
func (*Heartbeat) MsgType() MsgType          { return MsgHeartbeat }
func (*Cancel) MsgType() MsgType             { return MsgCancel }
func (*Disconnect) MsgType() MsgType         { return MsgDisconnect }
func (*ToolResult) MsgType() MsgType         { return MsgToolResult }

// Encoding: each type lists its present fields by vtable slot (the field
// order of schema/ringwire.fbs), then writes its vectors of tables.

func (m *Handshake) encode(e *Encoder) int {
	var t table
	t.u16(0, m.MinVersion)
	t.u16(1, m.MaxVersion)
	t.u64(2, uint64(m.Features))
	t.str(3, m.ClientName)
	t.u64(4, m.SessionID)
	t.u64(5, m.TxRingBytes)
	t.u64(6, m.RxRingBytes)
	t.u8(7, uint8(m.Transport))
	t.u32(8, m.MaxPayload)
	return e.table(kindHandshake, &t)
}

func (m *HandshakeAck) encode(e *Encoder) int {
	var t table
	t.u16(0, m.Version)
	t.u64(1, uint64(m.Features))
	t.str(2, m.ServerName)
	t.u64(3, m.SessionID)
	t.u64(4, m.TxRingBytes)
	t.u64(5, m.RxRingBytes)
	t.u8(6, uint8(m.Transport))
	t.u32(7, m.MaxPayload)
	t.u32(8, m.MaxInflight)
	t.u32(9, m.HeartbeatIntervalMS)
	return e.table(kindHandshakeAck, &t)
}

func (m *ToolCall) encode(e *Encoder) int {
	var t table
	t.str(0, m.ID)
	t.str(1, m.Name)
	t.str(2, m.Arguments)
	t.u32(3, m.TimeoutMS)
	return e.table(kindToolCall, &t)
}

func (m *Tool) encode(e *Encoder) int {
	var t table
	t.str(0, m.Name)
	t.str(1, m.Description)
	t.str(2, m.Parameters)
	return e.table(kindTool, &t)
}

func (m *ChatMessage) encode(e *Encoder) int {
	var t table
	t.u8(0, uint8(m.Role))
	t.str(1, m.Content)
	t.child(2, len(m.ToolCalls) > 0)
	t.str(3, m.ToolCallID)
	pos := e.table(kindMessage, &t)
	if len(m.ToolCalls) > 0 {
		encodeAll(e, t.at[2], m.ToolCalls, (*ToolCall).encode)
	}
	return pos
}

func (m *CompletionRequest) encode(e *Encoder) int {
	var t table
	t.str(0, m.Model)
	t.child(1, len(m.Messages) > 0)
	t.child(2, len(m.Tools) > 0)
	if m.Temperature != nil {
		t.f32(3, *m.Temperature)
	}
	t.u32(4, m.MaxTokens)
	t.str(5, m.SystemPrompt)
	t.boolean(6, m.Stream)
	pos := e.table(kindCompletionRequest, &t)
	if len(m.Messages) > 0 {
		encodeAll(e, t.at[1], m.Messages, (*ChatMessage).encode)
	}
	if len(m.Tools) > 0 {
		encodeAll(e, t.at[2], m.Tools, (*Tool).encode)
	}
	return pos
}

func (m *CompletionResponse) encode(e *Encoder) int {
	var t table
	t.str(0, m.Content)
	t.child(1, len(m.ToolCalls) > 0)
	t.u8(2, uint8(m.FinishReason))
	t.usage(3, m.Usage)
	t.str(4, m.Model)
	pos := e.table(kindCompletionResponse, &t)
	if len(m.ToolCalls) > 0 {
		encodeAll(e, t.at[1], m.ToolCalls, (*ToolCall).encode)
	}
	return pos
}

func (m *ToolCallDelta) encode(e *Encoder) int {
	var t table
	t.u32(0, m.Index)
	t.str(1, m.ID)
	t.str(2, m.Name)
	t.str(3, m.ArgumentsDelta)
	return e.table(kindToolCallDelta, &t)
}

func (m *StreamChunk) encode(e *Encoder) int {
	var t table
	t.u32(0, m.Sequence)
	t.str(1, m.Delta)
	t.child(2, len(m.ToolCalls) > 0)
	t.boolean(3, m.Final)
	t.u8(4, uint8(m.FinishReason))
	t.usage(5, m.Usage)
	pos := e.table(kindStreamChunk, &t)
	if len(m.ToolCalls) > 0 {
		encodeAll(e, t.at[2], m.ToolCalls, (*ToolCallDelta).encode)
	}
	return pos
}

func (m *Error) encode(e *Encoder) int {
	var t table
	t.u16(0, uint16(m.Code))
	t.str(1, m.Message)
	t.boolean(2, m.Retryable)
	return e.table(kindError, &t)
}

func (m *Heartbeat) encode(e *Encoder) int {
	var t table
	t.u64(0, uint64(m.SentUnixNano))
	t.u64(1, uint64(m.EchoUnixNano))
	return e.table(kindHeartbeat, &t)
}

func (m *Cancel) encode(e *Encoder) int {
	var t table
	t.str(0, m.Reason)
	return e.table(kindCancel, &t)
}

func (m *Disconnect) encode(e *Encoder) int {
	var t table
	t.u16(0, uint16(m.Code))
	t.str(1, m.Reason)
	return e.table(kindDisconnect, &t)
}

func (m *ToolResult) encode(e *Encoder) int {
	var t table
	t.str(0, m.CallID)
	t.str(1, m.Content)
	t.boolean(2, m.IsError)
	return e.table(kindToolResult, &t)
}

// Decoding: verify through the view, then copy out. Strings come from one
// copy of the payload (stringTable).

// Unmarshal implements Message.
func (m *Handshake) Unmarshal(p []byte) (err error) {
	v, err := ViewHandshake(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = Handshake{
		MinVersion:  v.MinVersion(),
		MaxVersion:  v.MaxVersion(),
		Features:    v.Features(),
		ClientName:  st.get(v.ClientName()),
		SessionID:   v.SessionID(),
		TxRingBytes: v.TxRingBytes(),
		RxRingBytes: v.RxRingBytes(),
		Transport:   v.Transport(),
		MaxPayload:  v.MaxPayload(),
	}
	return nil
}

// Unmarshal implements Message.
func (m *HandshakeAck) Unmarshal(p []byte) (err error) {
	v, err := ViewHandshakeAck(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = HandshakeAck{
		Version:             v.Version(),
		Features:            v.Features(),
		ServerName:          st.get(v.ServerName()),
		SessionID:           v.SessionID(),
		TxRingBytes:         v.TxRingBytes(),
		RxRingBytes:         v.RxRingBytes(),
		Transport:           v.Transport(),
		MaxPayload:          v.MaxPayload(),
		MaxInflight:         v.MaxInflight(),
		HeartbeatIntervalMS: v.HeartbeatIntervalMS(),
	}
	return nil
}

func (v ToolCallView) decode(st *stringTable) ToolCall {
	return ToolCall{
		ID:        st.get(v.ID()),
		Name:      st.get(v.Name()),
		Arguments: st.get(v.Arguments()),
		TimeoutMS: v.TimeoutMS(),
	}
}

// toolCalls copies n tool calls read by at.
func toolCalls(st *stringTable, n int, at func(int) ToolCallView) []ToolCall {
	if n == 0 {
		return nil
	}
	calls := make([]ToolCall, n)
	for i := range calls {
		calls[i] = at(i).decode(st)
	}
	return calls
}

// Unmarshal implements Message.
func (m *ToolCall) Unmarshal(p []byte) (err error) {
	v, err := ViewToolCall(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = v.decode(&st)
	return nil
}

// Unmarshal implements Message.
func (m *CompletionRequest) Unmarshal(p []byte) (err error) {
	v, err := ViewCompletionRequest(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = CompletionRequest{
		Model:        st.get(v.Model()),
		MaxTokens:    v.MaxTokens(),
		SystemPrompt: st.get(v.SystemPrompt()),
		Stream:       v.Stream(),
	}
	if t, ok := v.Temperature(); ok {
		m.Temperature = &t
	}
	if n := v.MessagesLen(); n > 0 {
		m.Messages = make([]ChatMessage, n)
		for i := range m.Messages {
			mv := v.Message(i)
			m.Messages[i] = ChatMessage{
				Role:       mv.Role(),
				Content:    st.get(mv.Content()),
				ToolCalls:  toolCalls(&st, mv.ToolCallsLen(), mv.ToolCall),
				ToolCallID: st.get(mv.ToolCallID()),
			}
		}
	}
	if n := v.ToolsLen(); n > 0 {
		m.Tools = make([]Tool, n)
		for i := range m.Tools {
			tv := v.Tool(i)
			m.Tools[i] = Tool{
				Name:        st.get(tv.Name()),
				Description: st.get(tv.Description()),
				Parameters:  st.get(tv.Parameters()),
			}
		}
	}
	return nil
}

// Unmarshal implements Message.
func (m *CompletionResponse) Unmarshal(p []byte) (err error) {
	v, err := ViewCompletionResponse(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = CompletionResponse{
		Content:      st.get(v.Content()),
		ToolCalls:    toolCalls(&st, v.ToolCallsLen(), v.ToolCall),
		FinishReason: v.FinishReason(),
		Usage:        v.Usage(),
		Model:        st.get(v.Model()),
	}
	return nil
}

// Unmarshal implements Message.
func (m *StreamChunk) Unmarshal(p []byte) (err error) {
	v, err := ViewStreamChunk(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = StreamChunk{
		Sequence:     v.Sequence(),
		Delta:        st.get(v.Delta()),
		Final:        v.Final(),
		FinishReason: v.FinishReason(),
		Usage:        v.Usage(),
	}
	if n := v.ToolCallsLen(); n > 0 {
		m.ToolCalls = make([]ToolCallDelta, n)
		for i := range m.ToolCalls {
			d := v.ToolCall(i)
			m.ToolCalls[i] = ToolCallDelta{
				Index:          d.Index(),
				ID:             st.get(d.ID()),
				Name:           st.get(d.Name()),
				ArgumentsDelta: st.get(d.ArgumentsDelta()),
			}
		}
	}
	return nil
}

// Unmarshal implements Message.
func (m *Error) Unmarshal(p []byte) (err error) {
	v, err := ViewError(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = Error{Code: v.Code(), Message: st.get(v.Message()), Retryable: v.Retryable()}
	return nil
}

// Unmarshal implements Message.
func (m *Heartbeat) Unmarshal(p []byte) (err error) {
	v, err := ViewHeartbeat(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	*m = Heartbeat{SentUnixNano: v.SentUnixNano(), EchoUnixNano: v.EchoUnixNano()}
	return nil
}

// Unmarshal implements Message.
func (m *Cancel) Unmarshal(p []byte) (err error) {
	v, err := ViewCancel(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = Cancel{Reason: st.get(v.Reason())}
	return nil
}

// Unmarshal implements Message.
func (m *Disconnect) Unmarshal(p []byte) (err error) {
	v, err := ViewDisconnect(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = Disconnect{Code: v.Code(), Reason: st.get(v.Reason())}
	return nil
}

// Unmarshal implements Message.
func (m *ToolResult) Unmarshal(p []byte) (err error) {
	v, err := ViewToolResult(p)
	if err != nil {
		return err
	}
	defer backstop(&err)
	st := stringTable{p: p}
	*m = ToolResult{CallID: st.get(v.CallID()), Content: st.get(v.Content()), IsError: v.IsError()}
	return nil
}
