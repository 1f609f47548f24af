package daemon

import (
	"context"
	"errors"

	"github.com/ringwire/ringwire/protocol"
)

// Provider produces completions. Complete calls emit with each piece of
// the reply, in order, as it becomes available; emit returns an error when
// the request was canceled or its session closed, and the provider should
// then stop. Complete returns how the completion ended.
type Provider interface {
	// Name identifies the provider in logs, e.g. "mock".
	Name() string
	// Complete answers req, streaming the reply through emit.
	Complete(ctx context.Context, req *protocol.CompletionRequest, emit func(delta string) error) (Completion, error)
}

// Completion is how a completion ended.
type Completion struct {
	// FinishReason says why it stopped.
	FinishReason protocol.FinishReason
	// Usage counts the tokens of the prompt and of the reply.
	Usage protocol.Usage
	// Model is the model that answered.
	Model string
}

// AppendProvider is an optional interface of a Provider: it answers a
// one-shot (non-streamed) completion reading the request in place, and
// appends the whole reply to dst. CompletionHandler uses it, when the
// provider has it, for requests that do not set stream: the request is
// then verified once and not decoded into structs, and the reply is built
// in a reused buffer. The reply must be what Complete would emit, joined.
type AppendProvider interface {
	AppendComplete(ctx context.Context, dst []byte, req protocol.CompletionRequestView) ([]byte, Completion, error)
}

// Delta is one piece of a streamed reply: text, tool-call pieces, or both.
type Delta struct {
	// Text is the next piece of the reply's text.
	Text string
	// ToolCalls are pieces of the tool calls the model is making; Index
	// says which call each extends (see protocol.ToolCallDelta). The
	// slice is valid only until emit returns.
	ToolCalls []protocol.ToolCallDelta
}

// DeltaProvider is an optional interface of a Provider whose replies may
// hold tool calls: CompletionHandler calls CompleteDeltas instead of
// Complete when the provider has it, and sends each Delta as one
// StreamChunk (or, for a one-shot request, joins the text and merges the
// tool-call pieces by index into the CompletionResponse's ToolCalls).
type DeltaProvider interface {
	CompleteDeltas(ctx context.Context, req *protocol.CompletionRequest, emit func(Delta) error) (Completion, error)
}

// ProviderError is a failure a provider reports with the code, message and
// retryability the client should see: CompletionHandler sends them as they
// are in the Error frame. Message must hold nothing secret.
type ProviderError struct {
	// Code is the Error frame's code, e.g. protocol.ErrCodeUnavailable.
	Code protocol.ErrorCode
	// Message says what failed, e.g. the upstream server's own message.
	Message string
	// Retryable says the same request may succeed later.
	Retryable bool
}

// Error returns "provider: Code: Message".
func (e *ProviderError) Error() string {
	return "provider: " + e.Code.String() + ": " + e.Message
}

// providerError is the Error frame for err, a provider's failure while
// serving ctx: cancellation wins, then a ProviderError's own fields.
func providerError(ctx context.Context, err error) (protocol.ErrorCode, string, bool) {
	var pe *ProviderError
	if ctx.Err() == nil && errors.As(err, &pe) {
		return pe.Code, pe.Message, pe.Retryable
	}
	return providerErrCode(ctx, err), err.Error(), ctx.Err() == nil
}

func providerErrCode(ctx context.Context, err error) protocol.ErrorCode {
	switch {
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return protocol.ErrCodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return protocol.ErrCodeTimeout
	}
	return protocol.ErrCodeUnavailable
}
