// Command ringwired is the ringwire daemon: it serves AI completions and
// tools to local clients over shared-memory rings or a Unix socket.
//
// Run it with no flags to serve the mock provider on the default socket;
// `ringwired -h` documents every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is ringwired's main, testable: it parses args, serves until ctx is
// done (SIGTERM/SIGINT), drains and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringwired", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var (
		socket = fs.String("socket", shmring.DefaultSocketPath(), "Unix socket `path` of the shared-memory transport; the socket transport listens on path"+protocol.StreamSuffix+
			".\nIts directory must be owned by you or root and writable by neither group nor others (see above)")
		provider     = fs.String("provider", "mock", "completion provider: mock (deterministic, no network) or openai (an OpenAI-compatible server, see -openai-*)")
		tokenDelay   = fs.Duration("mock-token-delay", 0, "pause between tokens of the mock provider's streamed replies")
		maxConns     = fs.Int("max-conns", daemon.DefaultMaxConns, "most sessions served at once; more are refused at setup")
		maxRingSize  = fs.Int("max-ring-size", daemon.DefaultMaxRingSize, "largest shared-memory ring granted per direction, in `bytes`; a client asking for more gets this")
		maxPayload   = fs.Int("max-payload", protocol.DefaultMaxPayload, "largest frame payload accepted from a client, in `bytes` (at most the default)")
		maxInflight  = fs.Int("max-inflight", daemon.DefaultMaxInflight, "most requests in flight per session")
		drainTimeout = fs.Duration("drain-timeout", daemon.DefaultDrainTimeout, "how long SIGTERM/SIGINT lets in-flight requests finish")
		logLevel     = fs.String("log-level", "info", "log level: debug, info, warn or error")
		transport    = fs.String("transport", "both", "transports to serve: shm, socket or both")
		compressShm  = fs.Int("compress-shm", daemon.DefaultCompressShm, "on shared memory, grant zstd compression to clients that offer it and compress payloads from this many `bytes` (-1: off)")
		compressSock = fs.Int("compress-socket", daemon.DefaultCompressSocket, "on the socket transport, grant zstd compression to clients that offer it and compress payloads from this many `bytes` (-1: off)")
		version      = fs.Bool("version", false, "print the version and exit")
		cpuProfile   = fs.String("cpuprofile", "", "write a CPU profile to `file` until the daemon stops (debugging)")
		workspace    = fs.String("workspace", "", "serve the workspace tools (read_file, write_file, edit_file, list_dir, search, run_command) on this `directory` tree")
		debugTools   = fs.Bool("debug-tools", false, "also serve the test tools echo and sleep")
		metricsAddr  = fs.String("metrics", "", "serve Prometheus metrics at http://`addr`"+daemon.MetricsPath+" (e.g. 127.0.0.1:9464; port 0 picks one, logged as \"metrics listening\"); off by default")
		allowCmds    []string
	)
	fs.Func("allow-command", "let run_command run `name` (argv[0] exactly; repeat the flag or separate names with commas)", func(v string) error {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				allowCmds = append(allowCmds, c)
			}
		}
		return nil
	})
	// The old names of -max-ring-size and -max-payload still work.
	fs.IntVar(maxRingSize, "ring-size", daemon.DefaultMaxRingSize, "deprecated: the old name of -max-ring-size")
	fs.IntVar(maxPayload, "max-frame", protocol.DefaultMaxPayload, "deprecated: the old name of -max-payload")
	var (
		openaiBaseURL = fs.String("openai-base-url", "http://127.0.0.1:8080/v1", "-provider openai: the server's API root `URL`, before /chat/completions")
		openaiModel   = fs.String("openai-model", "", "-provider openai: the model asked for when a request names none")
		openaiKeyEnv  = fs.String("openai-api-key-env", "", "-provider openai: the environment `variable` holding the API key (default: RINGWIRE_OPENAI_API_KEY, else OPENAI_API_KEY; none: no key)")
		openaiIdle    = fs.Duration("openai-idle-timeout", daemon.DefaultOpenAIIdleTimeout, "-provider openai: give up on an answer after this long without a byte from the server")
	)
	configFile := fs.String("config", daemon.DefaultConfigFilePath(), "read defaults for these flags from the TOML `file` (a missing default file is fine; -config '' reads none); flags given here override it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ringwired: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *version {
		fmt.Fprintf(stdout, "ringwired %s\n", daemon.Version)
		return 0
	}
	if err := applyConfigFile(fs, *configFile); err != nil {
		fmt.Fprintf(stderr, "ringwired: %v\n", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "ringwired: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var prov daemon.Provider
	switch strings.ToLower(*provider) {
	case "mock":
		prov = &daemon.MockProvider{TokenDelay: *tokenDelay}
	case "openai":
		p, err := daemon.NewOpenAIProvider(daemon.OpenAIConfig{BaseURL: *openaiBaseURL, Model: *openaiModel,
			APIKey: openAIKey(*openaiKeyEnv), IdleTimeout: *openaiIdle})
		if err != nil {
			fmt.Fprintf(stderr, "ringwired: -provider openai: %v\n", err)
			return 2
		}
		prov = p
	default:
		fmt.Fprintf(stderr, "ringwired: -provider %q: unknown provider (available: mock, openai)\n", *provider)
		return 2
	}
	tr, err := daemon.ParseTransports(*transport)
	if err != nil {
		fmt.Fprintf(stderr, "ringwired: -transport: %v\n", err)
		return 2
	}
	for name, v := range map[string]int{"-max-conns": *maxConns, "-max-ring-size": *maxRingSize, "-max-payload": *maxPayload, "-max-inflight": *maxInflight} {
		if v <= 0 {
			fmt.Fprintf(stderr, "ringwired: %s must be positive, got %d\n", name, v)
			return 2
		}
	}
	if *drainTimeout < 0 {
		fmt.Fprintf(stderr, "ringwired: -drain-timeout must not be negative\n")
		return 2
	}
	raiseNoFile(log)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ringwired: -cpuprofile: %v\n", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	// Socket activation: the sockets systemd made for us, if any (see
	// README.md, "Socket activation").
	shmLn, streamLn, err := daemon.InheritedListeners(*socket)
	if err != nil {
		fmt.Fprintf(stderr, "ringwired: %v\n", err)
		return 1
	}
	srv, err := daemon.New(daemon.Config{
		ShmListener:    shmLn,
		StreamListener: streamLn,
		SocketPath:     *socket,
		Transports:     tr,
		Provider:       prov,
		MaxConns:       *maxConns,
		MaxRingSize:    *maxRingSize,
		MaxPayload:     *maxPayload,
		MaxInflight:    *maxInflight,
		DrainTimeout:   *drainTimeout,
		Workspace:      *workspace,
		AllowCommands:  allowCmds,
		DebugTools:     *debugTools,
		MetricsAddr:    *metricsAddr,
		Logger:         log,
		// 0 would mean the default: -compress-x 0 is "compress all".
		CompressShm:    compressFlag(*compressShm),
		CompressSocket: compressFlag(*compressSock),
	})
	if err != nil {
		for _, ln := range []*net.UnixListener{shmLn, streamLn} {
			if ln != nil {
				ln.Close()
			}
		}
		fmt.Fprintf(stderr, "ringwired: %v\n", err)
		return 2
	}
	if err := srv.Listen(); err != nil {
		fmt.Fprintf(stderr, "ringwired: %v\n", err)
		return 1
	}
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintf(stderr, "ringwired: %v\n", err)
		return 1
	}
	return 0
}

// usage heads `ringwired -h`, before the flags.
const usage = `Usage: ringwired [flags]

ringwired serves AI completions and tools to local clients over shared memory
(on -socket) and over the Unix socket itself (on -socket path` + protocol.StreamSuffix + `), as
-transport says.

Socket directory: a missing one is created with mode 0700. An existing one must
be a real directory (not a symbolic link), owned by you or root, that neither
group nor others can write: 0700 and 0755 are fine; 0775, 0757, 0777, a sticky
1777 such as /tmp itself, another user's directory and a symlink are refused,
with a message saying what to change (chmod g-w DIR, ...). The sockets are 0600
and only processes of your uid are served.

Configuration file: -config (default $XDG_CONFIG_HOME/ringwire/ringwired.toml,
else ~/.config/ringwire/ringwired.toml) gives defaults for the flags; a flag on
the command line wins. Socket activation: started by systemd with LISTEN_FDS,
ringwired serves the sockets it is given (named shm and stream) instead of
creating its own. daemon/README.md documents both.

Flags:
`

// applyConfigFile applies the configuration file at path to the flags
// not given on the command line. A missing file is an error only when
// -config named it; -config "" reads none.
func applyConfigFile(fs *flag.FlagSet, path string) error {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	if path == "" {
		return nil
	}
	cf, err := daemon.LoadConfigFile(path)
	if errors.Is(err, iofs.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return err
	}
	return cf.ApplyFlags(fs)
}

// openAIKey is the API key of the openai provider, from the environment
// (never a flag, which ps would show): the variable name names, else
// RINGWIRE_OPENAI_API_KEY, else OPENAI_API_KEY.
func openAIKey(name string) string {
	if name != "" {
		return os.Getenv(name)
	}
	if k := os.Getenv("RINGWIRE_OPENAI_API_KEY"); k != "" {
		return k
	}
	return os.Getenv("OPENAI_API_KEY")
}

// compressFlag maps a -compress-* flag onto a Config field, where 0
// means the default: the flag's 0 (compress every payload) becomes 1.
func compressFlag(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// raiseNoFile lifts the soft open-file limit to the hard limit: every
// shared-memory session holds a few fds.
func raiseNoFile(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur >= lim.Max {
		return
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Debug("cannot raise RLIMIT_NOFILE", "err", err)
	}
}
