package protocol

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestMsgTypeString(t *testing.T) {
	tests := map[MsgType]string{
		MsgCompletionRequest:  "CompletionRequest",
		MsgCompletionResponse: "CompletionResponse",
		MsgStreamChunk:        "StreamChunk",
		MsgError:              "Error",
		MsgHeartbeat:          "Heartbeat",
		MsgCancel:             "Cancel",
		MsgHandshake:          "Handshake",
		MsgHandshakeAck:       "HandshakeAck",
		MsgDisconnect:         "Disconnect",
		MsgToolCall:           "ToolCall",
		MsgToolResult:         "ToolResult",
		0x0042:                "MsgType(0x0042)",
		0:                     "MsgType(0x0000)",
		MsgAppMin:             "App(0x8000)",
		0xABCD:                "App(0xabcd)",
	}
	for typ, want := range tests {
		if got := typ.String(); got != want {
			t.Errorf("%#x: %q, want %q", uint16(typ), got, want)
		}
		if typ.IsKnown() != (len(want) > 0 && want[0] != 'M' && want[0] != 'A') {
			t.Errorf("%v.IsKnown() = %v", typ, typ.IsKnown())
		}
	}
	if !MsgType(0x8000).IsApplication() || MsgType(0x7FFF).IsApplication() {
		t.Error("IsApplication boundaries")
	}
}

func TestMsgTypeValues(t *testing.T) {
	// The registry from SPEC.md, as numbers: changing one breaks the wire.
	want := map[MsgType]uint16{
		MsgCompletionRequest: 0x0001, MsgCompletionResponse: 0x0002, MsgStreamChunk: 0x0003,
		MsgError: 0x0004, MsgHeartbeat: 0x0005, MsgCancel: 0x0006, MsgHandshake: 0x0010,
		MsgHandshakeAck: 0x0011, MsgDisconnect: 0x0012, MsgToolCall: 0x0100, MsgToolResult: 0x0101,
	}
	for typ, v := range want {
		if uint16(typ) != v {
			t.Errorf("%v = %#x, want %#x", typ, uint16(typ), v)
		}
	}
	flags := map[Flags]uint8{FlagCompressed: 0x01, FlagStream: 0x04, FlagPriority: 0x08,
		FlagRequest: 0x10, FlagResponse: 0x20, FlagEnd: 0x40}
	for f, v := range flags {
		if uint8(f) != v {
			t.Errorf("%v = %#x, want %#x", f, uint8(f), v)
		}
	}
	if Magic != 0x4C415043 || Version != 1 || HeaderSize != 24 || DefaultMaxPayload != 10<<20 {
		t.Error("header constants changed")
	}
}

func TestFlagsString(t *testing.T) {
	tests := map[Flags]string{
		0:                                    "0",
		FlagRequest:                          "request",
		FlagResponse | FlagStream | FlagEnd:  "response|stream|end",
		FlagRequest | FlagPriority:           "request|priority",
		FlagCompressed | FlagResponse:        "response|compressed",
		0x02 | 0x80:                          "0x02|0x80",
		FlagRequest | FlagResponse | FlagEnd: "request|response|end",
		FlagStream | FlagPriority | FlagCompressed: "stream|priority|compressed",
	}
	for f, want := range tests {
		if got := f.String(); got != want {
			t.Errorf("%#x: %q, want %q", uint8(f), got, want)
		}
	}
	if !(FlagRequest | FlagEnd).Has(FlagEnd) || FlagRequest.Has(FlagRequest|FlagEnd) {
		t.Error("Has")
	}
}

func TestErrorCodes(t *testing.T) {
	names := map[ErrorCode]string{
		ErrCodeNone: "None", ErrCodeBadFrame: "BadFrame", ErrCodeProtocol: "Protocol",
		ErrCodeUnknownType: "UnknownType", ErrCodeMalformed: "Malformed", ErrCodeVersion: "Version",
		ErrCodeTooLarge: "TooLarge", ErrCodeTooManyConns: "TooManyConns", ErrCodeOverloaded: "Overloaded",
		ErrCodeCanceled: "Canceled", ErrCodeTimeout: "Timeout", ErrCodeNotFound: "NotFound",
		ErrCodeInvalidArgument: "InvalidArgument", ErrCodePermissionDenied: "PermissionDenied",
		ErrCodeUnavailable: "Unavailable", ErrCodeInternal: "Internal",
		16: "ErrorCode(16)", 0x8001: "App(0x8001)",
	}
	for c, want := range names {
		if got := c.String(); got != want {
			t.Errorf("%d: %q, want %q", uint16(c), got, want)
		}
	}
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	codes := []struct {
		err  error
		want ErrorCode
	}{
		{nil, ErrCodeNone},
		{wrap(ErrBadMagic), ErrCodeBadFrame},
		{ErrVersion, ErrCodeBadFrame},
		{ErrFlags, ErrCodeBadFrame},
		{ErrChecksum, ErrCodeBadFrame},
		{ErrShortFrame, ErrCodeBadFrame},
		{wrap(ErrTooLarge), ErrCodeTooLarge},
		{wrap(ErrMalformed), ErrCodeMalformed},
		{ErrProtocol, ErrCodeProtocol},
		{ErrUnknownType, ErrCodeUnknownType},
		{wrap(&Error{Code: ErrCodeNotFound}), ErrCodeNotFound},
		{io.EOF, ErrCodeInternal},
	}
	for _, c := range codes {
		if got := ErrorCodeFor(c.err); got != c.want {
			t.Errorf("ErrorCodeFor(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Features(0).String(), "none"},
		{FeatureZstd.String(), "zstd"},
		{(FeatureZstd | 1<<9).String(), "zstd|0x200"},
		{TransportShm.String(), "shm"},
		{TransportSocket.String(), "socket"},
		{Transport(9).String(), "Transport(9)"},
		{RoleAssistant.String(), "assistant"},
		{RoleTool.String(), "tool"},
		{Role(200).String(), "Role(200)"},
		{FinishToolCalls.String(), "tool_calls"},
		{FinishError.String(), "error"},
		{FinishReason(7).String(), "FinishReason(7)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%q, want %q", tt.got, tt.want)
		}
	}
	if !(FeatureZstd | 4).Has(FeatureZstd) || Features(4).Has(FeatureZstd) {
		t.Error("Features.Has")
	}
}

func TestSentinelErrorsDistinct(t *testing.T) {
	all := []error{ErrShortFrame, ErrBadMagic, ErrVersion, ErrFlags, ErrChecksum, ErrTooLarge,
		ErrMalformed, ErrProtocol, ErrUnknownType}
	for i, a := range all {
		for j, b := range all {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
}
