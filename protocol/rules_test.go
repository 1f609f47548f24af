package protocol

import (
	"errors"
	"testing"
)

func TestValidateRules(t *testing.T) {
	const (
		req  = FlagRequest
		resp = FlagResponse
		strm = FlagResponse | FlagStream
		end  = FlagResponse | FlagStream | FlagEnd
	)
	ok := []Frame{
		{Type: MsgCompletionRequest, Flags: req, ID: 1},
		{Type: MsgCompletionRequest, Flags: req | FlagPriority | FlagCompressed, ID: 1},
		{Type: MsgCompletionResponse, Flags: resp, ID: 1},
		{Type: MsgStreamChunk, Flags: strm, ID: 1},
		{Type: MsgStreamChunk, Flags: end, ID: 1},
		{Type: MsgError, Flags: resp, ID: 1},
		{Type: MsgError, Flags: resp, ID: 0}, // connection-level error
		{Type: MsgError, Flags: end, ID: 1},  // an error ends a stream
		{Type: MsgHeartbeat, Flags: req, ID: 9},
		{Type: MsgHeartbeat, Flags: resp, ID: 9},
		{Type: MsgCancel, Flags: req, ID: 1},
		{Type: MsgHandshake, Flags: req, ID: 1},
		{Type: MsgHandshakeAck, Flags: resp, ID: 1},
		{Type: MsgDisconnect, Flags: req, ID: 0},
		{Type: MsgToolCall, Flags: req, ID: 1},
		{Type: MsgToolResult, Flags: resp, ID: 1},
		{Type: MsgAppMin, Flags: req, ID: 1},
		{Type: 0xFFFF, Flags: strm, ID: 1},
		{Type: 0xFFFF, Flags: end, ID: 1},
		{Type: 0x0042, Flags: req, ID: 1}, // unassigned: the session answers UnknownType
	}
	for _, f := range ok {
		if err := ValidateRules(f); err != nil {
			t.Errorf("%v: %v", f, err)
		}
	}
	bad := []struct {
		f    Frame
		want error
	}{
		{Frame{Type: MsgCompletionRequest, Flags: 0, ID: 1}, ErrProtocol},
		{Frame{Type: MsgCompletionRequest, Flags: req | resp, ID: 1}, ErrProtocol},
		{Frame{Type: MsgCompletionRequest, Flags: req | 0x02, ID: 1}, ErrFlags},
		{Frame{Type: MsgCompletionRequest, Flags: req | 0x80, ID: 1}, ErrFlags},
		{Frame{Type: MsgAppMin, Flags: req | FlagStream, ID: 1}, ErrProtocol},
		{Frame{Type: MsgAppMin, Flags: resp | FlagEnd, ID: 1}, ErrProtocol},
		{Frame{Type: MsgCompletionRequest, Flags: req, ID: 0}, ErrProtocol},
		{Frame{Type: MsgCompletionResponse, Flags: resp, ID: 0}, ErrProtocol},
		{Frame{Type: MsgCompletionRequest, Flags: resp, ID: 1}, ErrProtocol},
		{Frame{Type: MsgCompletionResponse, Flags: req, ID: 1}, ErrProtocol},
		{Frame{Type: MsgCompletionResponse, Flags: strm, ID: 1}, ErrProtocol},
		{Frame{Type: MsgStreamChunk, Flags: resp, ID: 1}, ErrProtocol},
		{Frame{Type: MsgStreamChunk, Flags: req, ID: 1}, ErrProtocol},
		{Frame{Type: MsgError, Flags: req, ID: 1}, ErrProtocol},
		{Frame{Type: MsgError, Flags: strm, ID: 1}, ErrProtocol},
		{Frame{Type: MsgHeartbeat, Flags: strm, ID: 1}, ErrProtocol},
		{Frame{Type: MsgCancel, Flags: resp, ID: 1}, ErrProtocol},
		{Frame{Type: MsgDisconnect, Flags: req, ID: 3}, ErrProtocol},
		{Frame{Type: MsgDisconnect, Flags: resp, ID: 0}, ErrProtocol},
		{Frame{Type: MsgHandshake, Flags: req | FlagCompressed, ID: 1}, ErrProtocol},
		{Frame{Type: MsgHandshakeAck, Flags: resp | FlagCompressed, ID: 1}, ErrProtocol},
		{Frame{Type: MsgHandshakeAck, Flags: req, ID: 1}, ErrProtocol},
		{Frame{Type: MsgToolCall, Flags: resp, ID: 1}, ErrProtocol},
		{Frame{Type: MsgToolResult, Flags: req, ID: 1}, ErrProtocol},
	}
	for _, b := range bad {
		if err := ValidateRules(b.f); !errors.Is(err, b.want) {
			t.Errorf("%v: %v, want %v", b.f, err, b.want)
		}
	}
}

// The golden samples are all frames a conforming peer sends.
func TestSamplesFollowRules(t *testing.T) {
	for _, s := range samples() {
		if err := ValidateRules(Frame{Type: s.msg.MsgType(), Flags: s.flags, ID: s.id}); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
}
