//go:build linux || darwin || freebsd

package shmring

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// prepareDir creates the socket's directory with mode 0700 if it is missing
// and checks, with lstat, that it is safe to listen in (checkDir): another
// user may have created it first, or may be able to replace the socket.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("shmring: create socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("shmring: lstat socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("shmring: lstat socket directory %s: no owner reported", dir)
	}
	return checkDir(dir, fi.Mode(), st.Uid, os.Geteuid())
}

// checkDir applies the socket-directory rule to what lstat reported for dir
// (its mode and owner) for a process of effective uid self. The directory
// must be a real directory (not a symbolic link), owned by self or by root,
// that neither group nor others can write, sticky or not: whoever can write
// it can replace the socket with their own. Read and search permission for
// others are harmless, since the socket is 0600 and both sides check the
// peer's uid, so 0700 and 0755 both pass. The error wraps ErrInsecureDir and
// says what to change.
func checkDir(dir string, mode fs.FileMode, owner uint32, self int) error {
	perm := uint32(mode.Perm())
	if mode&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInsecureDir, dir, fmt.Sprintf(format, args...))
	}
	switch {
	case mode&fs.ModeSymlink != 0:
		return bad("a symbolic link; give the real directory's path")
	case !mode.IsDir():
		return bad("not a directory (%v); choose a directory", mode.Type())
	case int64(owner) != int64(self) && owner != 0:
		return bad("owned by uid %d, neither uid %d nor root; choose a directory of your own", owner, self)
	}
	var who []string
	var chmod string
	if perm&0o020 != 0 {
		who, chmod = append(who, "group"), "g"
	}
	if perm&0o002 != 0 {
		who, chmod = append(who, "others"), chmod+"o"
	}
	if len(who) == 0 {
		return nil
	}
	if perm&0o1002 == 0o1002 {
		return bad("writable by %s (mode %04o), sticky like /tmp; create a private directory in it (mkdir -m 0700) or choose another directory",
			strings.Join(who, " and "), perm)
	}
	return bad("writable by %s (mode %04o); run chmod %s-w %s or choose another directory",
		strings.Join(who, " and "), perm, chmod, dir)
}
