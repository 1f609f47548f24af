//go:build mage

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Soak measures ringwired's memory idle, with 100 and 1000 sessions, across cycles of 1000 connecting and leaving and a sustained mixed load, and gives a leak verdict.
func Soak() error {
	// Mage targets take no flags: RINGWIRE_SOAK_DURATION is the sustained
	// run (default 60s; the default soak takes about 2 minutes here),
	// RINGWIRE_SOAK_OUT a file for the report (for a 1-hour soak run in
	// the background, see integration/README.md, "Soak"),
	// RINGWIRE_SOAK_BENCHFMT a file for its benchfmt lines.
	d, err := time.ParseDuration(env("RINGWIRE_SOAK_DURATION", "60s"))
	if err != nil || d < 0 {
		return fmt.Errorf("RINGWIRE_SOAK_DURATION=%q: want a duration such as 60s or 1h", os.Getenv("RINGWIRE_SOAK_DURATION"))
	}
	dir, err := os.MkdirTemp("", "rwsoak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	daemon, soak := filepath.Join(dir, "ringwired"), filepath.Join(dir, "ringwire-soak")
	for _, b := range [][2]string{{daemon, "./daemon/cmd/ringwired"}, {soak, "./integration/cmd/ringwire-soak"}} {
		if err := runIn(".", nil, "go", "build", "-o", b[0], b[1]); err != nil {
			return err
		}
	}
	args := []string{"-daemon", daemon, "-duration", d.String()}
	if out := os.Getenv("RINGWIRE_SOAK_OUT"); out != "" {
		args = append(args, "-out", out)
	}
	if out := os.Getenv("RINGWIRE_SOAK_BENCHFMT"); out != "" {
		args = append(args, "-benchfmt", out)
	}
	return runIn(".", nil, soak, args...)
}
