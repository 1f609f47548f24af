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

func providerErrCode(ctx context.Context, err error) protocol.ErrorCode {
	switch {
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return protocol.ErrCodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return protocol.ErrCodeTimeout
	}
	return protocol.ErrCodeUnavailable
}
