package protocol

import (
	"strconv"
	"strings"
)

// Features is a bit set of optional protocol features, advertised in
// Handshake and granted in HandshakeAck.
type Features uint64

// Feature bits. Undefined bits are reserved: a client may set them only
// once a later version of this package defines them, and a server grants
// only the bits it knows.
const (
	// FeatureZstd: payloads at or above the sender's threshold may be sent
	// zstd-compressed with FlagCompressed (SPEC.md, "Compression").
	FeatureZstd Features = 1 << 0

	// FeaturesKnown is every feature bit this package implements.
	FeaturesKnown = FeatureZstd
)

// Has reports whether every bit of g is set in f.
func (f Features) Has(g Features) bool { return f&g == g }

// String lists the features by name, e.g. "zstd", with unknown bits in hex.
func (f Features) String() string {
	if f == 0 {
		return "none"
	}
	var parts []string
	if f&FeatureZstd != 0 {
		parts = append(parts, "zstd")
	}
	if rest := f &^ FeaturesKnown; rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// Role is the author of a chat message.
type Role uint8

// Roles.
const (
	RoleUnspecified Role = 0
	RoleSystem      Role = 1
	RoleUser        Role = 2
	RoleAssistant   Role = 3
	RoleTool        Role = 4 // a tool's result; ChatMessage.ToolCallID says which call
)

// String returns "system", "user", "assistant", "tool", "unspecified" or
// "Role(n)".
func (r Role) String() string {
	return enumName(uint8(r), []string{"unspecified", "system", "user", "assistant", "tool"}, "Role")
}

// FinishReason says why a completion stopped.
type FinishReason uint8

// Finish reasons.
const (
	FinishUnspecified   FinishReason = 0
	FinishStop          FinishReason = 1 // natural end or a stop sequence
	FinishLength        FinishReason = 2 // max tokens reached
	FinishToolCalls     FinishReason = 3 // the model asked for tool calls
	FinishContentFilter FinishReason = 4 // the provider withheld content
	FinishCanceled      FinishReason = 5 // the request was canceled
	FinishError         FinishReason = 6 // the provider failed mid-way
)

// String returns "stop", "length", "tool_calls", "content_filter",
// "canceled", "error", "unspecified" or "FinishReason(n)".
func (f FinishReason) String() string {
	return enumName(uint8(f), []string{"unspecified", "stop", "length", "tool_calls", "content_filter", "canceled", "error"}, "FinishReason")
}

func enumName(v uint8, names []string, typ string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}
