package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringwire/ringwire/protocol"
)

// ParseTransports parses the transports a daemon serves: "shm", "socket"
// or "both" (case and surrounding spaces ignored).
func ParseTransports(s string) ([]protocol.Transport, error) {
	if strings.EqualFold(strings.TrimSpace(s), "both") {
		return []protocol.Transport{protocol.TransportShm, protocol.TransportSocket}, nil
	}
	t, err := protocol.ParseTransport(s)
	if err != nil {
		return nil, fmt.Errorf("%w: transport %q (want shm, socket or both)", ErrConfig, s)
	}
	return []protocol.Transport{t}, nil
}

// Defaults applied by New to zero-valued Config fields.
const (
	// DefaultMaxRingSize is the largest ring capacity the daemon grants
	// per direction by default (1 MiB, what the Go client asks for). It is
	// below shmring's own ceiling for a listener, shmring.DefaultMaxRingSize
	// (16 MiB), because a daemon serves many connections: 1024 of them at
	// 16 MiB a direction could map 32 GiB.
	DefaultMaxRingSize = 1 << 20
	// DefaultMaxConns is the default connection limit.
	DefaultMaxConns = 1024
	// DefaultMaxInflight is the default limit of requests in flight per
	// session.
	DefaultMaxInflight = 256
	// DefaultDrainTimeout is how long Shutdown lets in-flight requests run
	// by default.
	DefaultDrainTimeout = 10 * time.Second
	// DefaultCompressShm and DefaultCompressSocket are the default
	// compression thresholds per transport (Config.CompressShm,
	// Config.CompressSocket); -1 means off. Chosen from integration's
	// BenchmarkCompress (see README.md, "Compression").
	DefaultCompressShm    = -1
	DefaultCompressSocket = -1
)

// Config configures a Server. The zero value works: every field has a
// default, documented beside it.
type Config struct {
	// SocketPath is the Unix socket the shared-memory transport listens
	// on; the socket transport listens on protocol.StreamPath(SocketPath).
	// Its directory must pass shmring's socket-directory rule (see
	// Server.Listen). Default: shmring.DefaultSocketPath().
	SocketPath string

	// ShmListener and StreamListener, when either is set, are sockets
	// already listening that Listen adopts instead of opening its own:
	// the shared-memory transport's setup socket (shmring.NewListener)
	// and the socket transport's (shmring.NewUnixListener), e.g. the ones
	// InheritedListeners returns under systemd socket activation. Listen
	// then serves exactly the transports whose listener is set (Transports
	// is not consulted), takes no lock and never removes their files (the
	// service manager owns them); SocketPath becomes the adopted
	// shared-memory socket's path (else the stream socket's, less
	// protocol.StreamSuffix). Peers' uids are checked as on sockets of the
	// daemon's own. The Server owns them from Listen on (it closes them
	// if Listen fails, and on Shutdown; if New fails they are still the
	// caller's). Default: nil, Listen opens the sockets itself.
	ShmListener    *net.UnixListener
	StreamListener *net.UnixListener

	// Transports says which transports to serve: protocol.TransportShm
	// (shared-memory rings on SocketPath) and protocol.TransportSocket (the
	// same frames over a Unix socket at protocol.StreamPath(SocketPath), for
	// systems without memfd and peers that cannot map memory). Default:
	// both (the socket transport only where shared memory is unsupported).
	Transports []protocol.Transport

	// Provider answers completion requests. Default: a MockProvider with
	// no pacing.
	Provider Provider

	// MaxConns is the most sessions served at once; a connection beyond it
	// is refused at setup with an Error frame (ErrCodeTooManyConns).
	// Default: DefaultMaxConns.
	MaxConns int

	// MaxRingSize is the largest ring capacity (per direction, bytes)
	// granted to a shared-memory client (shmring.WithMaxRingSize): a client
	// asking for more gets this much. Default: DefaultMaxRingSize.
	MaxRingSize int

	// MaxPayload is the largest frame payload accepted from a client,
	// after decompression, and announced in the HandshakeAck; a larger one
	// is a protocol error that closes the session (a compressed one that
	// inflates past it gets a TooLarge error). Default, and the most
	// allowed: protocol.DefaultMaxPayload.
	MaxPayload int

	// MaxInflight is the most requests one session may have in flight;
	// beyond it a request is answered with a retryable Overloaded error.
	// Default: DefaultMaxInflight.
	MaxInflight int

	// DrainTimeout bounds how long Shutdown lets in-flight requests finish
	// before it cancels them and disconnects. Default: DefaultDrainTimeout.
	DrainTimeout time.Duration

	// CompressShm and CompressSocket say, per transport, whether the
	// daemon grants zstd compression (protocol.FeatureZstd) to a client
	// that offers it and from which payload size it then compresses what
	// it sends (only when that makes it smaller; protocol's
	// DefaultCompressThreshold, 4096, is a good value). A negative value
	// turns compression off on that transport: the feature is not
	// granted and both sides send uncompressed. 0 means the default:
	// DefaultCompressShm, DefaultCompressSocket.
	CompressShm    int
	CompressSocket int

	// HandshakeTimeout bounds the wait for a new connection's Handshake.
	// Default: 5 s.
	HandshakeTimeout time.Duration

	// Logger receives the server's logs. Default: slog.Default().
	Logger *slog.Logger

	// Workspace is the directory tree the workspace tools (read_file,
	// write_file, edit_file, list_dir, search, run_command; see
	// ToolHandler) work in, confined to it through os.Root. New makes it
	// absolute and checks that it opens. Default: none, and every
	// workspace tool answers "no workspace configured".
	Workspace string

	// AllowCommands lists what run_command may run: argv[0] must equal one
	// entry (a name looked up in the daemon's PATH, or a path). Default:
	// none, so run_command refuses everything.
	AllowCommands []string

	// MaxFileSize is the largest file, in bytes, read_file and edit_file
	// read. Default: DefaultMaxFileSize (1 MiB).
	MaxFileSize int64

	// ToolTimeout bounds a tool call whose ToolCall.TimeoutMS is 0.
	// Default: DefaultToolTimeout.
	ToolTimeout time.Duration

	// DebugTools adds the test tools "echo" (returns its arguments) and
	// "sleep" (waits its arguments, in milliseconds) to the tool set.
	// Default: off.
	DebugTools bool

	// MetricsAddr is the TCP address ("127.0.0.1:9464"; port 0 picks
	// one, see Server.MetricsAddr) on which the server serves its
	// Prometheus metrics at MetricsPath (/metrics), from Listen until
	// Shutdown. Anyone who can reach it can read them: keep it on
	// loopback. Default: "", no endpoint.
	MetricsAddr string

	// MetricsRegistry, when set, receives the server's metrics (with the
	// Go and process collectors, unless it holds them already) instead of
	// a registry of the server's own; with MetricsAddr empty the
	// application serves it (Server.MetricsHandler). Metrics are on when
	// either field is set; off, they cost a nil check per event. The
	// global prometheus.DefaultRegisterer is never used by itself.
	// Default: nil.
	MetricsRegistry *prometheus.Registry

	// Mux routes requests to handlers. Default: NewMux() with the
	// completion and tool handlers registered; the stats handler is added
	// to any Mux that has none (see New).
	Mux *Mux
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.ShmListener != nil:
		c.SocketPath = c.ShmListener.Addr().String()
	case c.StreamListener != nil:
		c.SocketPath = strings.TrimSuffix(c.StreamListener.Addr().String(), protocol.StreamSuffix)
	}
	if len(c.Transports) == 0 {
		c.Transports = []protocol.Transport{protocol.TransportShm, protocol.TransportSocket}
	}
	for _, t := range c.Transports {
		if t != protocol.TransportShm && t != protocol.TransportSocket {
			return c, fmt.Errorf("%w: transport %v (want shm or socket)", ErrConfig, t)
		}
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxRingSize == 0 {
		c.MaxRingSize = DefaultMaxRingSize
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = protocol.DefaultMaxPayload
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.CompressShm == 0 {
		c.CompressShm = DefaultCompressShm
	}
	if c.CompressSocket == 0 {
		c.CompressSocket = DefaultCompressSocket
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = DefaultMaxFileSize
	}
	if c.ToolTimeout == 0 {
		c.ToolTimeout = DefaultToolTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 5 * time.Second
	}
	switch {
	case c.MaxConns < 0:
		return c, fmt.Errorf("%w: MaxConns %d is negative", ErrConfig, c.MaxConns)
	case c.MaxRingSize < 0:
		return c, fmt.Errorf("%w: MaxRingSize %d is negative", ErrConfig, c.MaxRingSize)
	case c.MaxPayload < 0 || c.MaxPayload > protocol.DefaultMaxPayload:
		return c, fmt.Errorf("%w: MaxPayload %d outside [1, %d]", ErrConfig, c.MaxPayload, protocol.DefaultMaxPayload)
	case c.MaxInflight < 0:
		return c, fmt.Errorf("%w: MaxInflight %d is negative", ErrConfig, c.MaxInflight)
	case c.DrainTimeout < 0:
		return c, fmt.Errorf("%w: DrainTimeout %v is negative", ErrConfig, c.DrainTimeout)
	case c.MaxFileSize < 0:
		return c, fmt.Errorf("%w: MaxFileSize %d is negative", ErrConfig, c.MaxFileSize)
	case c.ToolTimeout < 0:
		return c, fmt.Errorf("%w: ToolTimeout %v is negative", ErrConfig, c.ToolTimeout)
	}
	if c.Workspace != "" {
		abs, err := filepath.Abs(c.Workspace)
		if err != nil {
			return c, fmt.Errorf("%w: workspace: %v", ErrConfig, err)
		}
		if err := checkWorkspace(abs); err != nil {
			return c, err
		}
		c.Workspace = abs
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Provider == nil {
		c.Provider = &MockProvider{}
	}
	return c, nil
}

// maxMessage is the largest shared-memory ring message the daemon accepts
// (shmring.WithMaxMessage): one message is one whole frame, so the header
// plus MaxPayload.
func (c *Config) maxMessage() int { return protocol.HeaderSize + c.MaxPayload }

// serves reports whether the configuration serves transport t: one of
// Transports, or one whose listener is given (ShmListener,
// StreamListener).
func (c *Config) serves(t protocol.Transport) bool {
	if c.adopts() {
		return (t == protocol.TransportShm && c.ShmListener != nil) || (t == protocol.TransportSocket && c.StreamListener != nil)
	}
	return slices.Contains(c.Transports, t)
}

// adopts reports whether Listen adopts given listeners.
func (c *Config) adopts() bool { return c.ShmListener != nil || c.StreamListener != nil }

// transportsName names what a server serves as its -transport flag does:
// "shm", "socket" or "both".
func transportsName(shm, sock bool) string {
	switch {
	case shm && sock:
		return "both"
	case shm:
		return "shm"
	}
	return "socket"
}
