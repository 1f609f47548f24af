package shmring

import (
	"os"
	"path/filepath"
	"strconv"
)

// DefaultSocketPath returns where ringwired listens by default:
// $XDG_RUNTIME_DIR/ringwire/ringwired.sock, or
// /tmp/ringwire-$UID/ringwired.sock when XDG_RUNTIME_DIR is unset.
func DefaultSocketPath() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "ringwire", "ringwired.sock")
	}
	return filepath.Join("/tmp", "ringwire-"+strconv.Itoa(os.Getuid()), "ringwired.sock")
}
