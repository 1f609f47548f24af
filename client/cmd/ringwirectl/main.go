// Command ringwirectl talks to a live ringwired, for debugging:
//
//	ringwirectl ping                 round-trip a Heartbeat
//	ringwirectl stats                sessions, in-flight requests, rings, uptime
//	ringwirectl complete "text"      stream a completion of text
//	ringwirectl tool NAME ARGS-JSON  call a tool, e.g. tool read_file '{"path":"go.mod"}'
//
// Flags may come before or after the command: `ringwirectl ping -count 3`
// and `ringwirectl -count 3 ping` are the same.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: ringwirectl command [flags] [arguments]

Commands:
  ping              send a Heartbeat and print the round-trip time
  stats             print the daemon's sessions, in-flight requests, ring occupancy and uptime
  complete "text"   stream the daemon's completion of text
  tool NAME [ARGS]  call the tool NAME with ARGS, a JSON object (default {}), and print its result

Flags (before or after the command):
`

// command is a parsed command line.
type command struct {
	name      string
	args      []string
	socket    string
	transport protocol.Transport
	timeout   time.Duration
	count     int
	maxTokens uint
}

// parse reads the command line. Flags may stand anywhere before a "--";
// everything else, in order, is the command and its arguments.
func parse(args []string, stderr io.Writer) (command, int, bool) {
	var c command
	fs := flag.NewFlagSet("ringwirectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.socket, "socket", shmring.DefaultSocketPath(), "the daemon's Unix socket `path` (the socket transport dials path"+protocol.StreamSuffix+")")
	fs.TextVar(&c.transport, "transport", protocol.TransportShm, "transport: shm or socket")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after this long")
	fs.IntVar(&c.count, "count", 1, "ping: how many pings")
	fs.UintVar(&c.maxTokens, "max-tokens", 0, "complete: max_tokens (0 = the provider's default)")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return c, 0, false
			}
			return c, 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse stops at the first non-flag argument, or after "--":
		// in that case every remaining argument is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return c, 2, false
	}
	c.name, c.args = pos[0], pos[1:]
	switch c.name {
	case "ping", "stats":
		if len(c.args) != 0 {
			fmt.Fprintf(stderr, "ringwirectl: %s takes no arguments\n", c.name)
			return c, 2, false
		}
	case "complete":
		if len(c.args) == 0 {
			fmt.Fprintf(stderr, "ringwirectl: complete needs the text to complete\n")
			return c, 2, false
		}
	case "tool":
		if len(c.args) < 1 || len(c.args) > 2 {
			fmt.Fprintf(stderr, "ringwirectl: tool needs a tool name and, optionally, its arguments as a JSON object\n")
			return c, 2, false
		}
	default:
		fmt.Fprintf(stderr, "ringwirectl: unknown command %q (want ping, stats, complete or tool)\n", c.name)
		return c, 2, false
	}
	if c.count < 1 {
		fmt.Fprintf(stderr, "ringwirectl: -count must be at least 1, got %d\n", c.count)
		return c, 2, false
	}
	return c, 0, true
}

// dialled returns the path a client on transport really connects to.
func (c command) dialled() string {
	if c.transport == protocol.TransportSocket {
		return protocol.StreamPath(c.socket)
	}
	return c.socket
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, code, ok := parse(args, stderr)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl, err := client.Dial(ctx, c.socket, client.WithTransport(c.transport),
		client.WithClientName("ringwirectl"), client.WithHeartbeat(0, 0))
	if err != nil {
		fmt.Fprintf(stderr, "ringwirectl: %s: %v\n", c.dialled(), err)
		return 1
	}
	defer cl.Close()
	switch c.name {
	case "ping":
		for range c.count {
			rtt, err := cl.Ping(ctx)
			if err != nil {
				fmt.Fprintf(stderr, "ringwirectl: ping: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "pong from %s (%s): time=%v\n", c.dialled(), c.transport, rtt)
		}
	case "stats":
		b, err := cl.Stats(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "ringwirectl: stats: %v\n", err)
			return 1
		}
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			fmt.Fprintf(stderr, "ringwirectl: stats: bad JSON from the daemon: %v\n", err)
			return 1
		}
		out.WriteByte('\n')
		_, _ = out.WriteTo(stdout)
	case "complete":
		req := &protocol.CompletionRequest{
			Messages:  []protocol.ChatMessage{{Role: protocol.RoleUser, Content: strings.Join(c.args, " ")}},
			MaxTokens: uint32(c.maxTokens),
		}
		for chunk, err := range cl.CompleteStream(ctx, req) {
			if err != nil {
				fmt.Fprintf(stderr, "\nringwirectl: complete: %v\n", err)
				return 1
			}
			fmt.Fprint(stdout, chunk.Delta)
			if chunk.Final {
				fmt.Fprintf(stdout, "\n[finish=%v prompt_tokens=%d completion_tokens=%d]\n",
					chunk.FinishReason, chunk.Usage.PromptTokens, chunk.Usage.CompletionTokens)
			}
		}
	case "tool":
		args := "{}"
		if len(c.args) == 2 {
			args = c.args[1]
		}
		res, err := cl.CallTool(ctx, &protocol.ToolCall{ID: "ringwirectl", Name: c.args[0], Arguments: args})
		if err != nil {
			fmt.Fprintf(stderr, "ringwirectl: tool %s: %v\n", c.args[0], err)
			return 1
		}
		if res.IsError {
			fmt.Fprintf(stderr, "ringwirectl: tool %s: %s\n", c.args[0], strings.TrimSuffix(res.Content, "\n"))
			return 1
		}
		fmt.Fprint(stdout, res.Content)
		if !strings.HasSuffix(res.Content, "\n") && res.Content != "" {
			fmt.Fprintln(stdout)
		}
	}
	return 0
}
