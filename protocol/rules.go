package protocol

import "fmt"

// role says which of request/response a message type may be sent as.
type role uint8

const (
	asRequest role = 1 << iota
	asResponse
	asStream // may carry FlagStream (responses only)
)

// typeRules holds what each of the protocol's own message types allows.
// Application and unassigned types get the general rules only.
var typeRules = map[MsgType]role{
	MsgCompletionRequest:  asRequest,
	MsgCompletionResponse: asResponse,
	MsgStreamChunk:        asResponse | asStream,
	MsgError:              asResponse | asStream,
	MsgHeartbeat:          asRequest | asResponse,
	MsgCancel:             asRequest,
	MsgHandshake:          asRequest,
	MsgHandshakeAck:       asResponse,
	MsgDisconnect:         asRequest,
	MsgToolCall:           asRequest,
	MsgToolResult:         asResponse,
}

// ValidateRules checks the frame rules that one frame can show by itself
// (SPEC.md, "Frame rules"); the rules that need the connection's state,
// such as increasing ids, are the session layer's. It returns nil or an
// error matching ErrProtocol (ErrFlags for reserved bits):
//   - exactly one of FlagRequest and FlagResponse is set;
//   - FlagStream only on responses, FlagEnd only with FlagStream;
//   - requests have a non-zero id, except Disconnect whose id is 0; a
//     response with id 0 is an Error (a connection-level error);
//   - each protocol message type is sent only as what it is: a
//     CompletionRequest, Cancel, Handshake, Disconnect or ToolCall is a
//     request; a CompletionResponse, HandshakeAck or ToolResult a response;
//     a StreamChunk is a response|stream frame; an Error is a response and
//     may end a stream (response|stream|end); a Heartbeat is either;
//   - Handshake and HandshakeAck are never compressed.
func ValidateRules(f Frame) error {
	fl := f.Flags
	if fl&flagsReserved != 0 {
		return fmt.Errorf("%w: reserved bits %#02x set", ErrFlags, uint8(fl&flagsReserved))
	}
	req, resp := fl&FlagRequest != 0, fl&FlagResponse != 0
	if req == resp {
		return ruleErr(f, "exactly one of request and response must be set")
	}
	if fl&FlagStream != 0 && !resp {
		return ruleErr(f, "stream flag on a request")
	}
	if fl&FlagEnd != 0 && fl&FlagStream == 0 {
		return ruleErr(f, "end flag without stream flag")
	}
	if f.Type == MsgDisconnect {
		if f.ID != 0 {
			return ruleErr(f, "Disconnect must have id 0")
		}
	} else if f.ID == 0 && (req || f.Type != MsgError) {
		return ruleErr(f, "id 0 is reserved for Disconnect and connection-level Errors")
	}
	r, known := typeRules[f.Type]
	if !known {
		return nil
	}
	switch {
	case req && r&asRequest == 0:
		return ruleErr(f, "must be a response")
	case resp && r&asResponse == 0:
		return ruleErr(f, "must be a request")
	case fl&FlagStream != 0 && r&asStream == 0:
		return ruleErr(f, "cannot be part of a stream")
	case f.Type == MsgStreamChunk && fl&FlagStream == 0:
		return ruleErr(f, "StreamChunk needs the stream flag")
	case f.Type == MsgError && fl&FlagStream != 0 && fl&FlagEnd == 0:
		return ruleErr(f, "an Error in a stream must end it")
	case (f.Type == MsgHandshake || f.Type == MsgHandshakeAck) && fl&FlagCompressed != 0:
		return ruleErr(f, "handshake frames are never compressed")
	}
	return nil
}

func ruleErr(f Frame, why string) error {
	return fmt.Errorf("%w: %v id=%d flags=%v: %s", ErrProtocol, f.Type, f.ID, f.Flags, why)
}
