// Command benchdash records Go benchmark runs in an embedded SQLite
// database, compares them with real statistics and serves a dashboard.
// See the package github.com/ringwire/ringwire/benchdash for an overview and
// "benchdash help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ringwire/ringwire/benchdash/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
