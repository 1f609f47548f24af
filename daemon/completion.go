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
		tm := startCompletion(w)
		if dp, ok := p.(DeltaProvider); ok {
			completeDeltas(ctx, dp, w, e, &req, tm)
			return
		}
		if req.Stream {
			var seq uint32
			res, err := p.Complete(ctx, &req, func(delta string) error {
				tm.piece()
				chunk := protocol.StreamChunk{Sequence: seq, Delta: delta}
				seq++
				return w.Send(protocol.MsgStreamChunk, e.Encode(&chunk))
			})
			tm.done(res, err)
			if err != nil {
				_ = w.Error(providerError(ctx, err))
				return
			}
			final := protocol.StreamChunk{Sequence: seq, Final: true, FinishReason: res.FinishReason, Usage: res.Usage}
			_ = w.End(protocol.MsgStreamChunk, e.Encode(&final))
			return
		}
		var b strings.Builder
		res, err := p.Complete(ctx, &req, func(delta string) error {
			tm.piece()
			b.WriteString(delta)
			return nil
		})
		tm.done(res, err)
		if err != nil {
			_ = w.Error(providerError(ctx, err))
			return
		}
		resp := protocol.CompletionResponse{Content: b.String(), FinishReason: res.FinishReason, Usage: res.Usage, Model: res.Model}
		_ = w.Respond(protocol.MsgCompletionResponse, e.Encode(&resp))
	})
}

// completeDeltas answers req through dp: each Delta becomes a StreamChunk
// when req sets stream, else the text is joined and the tool-call pieces
// are merged by index into one CompletionResponse.
func completeDeltas(ctx context.Context, dp DeltaProvider, w ResponseWriter, e *protocol.Encoder, req *protocol.CompletionRequest, tm *completionTimer) {
	var (
		seq   uint32
		text  strings.Builder
		calls []protocol.ToolCall
	)
	res, err := dp.CompleteDeltas(ctx, req, func(d Delta) error {
		tm.piece()
		if req.Stream {
			chunk := protocol.StreamChunk{Sequence: seq, Delta: d.Text, ToolCalls: d.ToolCalls}
			seq++
			return w.Send(protocol.MsgStreamChunk, e.Encode(&chunk))
		}
		text.WriteString(d.Text)
		calls = mergeToolCalls(calls, d.ToolCalls)
		return nil
	})
	tm.done(res, err)
	if err != nil {
		_ = w.Error(providerError(ctx, err))
		return
	}
	if req.Stream {
		final := protocol.StreamChunk{Sequence: seq, Final: true, FinishReason: res.FinishReason, Usage: res.Usage}
		_ = w.End(protocol.MsgStreamChunk, e.Encode(&final))
		return
	}
	resp := protocol.CompletionResponse{Content: text.String(), ToolCalls: calls, FinishReason: res.FinishReason, Usage: res.Usage, Model: res.Model}
	_ = w.Respond(protocol.MsgCompletionResponse, e.Encode(&resp))
}

// mergeToolCalls adds the pieces ds to calls, the tool calls so far in
// order of their index: a piece's ID and Name set the call's (when not
// empty), its ArgumentsDelta extends the arguments. Indexes are dense
// from 0 in practice; a gap yields calls with no name, and an index from
// maxToolCalls up is dropped.
func mergeToolCalls(calls []protocol.ToolCall, ds []protocol.ToolCallDelta) []protocol.ToolCall {
	for _, d := range ds {
		if d.Index >= maxToolCalls {
			continue
		}
		for int(d.Index) >= len(calls) {
			calls = append(calls, protocol.ToolCall{})
		}
		c := &calls[d.Index]
		if d.ID != "" {
			c.ID = d.ID
		}
		if d.Name != "" {
			c.Name = d.Name
		}
		c.Arguments += d.ArgumentsDelta
	}
	return calls
}

// maxToolCalls bounds the tool calls of one completion.
const maxToolCalls = 128

// appendComplete answers one-shot request v through ap with reused
// buffers: it allocates nothing in steady state.
func appendComplete(ctx context.Context, ap AppendProvider, w ResponseWriter, v protocol.CompletionRequestView) {
	o := oneShots.Get().(*oneShot)
	defer oneShots.Put(o)
	buf, res, err := ap.AppendComplete(ctx, o.buf[:0], v)
	if m, c := metricsOf(w); m != nil {
		// The whole reply comes at once: its first token is its end,
		// and the request's too, but for encoding the answer. One clock
		// read and one observation serve the three histograms.
		if err != nil {
			c.end = m.completion(c.start, 0, nil)
		} else {
			c.end, c.observed = m.oneShotDone(c.start, &res.Usage), true
		}
	}
	if cap(buf) <= 64<<10 {
		o.buf = buf[:0]
	}
	if err != nil {
		_ = w.Error(providerError(ctx, err))
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

// completionTimer times a completion for the metrics; a nil one (metrics
// off) does nothing.
type completionTimer struct {
	m            *metrics
	start, first int64 // monoNow: the request's arrival, the first piece (0: none yet)
}

// startCompletion starts timing a completion answered through w, if its
// server has metrics.
func startCompletion(w ResponseWriter) *completionTimer {
	m, c := metricsOf(w)
	if m == nil {
		return nil
	}
	return &completionTimer{m: m, start: c.start}
}

// piece notes that the provider emitted a piece of the reply.
func (t *completionTimer) piece() {
	if t != nil && t.first == 0 {
		t.first = monoNow()
	}
}

// done records the completion's end: res when err is nil.
func (t *completionTimer) done(res Completion, err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.m.completion(t.start, t.first, nil)
		return
	}
	t.m.completion(t.start, t.first, &res.Usage)
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
