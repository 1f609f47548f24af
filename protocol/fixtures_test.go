package protocol

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sample is one frame of each message type, every field set: the golden
// vectors, the fuzz seeds and the round-trip tests use them.
type sample struct {
	name  string
	flags Flags
	id    uint64
	msg   Message
}

func f32(v float32) *float32 { return &v }

func samples() []sample {
	return []sample{
		{"handshake", FlagRequest, 1, &Handshake{
			MinVersion: 1, MaxVersion: 1, Features: FeatureZstd, ClientName: "vim-ringwire/0.3",
			SessionID: 0, TxRingBytes: 1 << 20, RxRingBytes: 4 << 20, Transport: TransportShm, MaxPayload: 1 << 20,
		}},
		{"handshake_ack", FlagResponse, 1, &HandshakeAck{
			Version: 1, Features: FeatureZstd, ServerName: "ringwired/0.1.0", SessionID: 0x1122334455667788,
			TxRingBytes: 4 << 20, RxRingBytes: 1 << 20, Transport: TransportShm, MaxPayload: DefaultMaxPayload,
			MaxInflight: 256, HeartbeatIntervalMS: 5000,
		}},
		{"completion_request", FlagRequest, 2, sampleRequest()},
		{"completion_response", FlagResponse, 2, &CompletionResponse{
			Content: "Use `errors.Is` to match sentinel errors.",
			ToolCalls: []ToolCall{
				{ID: "call_2", Name: "read_file", Arguments: `{"path":"errors.go"}`},
			},
			FinishReason: FinishToolCalls, Usage: Usage{PromptTokens: 412, CompletionTokens: 37}, Model: "mock-1",
		}},
		{"stream_chunk", FlagResponse | FlagStream, 3, &StreamChunk{
			Sequence: 7, Delta: " world",
			ToolCalls: []ToolCallDelta{{Index: 0, ID: "call_3", Name: "search", ArgumentsDelta: `{"q":"ring`}},
		}},
		{"stream_chunk_final", FlagResponse | FlagStream | FlagEnd, 3, &StreamChunk{
			Sequence: 8, Final: true, FinishReason: FinishStop, Usage: Usage{PromptTokens: 10, CompletionTokens: 9},
		}},
		{"error", FlagResponse, 4, &Error{Code: ErrCodeOverloaded, Message: "too many requests in flight", Retryable: true}},
		{"heartbeat", FlagRequest, 5, &Heartbeat{SentUnixNano: 1_764_201_600_000_000_000}},
		{"heartbeat_response", FlagResponse, 5, &Heartbeat{SentUnixNano: 1_764_201_600_000_012_345, EchoUnixNano: 1_764_201_600_000_000_000}},
		{"cancel", FlagRequest, 2, &Cancel{Reason: "user pressed escape"}},
		{"disconnect", FlagRequest, 0, &Disconnect{Code: ErrCodeNone, Reason: "shutting down"}},
		{"tool_call", FlagRequest | FlagPriority, 6, &ToolCall{
			ID: "call_1", Name: "list_dir", Arguments: `{"path":"."}`, TimeoutMS: 2000,
		}},
		{"tool_result", FlagResponse, 6, &ToolResult{CallID: "call_1", Content: "go.mod\nframe.go\n", IsError: false}},
	}
}

// sampleRequest is a realistic ~1 KiB completion request.
func sampleRequest() *CompletionRequest {
	return &CompletionRequest{
		Model: "llama-3.1-8b-instruct",
		Messages: []ChatMessage{
			{Role: RoleUser, Content: "What does ParseFrame return when the buffer holds half a frame?"},
			{Role: RoleAssistant, Content: "", ToolCalls: []ToolCall{
				{ID: "call_1", Name: "read_file", Arguments: `{"path":"protocol/frame.go"}`, TimeoutMS: 1000},
			}},
			{Role: RoleTool, ToolCallID: "call_1", Content: "// ParseFrame parses the frame at the start of b with the default maximum\n// payload (DefaultMaxPayload). It returns the frame and the number of bytes\n// it occupies. The frame's Payload aliases b: nothing is copied.\nfunc ParseFrame(b []byte) (Frame, int, error) {"},
			{Role: RoleUser, Content: "And for a header claiming 4 GiB?"},
		},
		Tools: []Tool{
			{Name: "read_file", Description: "Read a file inside the workspace.", Parameters: `{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`},
			{Name: "search", Description: "Search the workspace for a regular expression.", Parameters: `{"type":"object","properties":{"q":{"type":"string"},"glob":{"type":"string"}},"required":["q"]}`},
		},
		Temperature:  f32(0.2),
		MaxTokens:    512,
		SystemPrompt: "You are a concise assistant for Go programmers. Answer in at most three sentences.",
		Stream:       true,
	}
}

// readFile reads a test file or fails the test.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
