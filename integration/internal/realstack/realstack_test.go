package realstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestStressMsg(t *testing.T) {
	for seq := range uint64(2000) {
		if err := CheckStressMsg(StressMsg(seq), seq); err != nil {
			t.Fatal(err)
		}
	}
	m := StressMsg(5)
	if err := CheckStressMsg(m, 4); err == nil {
		t.Error("message 5 accepted as 4")
	}
	if err := CheckStressMsg(m[:4], 5); err == nil {
		t.Error("4-byte message accepted")
	}
	bad := bytes.Clone(StressMsg(3))
	bad[len(bad)-1] ^= 1
	if err := CheckStressMsg(bad, 3); err == nil {
		t.Error("changed payload accepted")
	}
	if err := CheckStressMsg(StressMsg(3)[:9], 3); err == nil && len(StressMsg(3)) != 9 {
		t.Error("truncated payload accepted")
	}
}

func bufconnClient(t *testing.T, p Pauses) (*bufconn.Listener, func(context.Context, string) (net.Conn, error)) {
	ln := bufconn.Listen(1 << 16)
	srv := NewGRPCServer(p)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln, func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }
}

func TestGRPCServer(t *testing.T) {
	_, dial := bufconnClient(t, Pauses{Every: 10, Max: 100 * time.Microsecond})
	cc, err := NewGRPCClient(dial)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := HealthCheck(ctx, healthpb.NewHealthClient(cc)); err != nil {
		t.Fatal(err)
	}
	res, err := RunStress(ctx, cc, 300, Pauses{Every: 10, Max: 100 * time.Microsecond})
	if err != nil || res.Sent != 300 || res.Received != 300 {
		t.Fatalf("RunStress: %+v, %v", res, err)
	}

	// The server checks the order: a stream starting at message 1 ends
	// with DataLoss.
	st, err := cc.NewStream(ctx, &stressDesc, StressEchoMethod)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(&wrapperspb.BytesValue{Value: StressMsg(1)}); err != nil {
		t.Fatal(err)
	}
	var m wrapperspb.BytesValue
	if err := st.RecvMsg(&m); status.Code(err) != codes.DataLoss {
		t.Fatalf("out-of-order message: %v, want DataLoss", err)
	}
}

func TestHTTPServer(t *testing.T) {
	dir := t.TempDir()
	for _, tr := range []string{Shm, Unix} {
		t.Run(tr, func(t *testing.T) {
			path := filepath.Join(dir, tr+".sock")
			s, err := Start(HTTP, tr, path, Pauses{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Addr() == nil {
				t.Error("no address")
			}
			dial, err := Dialer(tr, path)
			if err != nil {
				t.Fatal(err)
			}
			cl := NewHTTPClient(dial)
			resp, err := cl.Post(EchoURL, "text/plain", bytes.NewReader([]byte("hello")))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != "hello" {
				t.Errorf("echo: %d %q", resp.StatusCode, b)
			}
			cl.CloseIdleConnections()
			if err := s.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	if _, err := Start("smtp", Unix, path, Pauses{}); err == nil {
		t.Error("unknown stack accepted")
	}
	if _, err := Start(GRPC, "tcp", path, Pauses{}); !errors.Is(err, ErrTransport) {
		t.Errorf("unknown transport: %v", err)
	}
	if _, err := Dialer("tcp", path); !errors.Is(err, ErrTransport) {
		t.Errorf("unknown transport: %v", err)
	}
	s, err := Start(GRPC, Shm, path, Pauses{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Error(err)
	}
}
