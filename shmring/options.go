package shmring

import (
	"math/bits"
	"time"
)

// Ring size limits. Ring capacities are powers of two in
// [MinRingSize, MaxRingSize].
const (
	MinRingSize = 4 << 10
	MaxRingSize = 1 << 30

	// DefaultRingSize is the capacity Dial requests for each direction
	// unless WithRingSize says otherwise.
	DefaultRingSize = 1 << 20
	// DefaultMaxRingSize is the largest capacity a Listener grants unless
	// WithMaxRingSize says otherwise.
	DefaultMaxRingSize = 16 << 20
	// DefaultMaxMessage is the largest message ReadMsg accepts unless
	// WithMaxMessage says otherwise.
	DefaultMaxMessage = 16 << 20
	// DefaultHandshakeTimeout bounds the setup exchange on the Unix socket.
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultSpin is how long a waiting call spins before it parks, at most.
	DefaultSpin = 200 * time.Microsecond
)

// defaultCPUHints is whether connections publish CPU hints and move a woken
// thread off its waker's CPU unless an option says otherwise.
var defaultCPUHints = true

// Option configures Listen or Dial. Options that concern only one side are
// ignored by the other, as documented on each.
type Option func(*config)

type config struct {
	ringSize         int
	maxRingSize      int
	maxMessage       int
	handshakeTimeout time.Duration
	spin             time.Duration
	cpuHints         bool
	waitPolicy       WaitPolicy
	admit            func(PeerInfo) ([]byte, bool)
	allowUIDs        []uint32
}

func defaultConfig() config {
	return config{
		ringSize:         DefaultRingSize,
		maxRingSize:      DefaultMaxRingSize,
		maxMessage:       DefaultMaxMessage,
		handshakeTimeout: DefaultHandshakeTimeout,
		spin:             DefaultSpin,
		cpuHints:         defaultCPUHints,
		waitPolicy:       defaultWaitPolicy,
	}
}

func buildConfig(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithRingSize sets the capacity Dial requests for each direction, rounded up
// to a power of two within [MinRingSize, MaxRingSize]. The listener may grant
// less (WithMaxRingSize); Conn.RingSizes reports what was granted. Default
// DefaultRingSize (1 MiB). Used by Dial.
func WithRingSize(n int) Option { return func(c *config) { c.ringSize = n } }

// WithMaxRingSize caps the capacity a Listener grants per direction, rounded
// down to a power of two within [MinRingSize, MaxRingSize]. Default
// DefaultMaxRingSize (16 MiB). Used by Listen.
func WithMaxRingSize(n int) Option { return func(c *config) { c.maxRingSize = n } }

// WithMaxMessage bounds the size of one message ReadMsg reassembles; a peer
// announcing a larger one gets ErrTooLarge and the connection is closed.
// WriteMsg refuses larger messages too. Default DefaultMaxMessage (16 MiB).
func WithMaxMessage(n int) Option { return func(c *config) { c.maxMessage = n } }

// WithHandshakeTimeout bounds the setup exchange on the Unix socket (Dial
// also honours its context). Default DefaultHandshakeTimeout (5 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// WithSpin sets how long, at most, a call waiting for data or space spins
// before it parks on its eventfd. The wait policy decides how much of it a
// wait uses (WithWaitPolicy): WaitPredict spins the bound or not at all,
// WaitSpin shrinks it after long waits. Zero parks at once. Default
// DefaultSpin (200 µs: long enough for a net/http or gRPC peer's answer in
// a closed loop, SPEC §3.1; WaitPredict stops spinning where it does not
// pay).
func WithSpin(d time.Duration) Option { return func(c *config) { c.spin = d } }

// WaitPolicy is how a call that has to wait for its peer (for data, or for
// space in a full ring) spends the wait before it parks on its eventfd.
type WaitPolicy uint8

const (
	// WaitSpin (latency first) spins up to the WithSpin bound before every
	// park; the bound shrinks only after waits far longer than it. When
	// the peer answers within the bound (a closed request/response loop,
	// a busy stream) no system call is made and a round trip costs well
	// under a microsecond; when it does not (a real stack's reply after
	// several goroutine hand-offs, a paced or idle peer, a loaded
	// machine), every wait pays the whole spin and then the wake-up.
	WaitSpin WaitPolicy = iota
	// WaitPredict (CPU first) spins only while spinning has been paying:
	// a wait's spin that ends with the answer scores one, a spin that
	// runs out loses four, and below a floor (two misses in a row from a
	// fresh start; fewer than four in five spins paying) the side parks
	// at once, trying a full spin again on a probe every 16th wait, then
	// every 32nd, ... up to every 256th while the probes run out. Waits
	// for an answer after a write that had to ring a parked peer are
	// judged apart from the others: such an answer comes after the
	// peer's wake-up, and spinning for it holds the CPU the woken peer
	// would run on (on a 2-vCPU guest, parking there made a paced round
	// trip's p99 3-6× shorter; SPEC §3.1). A side that parks at once does
	// not move its thread off its waker's CPU (SPEC §3): that move exists
	// for two spinning peers. It saves the spin's CPU on waits that would
	// have parked anyway, at the price of wake-ups until a probe finds
	// traffic fast again.
	WaitPredict
)

// defaultWaitPolicy is the policy unless WithWaitPolicy says otherwise.
var defaultWaitPolicy = WaitPredict

// WithWaitPolicy sets how waits spend their time before parking (see
// WaitPolicy); each side chooses its own. Default WaitPredict: on a
// machine doing other work (an editor's laptop) most waits of a real stack
// outlast any useful spin, and spinning through them doubled its CPU per
// request in the measurements of SPEC §3.1.
func WithWaitPolicy(p WaitPolicy) Option { return func(c *config) { c.waitPolicy = p } }

// WithAdmit installs the listener's admission hook. It runs for every
// dialer after the uid check, before any memory is allocated; returning
// ok=false refuses the connection and sends reason (at most 64 KiB) to the
// dialer, whose Dial returns a *RefusedError carrying it. Default: admit all.
// Used by Listen.
func WithAdmit(fn func(peer PeerInfo) (reason []byte, ok bool)) Option {
	return func(c *config) { c.admit = fn }
}

// WithAllowUIDs lets peers running as the given uids connect, in addition to
// the current effective uid (always allowed). Listen, ListenUnix, Dial and
// DialUnix all check the other side's uid; root is not allowed unless listed.
// Default: only the current uid.
func WithAllowUIDs(uids ...uint32) Option {
	return func(c *config) { c.allowUIDs = append(c.allowUIDs[:len(c.allowUIDs):len(c.allowUIDs)], uids...) }
}

// roundRingSize rounds n up to a power of two within the ring limits.
func roundRingSize(n int) uint64 {
	if n <= MinRingSize {
		return MinRingSize
	}
	if n >= MaxRingSize {
		return MaxRingSize
	}
	return 1 << bits.Len64(uint64(n)-1)
}

// floorRingSize rounds n down to a power of two within the ring limits.
func floorRingSize(n int) uint64 {
	if n <= MinRingSize {
		return MinRingSize
	}
	if n >= MaxRingSize {
		return MaxRingSize
	}
	return 1 << (bits.Len64(uint64(n)) - 1)
}
