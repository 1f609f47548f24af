package shmring

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxPendingSetups bounds the setup exchanges a Listener runs at once.
const maxPendingSetups = 64

// Listener accepts shared-memory connections on a Unix socket. It is a
// net.Listener; Accept returns *Conn values.
type Listener struct {
	ul      *UnixListener
	cfg     config
	conns   chan *Conn
	closing chan struct{}
	sem     chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	pending map[*net.UnixConn]struct{}
	closed  bool
}

// Listen listens on the Unix socket at path. The socket's directory is
// created with mode 0700 if missing; if it exists it must be a real
// directory (lstat: no symbolic link) owned by this user or root that
// neither group nor others can write, sticky or not (ErrInsecureDir); 0700
// and 0755 both qualify.
// The socket file gets mode 0600. A socket file left by a dead listener is
// replaced; a live listener is never displaced (ErrAddrInUse): a flock on
// path+".lock" guards the path. Paths over 107 bytes fail with
// ErrPathTooLong. The socket layer is a UnixListener (see ListenUnix), which
// also checks each dialer's uid.
//
// Options: WithMaxRingSize, WithAdmit, WithAllowUIDs, WithMaxMessage,
// WithHandshakeTimeout, WithSpin.
func Listen(path string, opts ...Option) (*Listener, error) {
	cfg := buildConfig(opts)
	ul, err := listenUnix(path, cfg.allowUIDs)
	if err != nil {
		return nil, err
	}
	return startListener(ul, cfg), nil
}

// startListener serves the setup exchange on ul's connections.
func startListener(ul *UnixListener, cfg config) *Listener {
	l := &Listener{
		ul:      ul,
		cfg:     cfg,
		conns:   make(chan *Conn),
		closing: make(chan struct{}),
		sem:     make(chan struct{}, maxPendingSetups),
		pending: make(map[*net.UnixConn]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		select {
		case l.sem <- struct{}{}:
		case <-l.closing:
			return
		}
		s, peer, err := l.ul.AcceptUnix()
		if err != nil {
			<-l.sem
			select {
			case <-l.closing:
				return
			case <-time.After(10 * time.Millisecond): // e.g. EMFILE: back off
				continue
			}
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			s.Close()
			<-l.sem
			return
		}
		l.pending[s] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.setup(s, peer)
	}
}

// setup runs the listener's side of the setup exchange on s and hands the
// connection to Accept. Failures only affect that dialer.
func (l *Listener) setup(s *net.UnixConn, peer PeerInfo) {
	defer l.wg.Done()
	c, err := listenerSetup(s, peer, &l.cfg)
	l.mu.Lock()
	delete(l.pending, s)
	l.mu.Unlock()
	<-l.sem
	if err != nil {
		s.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-l.closing:
		c.Close()
	}
}

// Accept waits for the next connection and returns it as a net.Conn (a
// *Conn underneath).
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptConn()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptConn waits for the next connection whose setup succeeded.
func (l *Listener) AcceptConn() (*Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closing:
		return nil, fmt.Errorf("shmring: accept: %w", net.ErrClosed)
	}
}

// AcceptContext is AcceptConn that also gives up when ctx is done.
func (l *Listener) AcceptContext(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closing:
		return nil, fmt.Errorf("shmring: accept: %w", net.ErrClosed)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops listening, aborts setups in progress, removes the socket and
// lock files and releases the lock (an adopted socket's file is left alone,
// see NewListener). Connections already accepted stay open.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("shmring: close listener: %w", net.ErrClosed)
	}
	l.closed = true
	close(l.closing)
	for s := range l.pending {
		s.Close()
	}
	l.mu.Unlock()
	err := l.ul.Close() // unlinks the socket and the lock file
	l.wg.Wait()
	return err
}

// Addr returns the listener's Unix socket address.
func (l *Listener) Addr() net.Addr { return l.ul.Addr() }

// listenerSetup is the listener's half of the setup exchange (SPEC.md).
// The peer's uid has been checked by the UnixListener.
func listenerSetup(s *net.UnixConn, peer PeerInfo, cfg *config) (*Conn, error) {
	if cfg.handshakeTimeout > 0 {
		_ = s.SetDeadline(time.Now().Add(cfg.handshakeTimeout))
	}
	_, body, fds, err := recvMsg(s, msgHello)
	if err != nil {
		return nil, err
	}
	if len(fds) > 0 {
		closeFDs(fds)
		return nil, fmt.Errorf("%w: hello carried %d descriptors", ErrCorrupt, len(fds))
	}
	h, err := parseHelloBody(body)
	if err != nil {
		return nil, err
	}
	if cfg.admit != nil {
		if reason, ok := cfg.admit(peer); !ok {
			if len(reason) > maxRefuseBody {
				reason = reason[:maxRefuseBody]
			}
			_ = sendFull(s, appendRefuse(nil, reason), nil)
			return nil, ErrRefused
		}
	}
	limit := floorRingSize(cfg.maxRingSize)
	c0 := min(roundRingSize(int(h.reqDialToListen)), limit)
	c1 := min(roundRingSize(int(h.reqListenToDial)), limit)
	l := newLayout(c0, c1)
	memfd, mem, err := createSegment(l)
	if err != nil {
		return nil, err
	}
	defer unix.Close(memfd)
	var files [4]*os.File // d2l data, d2l space, l2d data, l2d space
	var efds [4]int
	ok := false
	defer func() {
		if !ok {
			for _, f := range files {
				if f != nil {
					f.Close()
				}
			}
			_ = unix.Munmap(mem)
		}
	}()
	for i := range files {
		if efds[i], files[i], err = newEventfd(); err != nil {
			return nil, err
		}
	}
	msg := accept{capDialToListen: uint32(c0), capListenToDial: uint32(c1), segSize: l.size}.append(nil)
	fds = []int{memfd, efds[0], efds[1], efds[2], efds[3]}
	if err := sendFull(s, msg, fds); err != nil {
		return nil, err
	}
	_, _, fds, err = recvMsg(s, msgReady)
	if err != nil {
		return nil, err
	}
	if len(fds) > 0 {
		closeFDs(fds)
		return nil, fmt.Errorf("%w: ready carried %d descriptors", ErrCorrupt, len(fds))
	}
	_ = s.SetDeadline(time.Time{})
	c, err := newConn(s, mem, l, ringListenToDial, files[0], files[1], files[2], files[3], peer, cfg)
	if err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

var _ net.Listener = (*Listener)(nil)
