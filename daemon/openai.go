package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ringwire/ringwire/protocol"
)

// DefaultOpenAIIdleTimeout is how long the openai provider waits for the
// next byte of an answer (the response headers, then any part of the
// stream, keep-alive comments included) before it gives up.
const DefaultOpenAIIdleTimeout = 2 * time.Minute

// OpenAIConfig configures NewOpenAIProvider.
type OpenAIConfig struct {
	// BaseURL is the server's API root, the part before
	// "/chat/completions", e.g. "https://api.openai.com/v1" or
	// "http://127.0.0.1:8080/v1" (llama.cpp server, Ollama, vLLM, LM
	// Studio). Required.
	BaseURL string
	// Model is the model asked for when a request names none.
	Model string
	// APIKey is sent as "Authorization: Bearer <key>" when not empty. It
	// is never logged nor put in an error.
	APIKey string
	// HTTPClient sends the requests. Default: a client of
	// http.DefaultTransport with no overall timeout (IdleTimeout bounds
	// silences instead). The provider never retries.
	HTTPClient *http.Client
	// IdleTimeout bounds the wait for the response headers and for each
	// read of the stream; when it passes the completion fails with a
	// retryable Timeout error. Default DefaultOpenAIIdleTimeout.
	IdleTimeout time.Duration
}

// OpenAIProvider is the completion provider of any OpenAI-compatible
// server: it POSTs each request to BaseURL + "/chat/completions" with
// stream set (and stream_options.include_usage), reads the Server-Sent
// Events and streams the text and tool-call deltas. Failures are
// *ProviderError values: HTTP 429 and 5xx, a cut stream and a silence
// longer than IdleTimeout are retryable, other 4xx are not, and each
// carries the server's message. It is safe for concurrent use.
type OpenAIProvider struct {
	url    string
	model  string
	auth   string
	client *http.Client
	idle   time.Duration
}

// NewOpenAIProvider returns the openai provider for cfg.
func NewOpenAIProvider(cfg OpenAIConfig) (*OpenAIProvider, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("daemon: OpenAIConfig.BaseURL is required")
	}
	p := &OpenAIProvider{
		url:    strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		model:  cfg.Model,
		client: cfg.HTTPClient,
		idle:   cfg.IdleTimeout,
	}
	if cfg.APIKey != "" {
		p.auth = "Bearer " + cfg.APIKey
	}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.idle <= 0 {
		p.idle = DefaultOpenAIIdleTimeout
	}
	return p, nil
}

// Name returns "openai".
func (p *OpenAIProvider) Name() string { return "openai" }

// Complete streams the reply's text through emit; tool calls, which it
// cannot emit, are dropped. CompletionHandler calls CompleteDeltas.
func (p *OpenAIProvider) Complete(ctx context.Context, req *protocol.CompletionRequest, emit func(string) error) (Completion, error) {
	return p.CompleteDeltas(ctx, req, func(d Delta) error {
		if d.Text == "" {
			return nil
		}
		return emit(d.Text)
	})
}

// errIdle is the cause of a request canceled for its silence.
var errIdle = errors.New("idle timeout")

// CompleteDeltas streams the reply to req, text and tool-call deltas, in
// the server's order; see OpenAIProvider.
func (p *OpenAIProvider) CompleteDeltas(ctx context.Context, req *protocol.CompletionRequest, emit func(Delta) error) (Completion, error) {
	body, err := p.requestBody(req)
	if err != nil {
		return Completion{}, err
	}
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(p.idle, func() { cancel(errIdle) })
	defer timer.Stop()
	hreq, err := http.NewRequestWithContext(hctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return Completion{}, &ProviderError{Code: protocol.ErrCodeInvalidArgument, Message: "openai: bad base URL"}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if p.auth != "" {
		hreq.Header.Set("Authorization", p.auth)
	}
	resp, err := p.client.Do(hreq)
	if err != nil {
		return Completion{}, p.transportError(ctx, hctx, err)
	}
	defer resp.Body.Close()
	timer.Reset(p.idle)
	if resp.StatusCode != http.StatusOK {
		return Completion{}, p.redact(statusError(resp))
	}
	res, err := readChatStream(newSSEReader(&idleReader{r: resp.Body, t: timer, d: p.idle}), emit)
	var ee *emitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		err = ee.err
	case !isProviderErr(err):
		err = p.transportError(ctx, hctx, err)
	}
	return res, p.redact(err)
}

// redact removes the API key from the message of a ProviderError: a
// server may quote the key it refused.
func (p *OpenAIProvider) redact(err error) error {
	var pe *ProviderError
	if key := strings.TrimPrefix(p.auth, "Bearer "); key != "" && errors.As(err, &pe) {
		pe.Message = strings.ReplaceAll(pe.Message, key, "[redacted]")
	}
	return err
}

// emitError carries an error of emit out of readChatStream.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

func isProviderErr(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe)
}

// transportError maps err, a failure to send or read, to what the caller
// should see: ctx's own error when the caller canceled, else a retryable
// ProviderError (Timeout after a silence).
func (p *OpenAIProvider) transportError(ctx, hctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if context.Cause(hctx) == errIdle {
		return &ProviderError{Code: protocol.ErrCodeTimeout, Retryable: true,
			Message: fmt.Sprintf("openai: no data from the server for %v", p.idle)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &ProviderError{Code: protocol.ErrCodeUnavailable, Retryable: true,
			Message: "openai: the stream was cut before its end"}
	}
	return &ProviderError{Code: protocol.ErrCodeUnavailable, Retryable: true, Message: "openai: " + err.Error()}
}

// idleReader resets t to d after each read that got data.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (r *idleReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}

// statusError is the ProviderError of a response that is not 200 OK:
// 429 Overloaded and 5xx Unavailable are retryable; 401/403, 404 and
// other 4xx are not.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := errorMessage(b)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e := &ProviderError{Message: fmt.Sprintf("openai: HTTP %d: %s", resp.StatusCode, msg)}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		e.Code, e.Retryable = protocol.ErrCodeOverloaded, true
	case s >= 500:
		e.Code, e.Retryable = protocol.ErrCodeUnavailable, true
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Code = protocol.ErrCodePermissionDenied
	case s == http.StatusNotFound:
		e.Code = protocol.ErrCodeNotFound
	case s >= 400:
		e.Code = protocol.ErrCodeInvalidArgument
	default:
		e.Code, e.Retryable = protocol.ErrCodeUnavailable, true
	}
	return e
}

// errorMessage is the message of an error body: {"error": {"message":
// ...}}, {"error": "..."} or {"message": ...}, else the body's text (cut
// at 512 bytes), "" when empty.
func errorMessage(b []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &v) == nil {
		if m := rawErrorMessage(v.Error); m != "" {
			return m
		}
		if v.Message != "" {
			return v.Message
		}
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 512 {
		s = s[:512]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// rawErrorMessage is the message of an "error" value: an object's
// "message" (or its JSON when it has none), a string as it is.
func rawErrorMessage(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Message != "" {
		return o.Message
	}
	return string(raw)
}

// The request body of /chat/completions.
type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Tools         []chatTool    `json:"tools,omitempty"`
	Temperature   *float32      `json:"temperature,omitempty"`
	MaxTokens     uint32        `json:"max_tokens,omitempty"`
	Stream        bool          `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type chatMessage struct {
	Role       string         `json:"role"`
	Content    *string        `json:"content"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

var roleNames = map[protocol.Role]string{
	protocol.RoleSystem: "system", protocol.RoleUser: "user",
	protocol.RoleAssistant: "assistant", protocol.RoleTool: "tool",
}

// requestBody is the JSON body asking for req.
func (p *OpenAIProvider) requestBody(req *protocol.CompletionRequest) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return &ProviderError{Code: protocol.ErrCodeInvalidArgument, Message: "openai: " + fmt.Sprintf(format, args...)}
	}
	cr := chatRequest{Model: req.Model, Temperature: req.Temperature, MaxTokens: req.MaxTokens, Stream: true}
	cr.StreamOptions.IncludeUsage = true
	if cr.Model == "" {
		cr.Model = p.model
	}
	if cr.Model == "" {
		return nil, bad("no model: the request names none and -openai-model is not set")
	}
	if req.SystemPrompt != "" {
		s := req.SystemPrompt
		cr.Messages = append(cr.Messages, chatMessage{Role: "system", Content: &s})
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		role, ok := roleNames[m.Role]
		if !ok {
			return nil, bad("message %d: role %v", i, m.Role)
		}
		cm := chatMessage{Role: role, ToolCallID: m.ToolCallID}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			cm.Content = &m.Content
		}
		for _, c := range m.ToolCalls {
			cm.ToolCalls = append(cm.ToolCalls, chatToolCall{ID: c.ID, Type: "function", Function: chatFunction{Name: c.Name, Arguments: c.Arguments}})
		}
		cr.Messages = append(cr.Messages, cm)
	}
	for _, t := range req.Tools {
		ct := chatTool{Type: "function"}
		ct.Function.Name, ct.Function.Description = t.Name, t.Description
		ct.Function.Parameters = json.RawMessage(t.Parameters)
		if t.Parameters == "" {
			ct.Function.Parameters = json.RawMessage(`{"type":"object"}`)
		} else if !json.Valid(ct.Function.Parameters) {
			return nil, bad("tool %q: parameters are not JSON", t.Name)
		}
		cr.Tools = append(cr.Tools, ct)
	}
	return json.Marshal(&cr)
}

// chatChunk is one streamed event of /chat/completions.
type chatChunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content   string `json:"content"`
			ToolCalls []struct {
				Index    uint32       `json:"index"`
				ID       string       `json:"id"`
				Function chatFunction `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     uint32 `json:"prompt_tokens"`
		CompletionTokens uint32 `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

var finishReasons = map[string]protocol.FinishReason{
	"stop": protocol.FinishStop, "length": protocol.FinishLength,
	"tool_calls": protocol.FinishToolCalls, "function_call": protocol.FinishToolCalls,
	"content_filter": protocol.FinishContentFilter,
}

// readChatStream reads the events of a /chat/completions stream from s,
// emitting each delta of the first choice, until "[DONE]". A stream
// that ends without it fails (io.ErrUnexpectedEOF), unless it ended
// between events after a finish reason: some servers omit "[DONE]". An
// "error" event fails with the server's message; emit's error is
// returned wrapped in an *emitError.
func readChatStream(s *sseReader, emit func(Delta) error) (Completion, error) {
	var (
		res      Completion
		chunk    chatChunk
		finished bool
		calls    []protocol.ToolCallDelta
	)
	for {
		event, data, err := s.next()
		if err == io.EOF && finished {
			return res, nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return res, err
		}
		if string(bytes.TrimSpace(data)) == "[DONE]" {
			return res, nil
		}
		chunk = chatChunk{}
		if err := json.Unmarshal(data, &chunk); err != nil {
			if string(event) == "error" {
				return res, &ProviderError{Code: protocol.ErrCodeUnavailable, Retryable: true, Message: "openai: stream error: " + errorMessage(data)}
			}
			return res, &ProviderError{Code: protocol.ErrCodeUnavailable, Retryable: true, Message: "openai: bad stream event: " + err.Error()}
		}
		if m := rawErrorMessage(chunk.Error); m != "" || string(event) == "error" {
			if m == "" {
				m = errorMessage(data)
			}
			return res, &ProviderError{Code: protocol.ErrCodeUnavailable, Retryable: true, Message: "openai: stream error: " + m}
		}
		if chunk.Model != "" {
			res.Model = chunk.Model
		}
		if u := chunk.Usage; u != nil {
			res.Usage = protocol.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
		}
		if len(chunk.Choices) == 0 {
			continue
		}
		c := &chunk.Choices[0]
		if c.FinishReason != "" {
			finished = true
			res.FinishReason = finishReasons[c.FinishReason]
			if res.FinishReason == protocol.FinishUnspecified {
				res.FinishReason = protocol.FinishStop
			}
		}
		calls = calls[:0]
		for _, tc := range c.Delta.ToolCalls {
			if tc.Index >= maxToolCalls {
				return res, &ProviderError{Code: protocol.ErrCodeUnavailable, Retryable: true, Message: fmt.Sprintf("openai: tool call index %d out of range", tc.Index)}
			}
			calls = append(calls, protocol.ToolCallDelta{Index: tc.Index, ID: tc.ID, Name: tc.Function.Name, ArgumentsDelta: tc.Function.Arguments})
		}
		if c.Delta.Content == "" && len(calls) == 0 {
			continue
		}
		d := Delta{Text: c.Delta.Content}
		if len(calls) > 0 {
			d.ToolCalls = calls
		}
		if err := emit(d); err != nil {
			return res, &emitError{err: err}
		}
	}
}

var _ DeltaProvider = (*OpenAIProvider)(nil)
