package realstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"

	"github.com/ringwire/ringwire/shmring"
)

// Stacks.
const (
	HTTP = "http"
	GRPC = "grpc"
)

// Server is a stack's server serving on a listener.
type Server struct {
	ln    net.Listener
	hs    *http.Server
	gs    *grpc.Server
	done  chan struct{}
	serve error
}

// Start listens on path over transport and serves stack (HTTP or GRPC) on
// it until Stop; p applies to the gRPC stress stream, opts to Shm.
func Start(stack, transport, path string, p Pauses, opts ...shmring.Option) (*Server, error) {
	if stack != HTTP && stack != GRPC {
		return nil, fmt.Errorf("realstack: unknown stack %q", stack)
	}
	ln, err := Listen(transport, path, opts...)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, done: make(chan struct{})}
	if stack == HTTP {
		s.hs = NewHTTPServer()
	} else {
		s.gs = NewGRPCServer(p)
	}
	go func() {
		defer close(s.done)
		if s.hs != nil {
			s.serve = s.hs.Serve(ln)
		} else {
			s.serve = s.gs.Serve(ln)
		}
	}()
	return s, nil
}

// Addr is the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stop stops the server: gracefully within 5 s, then at once. It returns
// the error serving ended with, if it was not the stop itself.
func (s *Server) Stop() error {
	if s.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.hs.Shutdown(ctx); err != nil {
			_ = s.hs.Close()
		}
	} else {
		stopped := make(chan struct{})
		go func() { s.gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			s.gs.Stop()
			<-stopped
		}
	}
	<-s.done
	if s.serve == nil || errors.Is(s.serve, http.ErrServerClosed) || errors.Is(s.serve, grpc.ErrServerStopped) {
		return nil
	}
	return s.serve
}
