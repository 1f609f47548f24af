package daemon

import (
	"context"
	"strings"
	"sync"
	"unsafe"

	"github.com/ringwire/ringwire/protocol"
)

// oneShot is the reused state of a one-shot completion answered through
// an AppendProvider.
type oneShot struct {
	enc  protocol.Encoder
	buf  []byte
	resp protocol.CompletionResponse
}

var oneShots = sync.Pool{New: func() any { return &oneShot{buf: make([]byte, 0, 512)} }}

// CompletionHandler returns the Handler for CompletionRequest: it decodes
// the request and answers with one CompletionResponse, or, when the
// request sets stream, with StreamChunk frames paced by stream credit.
// One-shot requests to an AppendProvider are read in place instead.
func CompletionHandler(p Provider) Handler {
	ap, _ := p.(AppendProvider)
	return HandlerFunc(func(ctx context.Context, w ResponseWriter, r *Request) {
		if ap != nil {
			v, err := r.completionView()
			if err != nil {
				_ = w.Error(protocol.ErrCodeMalformed, err.Error(), false)
				return
			}
			if !v.Stream() {
				appendComplete(ctx, ap, w, v)
				return
			}
		}
		var req protocol.CompletionRequest
		if err := req.Unmarshal(r.Payload); err != nil {
			_ = w.Error(protocol.ErrCodeMalformed, err.Error(), false)
			return
		}
		e := encoders.Get().(*protocol.Encoder)
		defer encoders.Put(e)
		if req.Stream {
			var seq uint32
			res, err := p.Complete(ctx, &req, func(delta string) error {
				chunk := protocol.StreamChunk{Sequence: seq, Delta: delta}
				seq++
				return w.Send(protocol.MsgStreamChunk, e.Encode(&chunk))
			})
			if err != nil {
				_ = w.Error(providerErrCode(ctx, err), err.Error(), ctx.Err() == nil)
				return
			}
			final := protocol.StreamChunk{Sequence: seq, Final: true, FinishReason: res.FinishReason, Usage: res.Usage}
			_ = w.End(protocol.MsgStreamChunk, e.Encode(&final))
			return
		}
		var b strings.Builder
		res, err := p.Complete(ctx, &req, func(delta string) error {
			b.WriteString(delta)
			return nil
		})
		if err != nil {
			_ = w.Error(providerErrCode(ctx, err), err.Error(), ctx.Err() == nil)
			return
		}
		resp := protocol.CompletionResponse{Content: b.String(), FinishReason: res.FinishReason, Usage: res.Usage, Model: res.Model}
		_ = w.Respond(protocol.MsgCompletionResponse, e.Encode(&resp))
	})
}

// appendComplete answers one-shot request v through ap with reused
// buffers: it allocates nothing in steady state.
func appendComplete(ctx context.Context, ap AppendProvider, w ResponseWriter, v protocol.CompletionRequestView) {
	o := oneShots.Get().(*oneShot)
	defer oneShots.Put(o)
	buf, res, err := ap.AppendComplete(ctx, o.buf[:0], v)
	if cap(buf) <= 64<<10 {
		o.buf = buf[:0]
	}
	if err != nil {
		_ = w.Error(providerErrCode(ctx, err), err.Error(), ctx.Err() == nil)
		return
	}
	// Content aliases buf only until Respond returns (it copies the frame).
	o.resp = protocol.CompletionResponse{Content: unsafe.String(unsafe.SliceData(buf), len(buf)),
		FinishReason: res.FinishReason, Usage: res.Usage, Model: res.Model}
	_ = w.Respond(protocol.MsgCompletionResponse, o.enc.Encode(&o.resp))
	o.resp = protocol.CompletionResponse{}
}

// completionView returns r's payload as a verified CompletionRequest,
// verifying it unless completionInline already did (for this very slice).
func (r *Request) completionView() (protocol.CompletionRequestView, error) {
	if p := r.cviewOf; p != nil && len(p) == len(r.Payload) && unsafe.SliceData(p) == unsafe.SliceData(r.Payload) {
		return r.cview, nil
	}
	return protocol.ViewCompletionRequest(r.Payload)
}

// completionInline lets the session serve one-shot (non-streamed)
// completions of an unpaced mock provider inline (see Inline): they
// complete at once. Everything else runs in a goroutine. The view it
// verified is kept in the request for the handler.
func completionInline(p Provider) HandleOption {
	if m, ok := p.(*MockProvider); !ok || m.TokenDelay > 0 {
		return nil
	}
	return InlineWhen(func(r *Request) bool {
		v, err := protocol.ViewCompletionRequest(r.Payload)
		if err != nil || v.Stream() {
			return false
		}
		r.cview, r.cviewOf = v, r.Payload
		return true
	})
}
