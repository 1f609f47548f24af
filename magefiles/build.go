//go:build mage

// The ringwire build: run every target as `go tool mage <target>`; `go tool mage -l` lists them.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// modulePrefix is the import path prefix shared by every ringwire module.
const modulePrefix = "github.com/ringwire/ringwire/"

// modules is the one list of module directories that drives test, lint,
// generate, fuzz, bench and release loops. It is in dependency order: a module
// comes after every sibling it requires (release:check verifies this).
var modules = []string{"protocol", "shmring", "pool", "benchdash", "client", "daemon", "integration"}

// magefilesDir is the directory of this build, relative to the repository root
// where mage runs the targets. Mage compiles every Go file of a magefiles
// directory, tagged or not; each file here still carries the mage build tag so
// that `go build ./...` at the root leaves this main package (which has no func
// main until mage writes one) alone. So its tests run as
// `go test -tags mage ./magefiles`, as Test does, and Lint vets it with the tag.
const magefilesDir = "./magefiles"

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// runIn runs a visible command inside dir.
func runIn(dir string, envs map[string]string, cmd string, args ...string) error {
	fmt.Printf("[%s] %s %s\n", dir, cmd, strings.Join(args, " "))
	c := exec.Command(cmd, args...)
	c.Dir = dir
	c.Stdout = os.Stdout
	c.Stderr = os.Stderr
	c.Env = os.Environ()
	for k, v := range envs {
		c.Env = append(c.Env, k+"="+v)
	}
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %s %s: %w", dir, cmd, strings.Join(args, " "), err)
	}
	return nil
}

// outputIn runs a command inside dir and returns its standard output.
func outputIn(dir string, cmd string, args ...string) (string, error) {
	c := exec.Command(cmd, args...)
	c.Dir = dir
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s %s: %w\n%s", dir, cmd, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// hasGoFiles reports whether a module directory holds any Go package with tests or code.
func hasGoFiles(dir string) bool {
	found := false
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
