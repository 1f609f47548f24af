// Command ringwirectl talks to a live ringwired, for debugging:
//
//	ringwirectl ping                 round-trip a Heartbeat
//	ringwirectl stats                sessions, in-flight requests, rings, uptime
//	ringwirectl complete "text"      stream a completion of text
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringwirectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: ringwirectl [flags] command

Commands:
  ping              send a Heartbeat and print the round-trip time
  stats             print the daemon's sessions, in-flight requests, ring occupancy and uptime
  complete "text"   stream the daemon's completion of text

Flags:
`)
		fs.PrintDefaults()
	}
	socket := fs.String("socket", shmring.DefaultSocketPath(), "the daemon's Unix socket `path`")
	transport := fs.String("transport", "shm", "transport: shm or socket")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	count := fs.Int("count", 1, "ping: how many pings")
	maxTokens := fs.Uint("max-tokens", 0, "complete: max_tokens (0 = the provider's default)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cmd := fs.Arg(0)
	switch cmd {
	case "ping", "stats":
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "ringwirectl: %s takes no arguments\n", cmd)
			return 2
		}
	case "complete":
		if fs.NArg() < 2 {
			fmt.Fprintf(stderr, "ringwirectl: complete needs the text to complete\n")
			return 2
		}
	default:
		fmt.Fprintf(stderr, "ringwirectl: unknown command %q (want ping, stats or complete)\n", cmd)
		return 2
	}
	cl, err := client.Dial(ctx, *socket, client.WithTransport(client.Transport(*transport)),
		client.WithClientName("ringwirectl"), client.WithHeartbeat(0, 0))
	if err != nil {
		fmt.Fprintf(stderr, "ringwirectl: %v\n", err)
		return 1
	}
	defer cl.Close()
	switch cmd {
	case "ping":
		for i := 0; i < *count; i++ {
			rtt, err := cl.Ping(ctx)
			if err != nil {
				fmt.Fprintf(stderr, "ringwirectl: ping: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "pong from %s: time=%v\n", *socket, rtt)
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
			Messages:  []protocol.ChatMessage{{Role: protocol.RoleUser, Content: strings.Join(fs.Args()[1:], " ")}},
			MaxTokens: uint32(*maxTokens),
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
	}
	return 0
}
