package loadpeers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/integration/internal/load"
	"github.com/ringwire/ringwire/protocol"
)

// The gRPC peer: a service written by hand (no code generator), whose
// messages are ringwire's own FlatBuffers payloads carried as bytes by a
// codec, over HTTP/2 on a Unix socket.
//
//	/ringwire.load.Load/Ping      unary: a Heartbeat, echoed
//	/ringwire.load.Load/Tool      unary: ToolCall → ToolResult
//	/ringwire.load.Load/Complete  server stream: CompletionRequest → StreamChunk...
const grpcService = "ringwire.load.Load"

// rawMsg is a message of the gRPC peer: the encoded payload.
type rawMsg struct{ b []byte }

// flatCodec passes payloads through as they are: the FlatBuffers bytes
// protocol.Marshal made.
type flatCodec struct{}

func (flatCodec) Name() string { return "flatbuffers" }

func (flatCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(*rawMsg)
	if !ok {
		return nil, fmt.Errorf("loadpeers: flatbuffers codec cannot marshal %T", v)
	}
	return m.b, nil
}

// Unmarshal copies data: gRPC reuses its buffer once Unmarshal returns.
func (flatCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(*rawMsg)
	if !ok {
		return fmt.Errorf("loadpeers: flatbuffers codec cannot unmarshal into %T", v)
	}
	m.b = append(m.b[:0], data...)
	return nil
}

// GRPCServer serves the load workloads over gRPC on a Unix socket, with
// ringwired's mock provider and read_file on the workspace.
type GRPCServer struct {
	Provider  daemon.Provider
	Workspace string

	ln   net.Listener
	root *os.Root
	srv  *grpc.Server
}

// Listen listens on the Unix socket path.
func (s *GRPCServer) Listen(path string) error {
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
	s.srv = grpc.NewServer(grpc.ForceServerCodec(flatCodec{}))
	s.srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: grpcService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Ping", Handler: s.ping},
			{MethodName: "Tool", Handler: s.tool},
		},
		Streams: []grpc.StreamDesc{{StreamName: "Complete", Handler: s.complete, ServerStreams: true}},
	}, s)
	return nil
}

// Serve serves until ctx ends, then stops gracefully.
func (s *GRPCServer) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.srv.GracefulStop()
	}()
	err := s.srv.Serve(s.ln)
	if s.root != nil {
		s.root.Close()
	}
	if ctx.Err() != nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

func (s *GRPCServer) ping(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	var in rawMsg
	if err := dec(&in); err != nil {
		return nil, err
	}
	var hb protocol.Heartbeat
	if err := hb.Unmarshal(in.b); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &rawMsg{b: protocol.Marshal(&protocol.Heartbeat{EchoUnixNano: hb.SentUnixNano})}, nil
}

func (s *GRPCServer) tool(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	var in rawMsg
	if err := dec(&in); err != nil {
		return nil, err
	}
	var tc protocol.ToolCall
	if err := tc.Unmarshal(in.b); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &rawMsg{b: protocol.Marshal(serveTool(s.root, &tc))}, nil
}

func (s *GRPCServer) complete(_ any, stream grpc.ServerStream) error {
	var in rawMsg
	if err := stream.RecvMsg(&in); err != nil {
		return err
	}
	var req protocol.CompletionRequest
	if err := req.Unmarshal(in.b); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	seq := uint32(0)
	res, err := s.Provider.Complete(stream.Context(), &req, func(delta string) error {
		err := stream.SendMsg(&rawMsg{b: protocol.Marshal(&protocol.StreamChunk{Sequence: seq, Delta: delta})})
		seq++
		return err
	})
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	return stream.SendMsg(&rawMsg{b: protocol.Marshal(&protocol.StreamChunk{Sequence: seq, Final: true,
		FinishReason: res.FinishReason, Usage: res.Usage})})
}

// GRPC is a load.Target calling the gRPC peer over conns client
// connections (each one HTTP/2 connection on the Unix socket).
type GRPC struct {
	conns []*grpc.ClientConn
}

var completeDesc = &grpc.StreamDesc{StreamName: "Complete", ServerStreams: true}

// DialGRPC connects conns gRPC client connections to the peer at path.
func DialGRPC(ctx context.Context, path string, conns int) (*GRPC, error) {
	t := &GRPC{}
	for range max(conns, 1) {
		cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(flatCodec{})))
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("loadpeers: dial grpc: %w", err)
		}
		t.conns = append(t.conns, cc)
		cc.Connect()
	}
	// One call per connection now, so a refused socket fails here.
	for i := range t.conns {
		if err := t.Do(ctx, i, &load.Op{Kind: load.OpPing}); err != nil {
			t.Close()
			return nil, fmt.Errorf("loadpeers: dial grpc: %w", err)
		}
	}
	return t, nil
}

// grpcErr marks errors the peer's handlers returned as handler failures.
func grpcErr(err error) error {
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.InvalidArgument, codes.Internal, codes.Unknown:
			return fmt.Errorf("%w: %w", load.ErrHandler, err)
		}
	}
	return err
}

// Do sends op; see load.Target.
func (t *GRPC) Do(ctx context.Context, conn int, op *load.Op) error {
	cc := t.conns[conn%len(t.conns)]
	switch op.Kind {
	case load.OpPing:
		var out rawMsg
		if err := cc.Invoke(ctx, "/"+grpcService+"/Ping", &rawMsg{b: protocol.Marshal(&protocol.Heartbeat{SentUnixNano: 1})}, &out); err != nil {
			return grpcErr(err)
		}
		var hb protocol.Heartbeat
		if err := hb.Unmarshal(out.b); err != nil || hb.EchoUnixNano != 1 {
			return fmt.Errorf("%w: ping answered with %+v (%v)", load.ErrWrongAnswer, hb, err)
		}
		return nil
	case load.OpTool:
		var out rawMsg
		if err := cc.Invoke(ctx, "/"+grpcService+"/Tool", &rawMsg{b: protocol.Marshal(op.Tool)}, &out); err != nil {
			return grpcErr(err)
		}
		var res protocol.ToolResult
		if err := res.Unmarshal(out.b); err != nil {
			return fmt.Errorf("%w: %w", load.ErrWrongAnswer, err)
		}
		return load.CheckTool(op, len(res.Content), res.IsError, res.Content)
	case load.OpComplete:
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // ends the stream if it stops early
		st, err := cc.NewStream(ctx, completeDesc, "/"+grpcService+"/Complete")
		if err != nil {
			return grpcErr(err)
		}
		if err := st.SendMsg(&rawMsg{b: protocol.Marshal(op.Complete)}); err != nil {
			return grpcErr(err)
		}
		if err := st.CloseSend(); err != nil {
			return grpcErr(err)
		}
		chunks, final := 0, false
		var m rawMsg
		for {
			err := st.RecvMsg(&m)
			if err == io.EOF {
				break
			}
			if err != nil {
				return grpcErr(err)
			}
			var ch protocol.StreamChunk
			if err := ch.Unmarshal(m.b); err != nil {
				return fmt.Errorf("%w: %w", load.ErrWrongAnswer, err)
			}
			chunks++
			final = ch.Final
		}
		if !final || chunks < 2 {
			return fmt.Errorf("%w: stream of %d chunks, final %v", load.ErrWrongAnswer, chunks, final)
		}
		return nil
	}
	return fmt.Errorf("loadpeers: unknown op %v", op.Kind)
}

// Close closes every connection.
func (t *GRPC) Close() error {
	var errs []error
	for _, cc := range t.conns {
		errs = append(errs, cc.Close())
	}
	return errors.Join(errs...)
}
