package protocol

import "fmt"

// Verifier descriptions of the tables in schema/ringwire.fbs, field by
// field in declaration (vtable) order. TestVerifierSchemaMatchesFBS parses
// the .fbs file and checks these agree with it.

var (
	schemaToolCall = &tableSchema{"ToolCall", []fieldSpec{
		str,       // id
		str,       // name
		str,       // arguments
		scalar(4), // timeout_ms
	}}
	schemaTool = &tableSchema{"Tool", []fieldSpec{
		str, // name
		str, // description
		str, // parameters
	}}
	schemaMessage = &tableSchema{"Message", []fieldSpec{
		scalar(1),             // role
		str,                   // content
		vecOf(schemaToolCall), // tool_calls
		str,                   // tool_call_id
	}}
	schemaCompletionRequest = &tableSchema{"CompletionRequest", []fieldSpec{
		str,                  // model
		vecOf(schemaMessage), // messages
		vecOf(schemaTool),    // tools
		scalar(4),            // temperature
		scalar(4),            // max_tokens
		str,                  // system_prompt
		scalar(1),            // stream
	}}
	schemaCompletionResponse = &tableSchema{"CompletionResponse", []fieldSpec{
		str,                   // content
		vecOf(schemaToolCall), // tool_calls
		scalar(1),             // finish_reason
		structField(8, 4),     // usage
		str,                   // model
	}}
	schemaToolCallDelta = &tableSchema{"ToolCallDelta", []fieldSpec{
		scalar(4), // index
		str,       // id
		str,       // name
		str,       // arguments_delta
	}}
	schemaStreamChunk = &tableSchema{"StreamChunk", []fieldSpec{
		scalar(4),                  // sequence
		str,                        // delta
		vecOf(schemaToolCallDelta), // tool_calls
		scalar(1),                  // final
		scalar(1),                  // finish_reason
		structField(8, 4),          // usage
	}}
	schemaError = &tableSchema{"Error", []fieldSpec{
		scalar(2), // code
		str,       // message
		scalar(1), // retryable
	}}
	schemaHeartbeat = &tableSchema{"Heartbeat", []fieldSpec{
		scalar(8), // sent_unix_nano
		scalar(8), // echo_unix_nano
	}}
	schemaCancel = &tableSchema{"Cancel", []fieldSpec{
		str, // reason
	}}
	schemaDisconnect = &tableSchema{"Disconnect", []fieldSpec{
		scalar(2), // code
		str,       // reason
	}}
	schemaToolResult = &tableSchema{"ToolResult", []fieldSpec{
		str,       // call_id
		str,       // content
		scalar(1), // is_error
	}}
	schemaHandshake = &tableSchema{"Handshake", []fieldSpec{
		scalar(2), // min_version
		scalar(2), // max_version
		scalar(8), // features
		str,       // client_name
		scalar(8), // session_id
		scalar(8), // tx_ring_bytes
		scalar(8), // rx_ring_bytes
		scalar(1), // transport
		scalar(4), // max_payload
	}}
	schemaHandshakeAck = &tableSchema{"HandshakeAck", []fieldSpec{
		scalar(2), // version
		scalar(8), // features
		str,       // server_name
		scalar(8), // session_id
		scalar(8), // tx_ring_bytes
		scalar(8), // rx_ring_bytes
		scalar(1), // transport
		scalar(4), // max_payload
		scalar(4), // max_inflight
		scalar(4), // heartbeat_interval_ms
	}}
)

// schemaFor maps each message type with a payload schema to its root table.
var schemaFor = map[MsgType]*tableSchema{
	MsgCompletionRequest:  schemaCompletionRequest,
	MsgCompletionResponse: schemaCompletionResponse,
	MsgStreamChunk:        schemaStreamChunk,
	MsgError:              schemaError,
	MsgHeartbeat:          schemaHeartbeat,
	MsgCancel:             schemaCancel,
	MsgHandshake:          schemaHandshake,
	MsgHandshakeAck:       schemaHandshakeAck,
	MsgDisconnect:         schemaDisconnect,
	MsgToolCall:           schemaToolCall,
	MsgToolResult:         schemaToolResult,
}

// VerifyPayload checks that payload is a valid encoding of typ's payload
// schema, without decoding it. It returns nil, an error matching
// ErrMalformed, or one matching ErrUnknownType for a type without a schema
// (application types carry payloads this package does not know).
func VerifyPayload(typ MsgType, payload []byte) error {
	s, ok := schemaFor[typ]
	if !ok {
		return fmt.Errorf("%w: %v", ErrUnknownType, typ)
	}
	_, _, err := verifyPayload(payload, s)
	return err
}
