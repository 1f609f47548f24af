package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringwire/ringwire/pool"
	"github.com/ringwire/ringwire/protocol"
)

// Client is a connection to a ringwire daemon: a small pool of sessions
// (WithConns), each multiplexing calls. It is safe for concurrent use.
// Every call takes a context; when it ends before the answer, the client
// sends Cancel and returns ctx.Err() at once.
//
// A dead daemon is noticed at once (the socket reaches EOF) or, when idle,
// by heartbeats; calls in flight then fail with ErrConnLost, and calls
// while it is down with ErrUnavailable (both retryable, see IsRetryable).
// The client reconnects by itself on the next call, but never retries a
// call.
type Client struct {
	path   string
	o      options
	pool   *pool.Pool[*conn]
	closed atomic.Bool
	// one is the connection of a client WithConns(1), used without a pool
	// Acquire while it is alive (Acquire would hand out that one after
	// checking it is alive). With more connections the pool picks an idle
	// one per call, which keeps calls on one connection when they do not
	// overlap: round robin measured slower (Pipelined).
	one atomic.Pointer[conn]

	bmu       sync.Mutex
	backoff   time.Duration
	nextDial  time.Time
	lastError error
}

// Dial connects to the daemon whose socket is socketPath (for the socket
// transport, protocol.StreamPath(socketPath)). On either transport the
// process listening there must run as our uid, or the connection is
// dropped with ErrPeerUID. Unless WithLazyDial is given Dial makes one
// connection before returning, so a daemon that is not running, refuses,
// or runs as another user is reported here.
func Dial(ctx context.Context, socketPath string, opts ...Option) (*Client, error) {
	cl := &Client{path: socketPath, o: defaultOptions()}
	for _, opt := range opts {
		if opt != nil {
			opt(&cl.o)
		}
	}
	if cl.o.transport != protocol.TransportShm && cl.o.transport != protocol.TransportSocket {
		return nil, fmt.Errorf("client: unknown transport %v", cl.o.transport)
	}
	p, err := pool.New(pool.Config[*conn]{
		Constructor:          cl.construct,
		Destructor:           func(c *conn) { c.close() },
		HealthCheck:          func(_ context.Context, c *conn) error { return cl.health(c) },
		HealthCheckAfterIdle: -1,
		HealthCheckPeriod:    -1,
		MaxSize:              cl.o.conns,
		MinIdle:              cl.o.conns, // keep every connection up: the pool redials in the background
		IdleTimeout:          -1,
	})
	if err != nil {
		return nil, err
	}
	cl.pool = p
	if !cl.o.lazy {
		r, err := cl.pool.Acquire(ctx)
		if err != nil {
			cl.pool.Close(context.Background())
			return nil, cl.dialErr(ctx, err)
		}
		r.Release()
	}
	return cl, nil
}

func (cl *Client) health(c *conn) error {
	if c.alive() {
		return nil
	}
	return ErrConnLost
}

// construct dials one connection, pausing between failed attempts.
func (cl *Client) construct(ctx context.Context) (*conn, error) {
	cl.bmu.Lock()
	if wait := time.Until(cl.nextDial); wait > 0 {
		err := cl.lastError
		cl.bmu.Unlock()
		return nil, err
	}
	cl.bmu.Unlock()
	c, err := dialConn(ctx, cl.path, &cl.o)
	cl.bmu.Lock()
	defer cl.bmu.Unlock()
	if err != nil {
		if !errors.Is(err, ErrRefused) && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrPeerUID) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		cl.backoff = min(max(2*cl.backoff, time.Millisecond), cl.o.maxBackoff)
		cl.nextDial = time.Now().Add(cl.backoff)
		cl.lastError = err
		return nil, err
	}
	cl.backoff, cl.nextDial, cl.lastError = 0, time.Time{}, nil
	return c, nil
}

func (cl *Client) dialErr(ctx context.Context, err error) error {
	if errors.Is(err, pool.ErrClosed) {
		return ErrClosed
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// conn returns a live connection, dialing one if needed.
func (cl *Client) conn(ctx context.Context) (*conn, error) {
	if cl.closed.Load() {
		return nil, ErrClosed
	}
	if c := cl.one.Load(); c != nil && c.alive() {
		return c, nil
	}
	r, err := cl.pool.Acquire(ctx)
	if err != nil {
		return nil, cl.dialErr(ctx, err)
	}
	c := r.Value()
	r.Release()
	if cl.o.conns == 1 {
		cl.one.Store(c)
	}
	return c, nil
}

// Close closes every connection (sending Disconnect); calls in flight fail
// with ErrClosed. It is safe to call more than once.
func (cl *Client) Close() error {
	if cl.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.pool.Close(ctx); err != nil && !errors.Is(err, pool.ErrClosed) {
		return err
	}
	return nil
}

// Ping sends a Heartbeat and returns the round-trip time.
func (cl *Client) Ping(ctx context.Context) (time.Duration, error) {
	c, err := cl.conn(ctx)
	if err != nil {
		return 0, err
	}
	return c.ping(ctx)
}

// AppendCall sends a request of message type typ with payload and appends
// the response payload to dst. An Error answer is returned as a
// *protocol.Error. It allocates nothing in steady state when dst has room;
// use it for application message types (0x8000+) and hot paths.
func (cl *Client) AppendCall(ctx context.Context, dst []byte, typ protocol.MsgType, payload []byte) ([]byte, protocol.MsgType, error) {
	c, err := cl.conn(ctx)
	if err != nil {
		return dst, 0, err
	}
	p := getPending()
	defer putPending(p)
	if err := c.start(ctx, typ, payload, p); err != nil {
		return dst, 0, err
	}
	if err := c.wait(ctx, p); err != nil {
		return dst, 0, err
	}
	return append(dst, p.payload...), p.typ, nil
}

// Call sends a request of message type typ and returns the response's type
// and payload (a new slice). An Error answer is returned as a
// *protocol.Error. Streamed answers need CompleteStream.
func (cl *Client) Call(ctx context.Context, typ protocol.MsgType, payload []byte) (protocol.MsgType, []byte, error) {
	b, t, err := cl.AppendCall(ctx, nil, typ, payload)
	return t, b, err
}

// callMsg encodes m, calls, and decodes the answer into out, which must be
// the expected response type.
func (cl *Client) callMsg(ctx context.Context, m protocol.Message, out protocol.Message) error {
	c, err := cl.conn(ctx)
	if err != nil {
		return err
	}
	p := getPending()
	defer putPending(p)
	if err := c.start(ctx, m.MsgType(), p.enc.Encode(m), p); err != nil {
		return err
	}
	if err := c.wait(ctx, p); err != nil {
		return err
	}
	if p.typ != out.MsgType() {
		return fmt.Errorf("%w: %v answered with %v", ErrProtocol, m.MsgType(), p.typ)
	}
	if err := out.Unmarshal(p.payload); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return nil
}

// Complete asks for a completion and waits for the whole reply. req.Stream
// is ignored (treated as false). It allocates the response and its strings
// (two allocations, three when req.Stream is set); AppendComplete
// allocates nothing.
func (cl *Client) Complete(ctx context.Context, req *protocol.CompletionRequest) (*protocol.CompletionResponse, error) {
	var resp protocol.CompletionResponse
	if err := cl.callMsg(ctx, oneShot(req), &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// oneShot returns req, or a copy of it with Stream cleared.
func oneShot(req *protocol.CompletionRequest) *protocol.CompletionRequest {
	if !req.Stream {
		return req
	}
	r := *req
	r.Stream = false
	return &r
}

// AppendComplete is Complete without allocations: it appends the
// response's payload to dst and returns it with a view of the response
// that reads those bytes in place (valid while they are; reuse dst[:0]
// for the next call). req.Stream is ignored (treated as false; a request
// with Stream set is copied, which allocates). In steady state, with room
// in dst, it allocates nothing.
func (cl *Client) AppendComplete(ctx context.Context, dst []byte, req *protocol.CompletionRequest) ([]byte, protocol.CompletionResponseView, error) {
	var v protocol.CompletionResponseView
	c, err := cl.conn(ctx)
	if err != nil {
		return dst, v, err
	}
	p := getPending()
	defer putPending(p)
	if err := c.start(ctx, protocol.MsgCompletionRequest, p.enc.Encode(oneShot(req)), p); err != nil {
		return dst, v, err
	}
	if err := c.wait(ctx, p); err != nil {
		return dst, v, err
	}
	if p.typ != protocol.MsgCompletionResponse {
		return dst, v, fmt.Errorf("%w: %v answered with %v", ErrProtocol, protocol.MsgCompletionRequest, p.typ)
	}
	n := len(dst)
	dst = append(dst, p.payload...)
	if v, err = protocol.ViewCompletionResponse(dst[n:]); err != nil {
		return dst[:n], v, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return dst, v, nil
}

// CallTool calls a tool on the daemon.
func (cl *Client) CallTool(ctx context.Context, call *protocol.ToolCall) (*protocol.ToolResult, error) {
	var res protocol.ToolResult
	if err := cl.callMsg(ctx, call, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Stats asks the daemon for its stats (protocol.MsgStats) and returns the
// JSON.
func (cl *Client) Stats(ctx context.Context) ([]byte, error) {
	_, b, err := cl.Call(ctx, protocol.MsgStats, nil)
	return b, err
}
