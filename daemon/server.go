package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// Version is the daemon's version, reported by `ringwired -version` and in
// the HandshakeAck's server name.
const Version = "0.1.0"

// Server is a ringwire daemon: it accepts sessions on the configured
// transports and routes their requests to handlers. Create it with New,
// start it with Serve (which calls Listen unless it was called first, to
// learn of listen errors before serving), stop it with Shutdown or by
// ending Serve's context.
type Server struct {
	cfg   Config
	mux   *Mux
	log   *slog.Logger
	start time.Time

	mu        sync.Mutex
	sessions  map[uint64]*session
	shmLn     *shmring.Listener
	sockLn    *shmring.UnixListener
	listening bool
	closed    bool

	nextSession atomic.Uint64
	active      atomic.Int64
	accepted    atomic.Uint64
	refused     atomic.Uint64
	requests    atomic.Uint64
	inflight    atomic.Int64
	draining    atomic.Bool

	releaseTimer *time.Timer // the idle release (memstats.go), under mu
	idleReleases atomic.Uint64

	m         *metrics         // nil: metrics off
	metricsEP *metricsEndpoint // Config.MetricsAddr's endpoint, once listening

	acceptWG  sync.WaitGroup
	sessionWG sync.WaitGroup
	shutdown  chan struct{}
	stopOnce  sync.Once
}

// New returns a Server for cfg, with defaults applied to zero fields, or an
// error wrapping ErrConfig. If cfg.Mux is nil the server gets a Mux with
// the built-in handlers: CompletionRequest (the configured Provider) and
// ToolCall (ToolHandler: the workspace tools). Unless the Mux already
// has a handler for protocol.MsgStats, New registers the server's own
// (inline), on a given Mux too.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.SocketPath == "" {
		cfg.SocketPath = shmring.DefaultSocketPath()
	}
	s := &Server{
		cfg:      cfg,
		mux:      cfg.Mux,
		log:      cfg.Logger,
		start:    time.Now(),
		sessions: make(map[uint64]*session),
		shutdown: make(chan struct{}),
	}
	if cfg.metricsEnabled() {
		reg := cfg.MetricsRegistry
		if reg == nil {
			reg = prometheus.NewRegistry()
		}
		if s.m, err = newMetrics(s, reg); err != nil {
			return nil, err
		}
	}
	if s.mux == nil {
		s.mux = NewMux()
		s.mux.Handle(protocol.MsgCompletionRequest, CompletionHandler(cfg.Provider), completionInline(cfg.Provider))
		s.mux.Handle(protocol.MsgToolCall, ToolHandler(cfg))
	}
	if s.mux.Handler(protocol.MsgStats) == nil {
		s.mux.Handle(protocol.MsgStats, HandlerFunc(s.serveStats), Inline())
	}
	return s, nil
}

// Mux returns the server's Mux, to register more handlers before Serve.
func (s *Server) Mux() *Mux { return s.mux }

// Config returns the server's configuration with defaults applied.
func (s *Server) Config() Config { return s.cfg }

// SocketPath returns the shared-memory transport's socket path.
func (s *Server) SocketPath() string { return s.cfg.SocketPath }

// Listen opens the listeners of the configured transports: shmring.Listen
// on Config.SocketPath for the shared-memory transport, shmring.ListenUnix
// on protocol.StreamPath(Config.SocketPath) for the socket transport. Both
// apply shmring's socket-directory rule: a missing directory is created
// 0700; an existing one must be a real directory (no symbolic link) owned
// by this user or root that neither group nor others can write, so 0700
// and 0755 are accepted and 0775, 0757, 1777 (/tmp), another user's
// directory and a symlink are refused with an error that matches
// shmring.ErrInsecureDir and says what to change. A path too long for a
// Unix socket matches shmring.ErrPathTooLong; a live daemon on either path
// is ErrAddrInUse, while a socket left by a dead one is replaced. With
// Config.ShmListener or Config.StreamListener set (socket activation) it
// adopts those sockets instead and opens none of its own. Serve
// calls Listen if it was not called; calling it again does nothing, and
// after Shutdown it returns ErrServerClosed.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.listening {
		return nil
	}
	shm, sock := s.cfg.serves(protocol.TransportShm), s.cfg.serves(protocol.TransportSocket)
	if shm {
		opts := []shmring.Option{shmring.WithMaxRingSize(s.cfg.MaxRingSize),
			shmring.WithMaxMessage(s.cfg.maxMessage()),
			shmring.WithAdmit(s.admit)}
		var ln *shmring.Listener
		var err error
		if s.cfg.ShmListener != nil {
			ln, err = shmring.NewListener(s.cfg.ShmListener, opts...) // socket activation
		} else {
			ln, err = shmring.Listen(s.cfg.SocketPath, opts...)
		}
		if err != nil && !(errors.Is(err, shmring.ErrUnsupported) && sock) && s.cfg.StreamListener != nil {
			s.cfg.StreamListener.Close()
		}
		switch {
		case errors.Is(err, shmring.ErrUnsupported) && sock:
			s.log.Info("shared memory unsupported here; serving the socket transport only")
		case errors.Is(err, shmring.ErrAddrInUse):
			return fmt.Errorf("%w: %s: %w", ErrAddrInUse, s.cfg.SocketPath, err)
		case err != nil:
			return fmt.Errorf("daemon: listen %s: %w", s.cfg.SocketPath, err)
		default:
			s.shmLn = ln
		}
	}
	if sock {
		path := protocol.StreamPath(s.cfg.SocketPath)
		var ln *shmring.UnixListener
		var err error
		if s.cfg.StreamListener != nil {
			path = s.cfg.StreamListener.Addr().String()
			ln, err = shmring.NewUnixListener(s.cfg.StreamListener) // socket activation
		} else {
			ln, err = shmring.ListenUnix(path)
		}
		if err != nil {
			if s.shmLn != nil {
				s.shmLn.Close()
				s.shmLn = nil
			}
			if errors.Is(err, shmring.ErrAddrInUse) {
				return fmt.Errorf("%w: %s: %w", ErrAddrInUse, path, err)
			}
			return fmt.Errorf("daemon: socket transport: listen %s: %w", path, err)
		}
		s.sockLn = ln
	}
	if err := s.listenMetrics(); err != nil {
		if s.shmLn != nil {
			s.shmLn.Close()
			s.shmLn = nil
		}
		if s.sockLn != nil {
			s.sockLn.Close()
			s.sockLn = nil
		}
		return err
	}
	s.listening = true
	s.log.Info("ringwired listening", "socket", s.cfg.SocketPath, "transport", transportsName(shm && s.shmLn != nil, s.sockLn != nil),
		"provider", s.cfg.Provider.Name(), "max_conns", s.cfg.MaxConns, "socket_activated", s.cfg.adopts())
	return nil
}

// admit is the admission check of both transports (shmring's admission
// hook on shared memory; called after AcceptUnix on the socket
// transport): while draining or over the connection limit it refuses with
// an encoded Error frame as the reason.
func (s *Server) admit(peer shmring.PeerInfo) ([]byte, bool) {
	if s.draining.Load() {
		s.refused.Add(1)
		if s.m != nil {
			s.m.refused[refusedDraining].Add(1)
		}
		return refusalFrame(protocol.ErrCodeUnavailable, "daemon is shutting down", true), false
	}
	if s.active.Load() >= int64(s.cfg.MaxConns) {
		s.refused.Add(1)
		if s.m != nil {
			s.m.refused[refusedTooManyConns].Add(1)
		}
		s.log.Warn("connection refused: too many connections", "pid", peer.PID, "max_conns", s.cfg.MaxConns)
		return refusalFrame(protocol.ErrCodeTooManyConns,
			fmt.Sprintf("too many connections (limit %d)", s.cfg.MaxConns), true), false
	}
	return nil, true
}

// refusalFrame encodes a connection-level Error frame (id 0).
func refusalFrame(code protocol.ErrorCode, msg string, retryable bool) []byte {
	return protocol.AppendFrame(nil, protocol.MsgError, protocol.FlagResponse, 0, encodeError(nil, code, msg, retryable))
}

// Serve accepts sessions until ctx is done or Shutdown is called; then it
// drains (see Shutdown) and returns nil. It returns an error if the
// listeners cannot be opened, and ErrServerClosed if Shutdown came first.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	shmLn, sockLn := s.shmLn, s.sockLn
	s.mu.Unlock()
	if shmLn != nil {
		s.acceptWG.Add(1)
		go s.acceptShm(shmLn)
	}
	if sockLn != nil {
		s.acceptWG.Add(1)
		go s.acceptSock(sockLn)
	}
	s.serveMetrics()
	select {
	case <-ctx.Done():
		dctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
		defer cancel()
		return s.Shutdown(dctx)
	case <-s.shutdown:
		s.acceptWG.Wait()
		return nil
	}
}

func (s *Server) acceptShm(ln *shmring.Listener) {
	defer s.acceptWG.Done()
	for {
		c, err := ln.AcceptConn()
		if err != nil {
			if s.draining.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("shm accept failed", "err", err)
			if isTemporary(err) {
				time.Sleep(5 * time.Millisecond)
			}
			continue
		}
		pi := c.PeerInfo()
		sess := s.newSession(newShmFrameConn(c, s.m), protocol.TransportShm, pi.PID, func() (uint64, uint64, uint64, uint64) {
			st := c.Stats()
			return st.TxUsed, st.TxCapacity, st.RxUsed, st.RxCapacity
		})
		if sess == nil {
			continue
		}
		go s.runSession(sess)
	}
}

// acceptSock serves the socket transport. AcceptUnix has already closed
// peers of another uid (counted in Stats.RefusedUID).
func (s *Server) acceptSock(ln *shmring.UnixListener) {
	defer s.acceptWG.Done()
	for {
		c, peer, err := ln.AcceptUnix()
		if err != nil {
			if s.draining.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("socket accept failed", "err", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if reason, ok := s.admit(peer); !ok {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(reason)
			c.Close()
			continue
		}
		sess := s.newSession(newSockConn(c, s.cfg.MaxPayload, s.m), protocol.TransportSocket, peer.PID, nil)
		if sess == nil {
			continue
		}
		go s.runSession(sess)
	}
}

// newSession registers a session, or closes fc and returns nil if the
// server is shutting down.
func (s *Server) newSession(fc frameConn, t protocol.Transport, pid int32, stats func() (txUsed, txCap, rxUsed, rxCap uint64)) *session {
	info := SessionInfo{ID: s.nextSession.Add(1), Transport: t, PID: pid}
	sess := newSession(s, fc, info)
	sess.stats = stats
	s.mu.Lock()
	if s.closed || s.draining.Load() {
		s.mu.Unlock()
		fc.Close()
		return nil
	}
	s.sessions[info.ID] = sess
	s.sessionWG.Add(1)
	s.mu.Unlock()
	s.active.Add(1)
	s.accepted.Add(1)
	return sess
}

func (s *Server) runSession(sess *session) {
	defer s.sessionWG.Done()
	sess.serve()
	<-sess.done
}

// forget removes a closed session.
func (s *Server) forget(sess *session) {
	s.mu.Lock()
	if _, ok := s.sessions[sess.info.ID]; ok {
		delete(s.sessions, sess.info.ID)
		if s.active.Add(-1) == 0 {
			s.sessionsIdle()
		}
	}
	s.mu.Unlock()
}

// Shutdown drains the server: it stops accepting, refuses new requests
// with a retryable Unavailable error, lets requests in flight finish until
// ctx is done, then cancels what is left, sends Disconnect on every session
// and closes them. It returns once every session is closed; calling it
// again waits for the same.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.draining.Store(true)
		s.mu.Lock()
		s.closed = true
		s.stopIdleRelease()
		if s.shmLn != nil {
			s.shmLn.Close()
		}
		if s.sockLn != nil {
			s.sockLn.Close()
		}
		s.mu.Unlock()
		s.acceptWG.Wait()
		s.log.Info("draining", "in_flight", s.inflight.Load())
		t := time.NewTicker(2 * time.Millisecond)
		for s.inflight.Load() > 0 {
			select {
			case <-ctx.Done():
				s.log.Warn("drain timeout; canceling requests in flight", "in_flight", s.inflight.Load())
			case <-t.C:
				continue
			}
			break
		}
		t.Stop()
		s.mu.Lock()
		list := make([]*session, 0, len(s.sessions))
		for _, sess := range s.sessions {
			list = append(list, sess)
		}
		s.mu.Unlock()
		var wg sync.WaitGroup
		for _, sess := range list {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sess.disconnect(protocol.ErrCodeNone, "daemon shutting down")
			}()
		}
		wg.Wait()
		s.sessionWG.Wait()
		s.closeMetrics()
		s.log.Info("ringwired stopped")
		close(s.shutdown)
	})
	<-s.shutdown
	return nil
}

// Done is closed when Shutdown has finished.
func (s *Server) Done() <-chan struct{} { return s.shutdown }

func isTemporary(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne)
}
