package client

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// Defaults for the options.
const (
	DefaultConns             = 1
	DefaultRingSize          = 1 << 20
	DefaultHeartbeatInterval = 2 * time.Second
	DefaultHeartbeatTimeout  = 5 * time.Second
	DefaultDialTimeout       = 5 * time.Second
	DefaultMaxBackoff        = 50 * time.Millisecond
)

// defaultCompressShm and defaultCompressSocket are the payload sizes from
// which the client compresses what it sends on each transport when
// WithCompression is not given; 0 means compression is off (the client
// does not offer protocol.FeatureZstd). Chosen from integration's
// BenchmarkCompress (see README.md, "Compression").
const (
	defaultCompressShm    = 0
	defaultCompressSocket = 0
)

// Option configures Dial.
type Option func(*options)

type options struct {
	conns       int
	transport   protocol.Transport
	ringSize    int
	hbInterval  time.Duration
	hbTimeout   time.Duration
	dialTimeout time.Duration
	maxBackoff  time.Duration
	name        string
	maxPayload  int
	logger      *slog.Logger
	lazy        bool
	compress    int // threshold; 0 off, -1 the transport's default

	// dialUnix connects the socket transport: shmring.DialUnix, or a
	// stand-in in tests that cannot run a listener as another uid.
	dialUnix func(ctx context.Context, path string, opts ...shmring.Option) (*net.UnixConn, shmring.PeerInfo, error)
}

func defaultOptions() options {
	t := protocol.TransportShm
	if runtime.GOOS != "linux" {
		t = protocol.TransportSocket
	}
	return options{
		conns:       DefaultConns,
		transport:   t,
		ringSize:    DefaultRingSize,
		hbInterval:  DefaultHeartbeatInterval,
		hbTimeout:   DefaultHeartbeatTimeout,
		dialTimeout: DefaultDialTimeout,
		maxBackoff:  DefaultMaxBackoff,
		name:        "ringwire-go-client",
		maxPayload:  protocol.DefaultMaxPayload,
		logger:      slog.Default(),
		compress:    -1,
		dialUnix:    shmring.DialUnix,
	}
}

// compressThreshold is the payload size from which the client compresses
// on its transport; 0: compression off.
func (o *options) compressThreshold() int {
	switch {
	case o.compress >= 0:
		return o.compress
	case o.transport == protocol.TransportShm:
		return defaultCompressShm
	}
	return defaultCompressSocket
}

// WithConns sets how many connections the client keeps to the daemon and
// spreads calls over (each multiplexes any number of calls). Default 1.
func WithConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.conns = n
		}
	}
}

// WithTransport selects the transport: protocol.TransportShm (shared-memory
// rings, Linux only) or protocol.TransportSocket (the frames over a Unix
// socket at protocol.StreamPath of the daemon's socket path, served by the
// daemon's -transport socket or both; Linux, macOS and FreeBSD). Both
// check that the daemon runs as our uid (ErrPeerUID). Default:
// TransportShm on Linux, TransportSocket elsewhere.
func WithTransport(t protocol.Transport) Option { return func(o *options) { o.transport = t } }

// WithRingSize sets the ring capacity (bytes per direction) requested on
// the shared-memory transport; the daemon may grant less. Default 1 MiB.
func WithRingSize(n int) Option { return func(o *options) { o.ringSize = n } }

// WithHeartbeat sets how long a connection may stay quiet before the
// client sends a Heartbeat, and how long it waits for the answer before it
// declares the connection lost. Zero interval turns heartbeats off.
// Defaults: DefaultHeartbeatInterval (2 s) and DefaultHeartbeatTimeout (5 s).
func WithHeartbeat(interval, timeout time.Duration) Option {
	return func(o *options) { o.hbInterval, o.hbTimeout = interval, timeout }
}

// WithDialTimeout bounds the setup of one connection (transport setup and
// protocol handshake). Default 5 s.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithMaxBackoff caps the pause between reconnection attempts while the
// daemon is unreachable: a call within the pause fails at once with
// ErrUnavailable instead of dialing. The pause starts at 1 ms and doubles.
// Default 50 ms, so a restarted daemon is reached within about that long.
func WithMaxBackoff(d time.Duration) Option { return func(o *options) { o.maxBackoff = d } }

// WithClientName sets the name sent in the Handshake. Default
// "ringwire-go-client".
func WithClientName(name string) Option { return func(o *options) { o.name = name } }

// WithMaxPayload bounds the payload of a frame accepted from the daemon.
// Default protocol.DefaultMaxPayload (10 MiB).
func WithMaxPayload(n int) Option { return func(o *options) { o.maxPayload = n } }

// WithLogger sets where the client logs connection events. Default
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCompression turns zstd compression on or off: with threshold > 0
// the client offers protocol.FeatureZstd in its Handshake and, once the
// daemon grants it, sends payloads of at least threshold bytes compressed
// when that makes them smaller (protocol.DefaultCompressThreshold, 4 KiB,
// is a good value) and accepts compressed answers; threshold <= 0 turns
// it off. A daemon that does not grant the feature gets everything
// uncompressed. Default: off on both transports, where it measured slower
// (see README.md, "Compression").
func WithCompression(threshold int) Option {
	return func(o *options) { o.compress = max(threshold, 0) }
}

// WithLazyDial makes Dial return without connecting: the first call
// connects. By default Dial makes one connection, so that a daemon that is
// not running or refuses is reported by Dial.
func WithLazyDial() Option { return func(o *options) { o.lazy = true } }
