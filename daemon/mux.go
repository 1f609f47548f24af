package daemon

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/ringwire/ringwire/protocol"
)

// Request is one request frame handed to a Handler.
type Request struct {
	// Type is the request's message type.
	Type protocol.MsgType
	// Flags are the request frame's flags.
	Flags protocol.Flags
	// ID is the request id; every response frame echoes it.
	ID uint64
	// Payload is the request payload: a private copy of what the client
	// sent, owned by the server. It is valid until the handler returns.
	Payload []byte
	// Session describes the session the request arrived on.
	Session SessionInfo

	// cview is cviewOf (Payload when completionInline ran) verified as a
	// CompletionRequest, so that the handler need not verify it again;
	// it is used only while Payload is still that slice.
	cview   protocol.CompletionRequestView
	cviewOf []byte
}

// SessionInfo identifies a session for handlers and logs.
type SessionInfo struct {
	// ID is the session id sent in the HandshakeAck.
	ID uint64
	// Transport is protocol.TransportShm or protocol.TransportSocket.
	Transport protocol.Transport
	// ClientName is the free text the client sent in its Handshake.
	ClientName string
	// PID is the client's process id, when the kernel reported it.
	PID int32
}

// ResponseWriter sends a handler's answer. Every request gets exactly one
// terminal frame: Respond, End or Error (the server sends an Internal error
// if a handler returns without one). Frames sent after the terminal one, or
// after the request was canceled, are dropped with ErrCallDone. Methods may
// be called from any goroutine, but not concurrently with each other.
type ResponseWriter interface {
	// Respond sends the single response frame (flag response) of typ and
	// payload, and ends the call.
	Respond(typ protocol.MsgType, payload []byte) error
	// Send sends one stream frame (response|stream). It blocks while the
	// stream has no credit left (per-stream flow control: at most
	// protocol.StreamWindow frames the client has not acknowledged), until the
	// client grants more, the request is canceled or the session ends.
	Send(typ protocol.MsgType, payload []byte) error
	// End sends the last stream frame (response|stream|end) and ends the
	// call. It waits for credit as Send does.
	End(typ protocol.MsgType, payload []byte) error
	// Error sends an Error frame and ends the call; inside a stream it is
	// sent as response|stream|end.
	Error(code protocol.ErrorCode, message string, retryable bool) error
}

// Handler serves requests of one message type. ServeFrame runs in a
// goroutine of its own for each request (unless registered Inline); ctx is canceled when the client
// sends Cancel for the request, when the session ends, or when the server
// gives up draining.
type Handler interface {
	ServeFrame(ctx context.Context, w ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, w ResponseWriter, r *Request)

// ServeFrame calls f(ctx, w, r).
func (f HandlerFunc) ServeFrame(ctx context.Context, w ResponseWriter, r *Request) { f(ctx, w, r) }

// Mux routes requests to handlers by message type, as http.ServeMux routes
// paths. Applications register their own types in the range 0x8000–0xFFEF;
// 0xFFF0–0xFFFF are reserved for ringwire's daemon (protocol.MsgStats,
// protocol.MsgCredit). Handshake, Heartbeat, Cancel, Disconnect and
// protocol.MsgCredit are served by the session itself and cannot be
// registered. A Mux is safe for concurrent use.
type Mux struct {
	mu sync.Mutex                                 // serializes Handle
	m  atomic.Pointer[map[protocol.MsgType]route] // copied on write: route reads it without a lock
}

type route struct {
	h      Handler
	inline func(*Request) bool // nil: never inline
}

// HandleOption modifies a registration (Mux.Handle, Mux.HandleFunc).
type HandleOption func(*route)

// Inline declares that the handler answers at once, without blocking: the
// session serves its requests in its reader goroutine instead of a
// goroutine of their own, which saves a goroutine hand-off per request
// (and lets the response go out batched with others). Only declare what is
// fast and never waits (no I/O, no sleeping, no stream credit): while an
// inline handler runs, the session reads nothing else, not even Cancel.
// An inline handler must answer before it returns (Respond or Error; it
// may Send at most protocol.StreamWindow frames, since credit cannot arrive while
// it runs); ctx is the session's, and r.Payload is valid until it returns.
func Inline() HandleOption { return InlineWhen(func(*Request) bool { return true }) }

// InlineWhen is Inline for the requests for which fast reports true (the
// others run in a goroutine of their own). fast runs in the session's
// reader and must be cheap, e.g. look at one field of the payload.
func InlineWhen(fast func(r *Request) bool) HandleOption {
	return func(rt *route) { rt.inline = fast }
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	m := &Mux{}
	m.m.Store(&map[protocol.MsgType]route{})
	return m
}

// Handle registers h for requests of type typ, replacing any earlier
// registration. It panics if h is nil or typ is served by the session
// itself (Handshake, Heartbeat, Cancel, Disconnect, protocol.MsgCredit) or is a
// response-only type.
func (m *Mux) Handle(typ protocol.MsgType, h Handler, opts ...HandleOption) {
	if h == nil {
		panic("daemon: Mux.Handle with a nil handler")
	}
	switch typ {
	case protocol.MsgHandshake, protocol.MsgHandshakeAck, protocol.MsgHeartbeat, protocol.MsgCancel,
		protocol.MsgDisconnect, protocol.MsgError, protocol.MsgCompletionResponse, protocol.MsgStreamChunk,
		protocol.MsgToolResult, protocol.MsgCredit:
		panic("daemon: Mux.Handle: message type " + typ.String() + " cannot be registered")
	}
	rt := route{h: h}
	for _, o := range opts {
		if o != nil {
			o(&rt)
		}
	}
	m.mu.Lock()
	routes := map[protocol.MsgType]route{}
	if p := m.m.Load(); p != nil {
		routes = maps.Clone(*p)
	}
	routes[typ] = rt
	m.m.Store(&routes)
	m.mu.Unlock()
}

// HandleFunc registers f for requests of type typ; see Handle.
func (m *Mux) HandleFunc(typ protocol.MsgType, f func(ctx context.Context, w ResponseWriter, r *Request), opts ...HandleOption) {
	m.Handle(typ, HandlerFunc(f), opts...)
}

// Handler returns the handler registered for typ, or nil.
func (m *Mux) Handler(typ protocol.MsgType) Handler {
	return m.route(typ).h
}

func (m *Mux) route(typ protocol.MsgType) route {
	if p := m.m.Load(); p != nil {
		return (*p)[typ]
	}
	return route{}
}
