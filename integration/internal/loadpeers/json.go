package loadpeers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/load"
	"github.com/ringwire/ringwire/protocol"
)

// The JSON peer's wire format: one JSON object per line, both ways.
// Requests carry the caller's id; every answer repeats it. A streamed
// completion is answered by one "chunk" line per token, the last with
// final set.

// jsonRequest is a request line.
type jsonRequest struct {
	ID       uint64                      `json:"id"`
	Op       string                      `json:"op"` // "ping", "complete", "tool"
	Complete *protocol.CompletionRequest `json:"complete,omitempty"`
	Tool     *protocol.ToolCall          `json:"tool,omitempty"`
}

// jsonAnswer is an answer line.
type jsonAnswer struct {
	ID     uint64                `json:"id"`
	Pong   bool                  `json:"pong,omitempty"`
	Chunk  *protocol.StreamChunk `json:"chunk,omitempty"`
	Result *protocol.ToolResult  `json:"result,omitempty"`
	Error  string                `json:"error,omitempty"`
}

// maxLine bounds a line either side reads: a line longer than this ends
// the connection (a 64 KiB file read is ~70 KB of JSON).
const maxLine = 16 << 20

// JSONServer serves the load workloads as newline-delimited JSON over a
// Unix socket, the way a Go engineer would write it with encoding/json:
// one goroutine reading each connection, one per request, answers
// written under a lock. Completions come from ringwired's own mock
// provider and read_file from an os.Root on the workspace, so both sides
// of the comparison do the same work.
type JSONServer struct {
	Provider  daemon.Provider
	Workspace string // "" : tool calls fail

	ln    net.Listener
	root  *os.Root
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen listens on the Unix socket path.
func (s *JSONServer) Listen(path string) error {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	if s.Workspace != "" {
		if s.root, err = os.OpenRoot(s.Workspace); err != nil {
			ln.Close()
			return err
		}
	}
	s.ln = ln
	s.conns = map[net.Conn]struct{}{}
	return nil
}

// Serve accepts connections until ctx ends, then closes them and waits
// for their goroutines.
func (s *JSONServer) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.wg.Wait()
			if s.root != nil {
				s.root.Close()
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *JSONServer) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wmu sync.Mutex
	bw := bufio.NewWriter(c)
	send := func(a *jsonAnswer) error {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		wmu.Lock()
		defer wmu.Unlock()
		bw.Write(b)
		bw.WriteByte('\n')
		return bw.Flush()
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var wg sync.WaitGroup
	defer wg.Wait()
	for sc.Scan() {
		var req jsonRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			_ = send(&jsonAnswer{Error: "malformed request: " + err.Error()})
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, &req, send)
		}()
	}
}

func (s *JSONServer) handle(ctx context.Context, req *jsonRequest, send func(*jsonAnswer) error) {
	switch {
	case req.Op == "ping":
		_ = send(&jsonAnswer{ID: req.ID, Pong: true})
	case req.Op == "complete" && req.Complete != nil:
		seq := uint32(0)
		res, err := s.Provider.Complete(ctx, req.Complete, func(delta string) error {
			err := send(&jsonAnswer{ID: req.ID, Chunk: &protocol.StreamChunk{Sequence: seq, Delta: delta}})
			seq++
			return err
		})
		if err != nil {
			_ = send(&jsonAnswer{ID: req.ID, Error: err.Error()})
			return
		}
		_ = send(&jsonAnswer{ID: req.ID, Chunk: &protocol.StreamChunk{Sequence: seq, Final: true,
			FinishReason: res.FinishReason, Usage: res.Usage}})
	case req.Op == "tool" && req.Tool != nil:
		_ = send(&jsonAnswer{ID: req.ID, Result: s.tool(req.Tool)})
	default:
		_ = send(&jsonAnswer{ID: req.ID, Error: fmt.Sprintf("unknown op %q", req.Op)})
	}
}

// tool serves read_file (the only tool the workloads call) from the
// workspace root, as ringwired does.
func (s *JSONServer) tool(tc *protocol.ToolCall) *protocol.ToolResult {
	return serveTool(s.root, tc)
}

// serveTool runs the workloads' read_file on root: a ToolResult with the
// whole file, or IsError with why not.
func serveTool(root *os.Root, tc *protocol.ToolCall) *protocol.ToolResult {
	res := &protocol.ToolResult{CallID: tc.ID}
	var args struct {
		Path string `json:"path"`
	}
	switch {
	case tc.Name != "read_file":
		res.Content, res.IsError = fmt.Sprintf("no tool named %q", tc.Name), true
	case root == nil:
		res.Content, res.IsError = "no workspace configured", true
	case json.Unmarshal([]byte(tc.Arguments), &args) != nil || args.Path == "":
		res.Content, res.IsError = "read_file: bad arguments", true
	default:
		b, err := root.ReadFile(args.Path)
		if err != nil {
			res.Content, res.IsError = err.Error(), true
		} else {
			res.Content = string(b)
		}
	}
	return res
}

// JSON is a load.Target speaking the JSON peer's format over conns Unix
// connections; calls on one connection are matched to their answers by
// id by a reader goroutine.
type JSON struct {
	conns []*jsonConn
}

type jsonConn struct {
	c      net.Conn
	nextID atomic.Uint64
	wmu    sync.Mutex
	bw     *bufio.Writer
	mu     sync.Mutex
	calls  map[uint64]*jsonCall
	err    error // set when the reader stops
	done   chan struct{}
}

// jsonCall is a call waiting for its answers: the reader delivers them
// on ch until gone is closed (the caller left: done, or canceled).
type jsonCall struct {
	ch   chan *jsonAnswer
	gone chan struct{}
}

// DialJSON connects conns connections to the JSON server at path.
func DialJSON(ctx context.Context, path string, conns int) (*JSON, error) {
	t := &JSON{}
	var d net.Dialer
	for range max(conns, 1) {
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("loadpeers: dial json: %w", err)
		}
		jc := &jsonConn{c: c, bw: bufio.NewWriter(c), calls: map[uint64]*jsonCall{}, done: make(chan struct{})}
		go jc.read()
		t.conns = append(t.conns, jc)
	}
	return t, nil
}

func (jc *jsonConn) read() {
	defer close(jc.done)
	sc := bufio.NewScanner(jc.c)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var err error
	for sc.Scan() {
		a := new(jsonAnswer)
		if err = json.Unmarshal(sc.Bytes(), a); err != nil {
			break
		}
		jc.mu.Lock()
		call := jc.calls[a.ID]
		jc.mu.Unlock()
		if call != nil {
			select {
			case call.ch <- a:
			case <-call.gone: // late answers of a canceled call
			}
		}
	}
	if err == nil {
		err = sc.Err()
	}
	if err == nil {
		err = errors.New("connection closed")
	}
	jc.mu.Lock()
	jc.err = fmt.Errorf("loadpeers: json: %w", err)
	jc.mu.Unlock()
}

// call sends req and returns the call its answers arrive on.
func (jc *jsonConn) call(req *jsonRequest) (*jsonCall, error) {
	req.ID = jc.nextID.Add(1)
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	call := &jsonCall{ch: make(chan *jsonAnswer, protocol.StreamWindow), gone: make(chan struct{})}
	jc.mu.Lock()
	if jc.err != nil {
		err := jc.err
		jc.mu.Unlock()
		return nil, err
	}
	jc.calls[req.ID] = call
	jc.mu.Unlock()
	jc.wmu.Lock()
	jc.bw.Write(b)
	jc.bw.WriteByte('\n')
	err = jc.bw.Flush()
	jc.wmu.Unlock()
	if err != nil {
		jc.forget(req.ID, call)
		return nil, fmt.Errorf("loadpeers: json: %w", err)
	}
	return call, nil
}

func (jc *jsonConn) forget(id uint64, call *jsonCall) {
	jc.mu.Lock()
	delete(jc.calls, id)
	jc.mu.Unlock()
	close(call.gone)
}

// next waits for the next answer of call.
func (jc *jsonConn) next(ctx context.Context, call *jsonCall) (*jsonAnswer, error) {
	var a *jsonAnswer
	select {
	case a = <-call.ch:
	case <-jc.done:
		select {
		case a = <-call.ch:
		default:
			jc.mu.Lock()
			defer jc.mu.Unlock()
			return nil, jc.err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if a.Error != "" {
		return nil, fmt.Errorf("%w: %s", load.ErrHandler, a.Error)
	}
	return a, nil
}

// Do sends op; see load.Target.
func (t *JSON) Do(ctx context.Context, conn int, op *load.Op) error {
	jc := t.conns[conn%len(t.conns)]
	req := &jsonRequest{}
	switch op.Kind {
	case load.OpPing:
		req.Op = "ping"
	case load.OpComplete:
		req.Op, req.Complete = "complete", op.Complete
	case load.OpTool:
		req.Op, req.Tool = "tool", op.Tool
	default:
		return fmt.Errorf("loadpeers: unknown op %v", op.Kind)
	}
	call, err := jc.call(req)
	if err != nil {
		return err
	}
	defer jc.forget(req.ID, call)
	chunks := 0
	for {
		a, err := jc.next(ctx, call)
		if err != nil {
			return err
		}
		switch op.Kind {
		case load.OpPing:
			if !a.Pong {
				return fmt.Errorf("%w: ping answered without pong", load.ErrWrongAnswer)
			}
			return nil
		case load.OpComplete:
			if a.Chunk == nil {
				return fmt.Errorf("%w: completion answered without a chunk", load.ErrWrongAnswer)
			}
			if chunks++; a.Chunk.Final {
				if chunks < 2 {
					return fmt.Errorf("%w: stream of %d chunks", load.ErrWrongAnswer, chunks)
				}
				return nil
			}
		case load.OpTool:
			if a.Result == nil {
				return fmt.Errorf("%w: tool answered without a result", load.ErrWrongAnswer)
			}
			return load.CheckTool(op, len(a.Result.Content), a.Result.IsError, a.Result.Content)
		}
	}
}

// Close closes every connection and waits for the readers.
func (t *JSON) Close() error {
	for _, jc := range t.conns {
		jc.c.Close()
		<-jc.done
	}
	return nil
}
