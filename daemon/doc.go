// Package daemon is ringwired, the ringwire daemon, as a library: a Server
// that accepts sessions over shared-memory rings (shmring) and/or plain
// Unix sockets, performs the protocol handshake, and routes each request
// frame by message type to a Handler registered on a Mux, the way
// net/http routes paths. Completions (a Provider; MockProvider needs no
// network) and tool calls are ordinary handlers; applications register
// their own types from 0x8000. The tool handler (ToolHandler) serves
// workspace tools (read_file, write_file, edit_file, list_dir, search,
// run_command) confined to Config.Workspace through os.Root, with commands
// limited to Config.AllowCommands; README.md lists their arguments and
// limits. Both transports listen through shmring's
// secured Unix-socket layer (socket-directory rule, lock, 0600 sockets,
// peers of our uid only; see Server.Listen).
//
// Each session serves its requests concurrently (up to Config.MaxInflight),
// multiplexes responses and stream frames by request id, and applies
// per-stream flow control: a handler's ResponseWriter.Send blocks once the
// client holds protocol.StreamWindow unacknowledged frames of that stream,
// until the client grants credit with protocol.MsgCredit. A Cancel from the client cancels the
// handler's context. Bad input (garbage, a bad CRC, an oversized length, an
// unknown type, frames before the handshake, a reused id) gets an Error
// frame and closes that session only.
//
// For ringwired's operation: LoadConfigFile reads its TOML configuration
// file (ConfigFile.ApplyFlags lets command-line flags win), and
// InheritedListeners takes the sockets systemd passes a socket-activated
// ringwired, which Config.ShmListener and Config.StreamListener hand to
// Listen; README.md ("Configuration file", "Socket activation") and the
// unit files in systemd/ show both.
//
// With Config.MetricsAddr (ringwired -metrics 127.0.0.1:9464) the server
// serves Prometheus metrics at MetricsPath (/metrics) from a registry of
// its own, or puts them in Config.MetricsRegistry: sessions, frames and
// bytes, request durations, errors by code, ring occupancy, provider
// latency and tokens, tool calls, and the Go and process collectors;
// README.md ("Metrics") lists them. What the hot path touches is resolved
// at New into arrays of atomic counters, so metrics allocate nothing per
// request; off, each hook is a nil check.
//
// Usage:
//
//	srv, err := daemon.New(daemon.Config{SocketPath: "/run/user/1000/ringwire/ringwired.sock"})
//	if err != nil {
//		return err
//	}
//	srv.Mux().HandleFunc(0x8001, func(ctx context.Context, w daemon.ResponseWriter, r *daemon.Request) {
//		w.Respond(0x8001, r.Payload) // echo
//	})
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//	defer stop()
//	return srv.Serve(ctx) // drains on ctx's end, then sends Disconnect
package daemon
