package realstack

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// StressEchoMethod is the full name of the stress stream.
const StressEchoMethod = "/ringwire.realstack.Stress/Echo"

// stressDesc describes the stress stream for both sides.
var stressDesc = grpc.StreamDesc{StreamName: "Echo", ServerStreams: true, ClientStreams: true}

// NewGRPCServer returns a gRPC server with the standard health service
// (reporting SERVING) and the stress stream, whose server side pauses as
// p says.
func NewGRPCServer(p Pauses, opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, health.NewServer())
	desc := stressDesc
	desc.Handler = func(_ any, stream grpc.ServerStream) error { return serveStress(stream, p) }
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "ringwire.realstack.Stress",
		HandlerType: (*any)(nil),
		Streams:     []grpc.StreamDesc{desc},
	}, struct{}{})
	return s
}

// serveStress checks and echoes each message of a stress stream until the
// client closes its side.
func serveStress(stream grpc.ServerStream, p Pauses) error {
	r := rand.New(rand.NewPCG(rand.Uint64(), 0))
	var want uint64
	for {
		var m wrapperspb.BytesValue
		if err := stream.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := CheckStressMsg(m.Value, want); err != nil {
			return status.Error(codes.DataLoss, "server: "+err.Error())
		}
		want++
		if err := stream.SendMsg(&m); err != nil {
			return err
		}
		p.after(r)
	}
}

// StressMsg returns message seq of a stress stream: seq in 8 bytes, then a
// payload of 0–511 bytes whose length and contents derive from seq.
func StressMsg(seq uint64) []byte {
	n := int(seq*2654435761) & 511
	b := make([]byte, 8+n)
	binary.LittleEndian.PutUint64(b, seq)
	fillStress(b[8:], seq)
	return b
}

func fillStress(b []byte, seq uint64) {
	for i := range b {
		b[i] = byte(seq) + byte(i)*31
	}
}

// CheckStressMsg checks that b is message want of a stress stream.
func CheckStressMsg(b []byte, want uint64) error {
	if len(b) < 8 {
		return fmt.Errorf("message %d: %d bytes", want, len(b))
	}
	if got := binary.LittleEndian.Uint64(b); got != want {
		return fmt.Errorf("got message %d, want %d (lost, repeated or out of order)", got, want)
	}
	if exp := StressMsg(want); !bytes.Equal(b, exp) {
		return fmt.Errorf("message %d: payload differs (%d bytes, want %d)", want, len(b), len(exp))
	}
	return nil
}

// NewGRPCClient returns a client connection whose transport comes from dial.
func NewGRPCClient(dial func(ctx context.Context, addr string) (net.Conn, error), opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///realstack", append([]grpc.DialOption{
		grpc.WithContextDialer(dial),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)...)
}

// HealthCheck makes one health check and checks the answer is SERVING.
func HealthCheck(ctx context.Context, hc healthpb.HealthClient) error {
	res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("realstack: health status %v", res.GetStatus())
	}
	return nil
}

// StressResult is what a stress stream's client saw.
type StressResult struct {
	Sent, Received uint64
}

// RunStress sends n messages on a new stress stream, pausing as p says,
// while checking that every echo arrives once and in order; it returns when
// all n came back and the server ended the stream cleanly.
func RunStress(ctx context.Context, cc *grpc.ClientConn, n uint64, p Pauses) (StressResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cc.NewStream(ctx, &stressDesc, StressEchoMethod)
	if err != nil {
		return StressResult{}, err
	}
	var res StressResult
	sendErr := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for seq := range n {
			if err := stream.SendMsg(&wrapperspb.BytesValue{Value: StressMsg(seq)}); err != nil {
				sendErr <- fmt.Errorf("send %d: %w", seq, err)
				return
			}
			res.Sent = seq + 1
			p.after(r)
		}
		sendErr <- stream.CloseSend()
	}()
	var recvErr error
	for res.Received < n {
		var m wrapperspb.BytesValue
		if err := stream.RecvMsg(&m); err != nil {
			recvErr = fmt.Errorf("receive %d: %w", res.Received, err)
			break
		}
		if err := CheckStressMsg(m.Value, res.Received); err != nil {
			recvErr = fmt.Errorf("client: %w", err)
			break
		}
		res.Received++
	}
	if recvErr == nil {
		var m wrapperspb.BytesValue
		switch err := stream.RecvMsg(&m); {
		case errors.Is(err, io.EOF):
		case err == nil:
			recvErr = fmt.Errorf("client: message beyond the %d sent", n)
		default:
			recvErr = fmt.Errorf("end of stream: %w", err)
		}
	}
	if recvErr != nil {
		cancel()
	}
	serr := <-sendErr
	if recvErr != nil {
		return res, recvErr
	}
	return res, serr
}
