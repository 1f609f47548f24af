package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ringwire/ringwire/protocol"
)

// openAIStream is what the replaying server sends: text deltas, a
// keep-alive comment, two tool calls in pieces, then usage and [DONE].
const openAIStream = `: ping

data: {"model":"replay-1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"}}]}

data: {"choices":[{"index":0,"delta":{"content":", wor"}}]}

: OPENROUTER PROCESSING

data: {"choices":[{"index":0,"delta":{"content":"ld"}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"read_file","arguments":"{\"path\":"}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a.go\"}"}},{"index":1,"id":"c2","type":"function","function":{"name":"list_dir","arguments":"{}"}}]}}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9}}

data: [DONE]

`

// TestOpenAIEndToEnd runs ringwired with -provider openai against a
// server in this process replaying a stream: the client gets the deltas
// in order, streamed and one-shot, runs the tool calls the model asked for
// on a temporary workspace, and gets the server's errors as Error.
func TestOpenAIEndToEnd(t *testing.T) {
	var auth atomic.Value // string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth.Store(r.Header.Get("Authorization"))
		if strings.Contains(string(body), "rate me") {
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"slow down, replay"}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range strings.SplitAfter(openAIStream, "\n\n") {
			io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	t.Setenv("RINGWIRE_OPENAI_API_KEY", "sk-e2e-secret")
	sock := filepath.Join(socketDir(t), "d.sock")
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "a.go"), []byte("package a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, sock, "-provider", "openai", "-openai-base-url", srv.URL+"/v1", "-openai-model", "replay-1", "-workspace", ws)
	cl := dialDaemon(t, sock)
	ctx := context.Background()

	var deltas []string
	var toolDeltas int
	var last protocol.StreamChunk
	for chunk, err := range cl.CompleteStream(ctx, userReq("hi", 0)) {
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Delta != "" {
			deltas = append(deltas, chunk.Delta)
		}
		toolDeltas += len(chunk.ToolCalls)
		last = chunk
	}
	if got := strings.Join(deltas, "|"); got != "Hello|, wor|ld" || toolDeltas != 3 {
		t.Errorf("deltas %q, %d tool-call deltas", got, toolDeltas)
	}
	if !last.Final || last.FinishReason != protocol.FinishToolCalls || last.Usage != (protocol.Usage{PromptTokens: 5, CompletionTokens: 9}) {
		t.Errorf("final chunk %+v", last)
	}
	if a := auth.Load(); a != "Bearer sk-e2e-secret" {
		t.Errorf("Authorization %q", a)
	}

	resp, err := cl.Complete(ctx, userReq("hi", 0))
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.ToolCall{{ID: "c1", Name: "read_file", Arguments: `{"path":"a.go"}`}, {ID: "c2", Name: "list_dir", Arguments: "{}"}}
	if resp.Content != "Hello, world" || resp.Model != "replay-1" || resp.FinishReason != protocol.FinishToolCalls ||
		len(resp.ToolCalls) != 2 || resp.ToolCalls[0] != want[0] || resp.ToolCalls[1] != want[1] {
		t.Errorf("Complete = %+v", resp)
	}
	// What an assistant does next: run the tool calls the model asked for
	// on the workspace, over the same connection.
	wantContent := map[string]string{"read_file": "package a\n", "list_dir": "a.go"}
	for _, tc := range resp.ToolCalls {
		res, err := cl.CallTool(ctx, &tc)
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		if res.IsError || res.CallID != tc.ID || !strings.Contains(res.Content, wantContent[tc.Name]) {
			t.Errorf("%s(%s) = %+v, want %q", tc.Name, tc.Arguments, res, wantContent[tc.Name])
		}
	}

	_, err = cl.Complete(ctx, userReq("rate me", 0))
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.ErrCodeOverloaded || !perr.Retryable || !strings.Contains(perr.Message, "slow down, replay") {
		t.Errorf("429: %v", err)
	}
	d.mu.Lock()
	log := d.log.String()
	d.mu.Unlock()
	if strings.Contains(log, "sk-e2e-secret") {
		t.Error("the API key is in the daemon's log")
	}
}
