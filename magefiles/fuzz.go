//go:build mage

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

var fuzzLine = regexp.MustCompile(`^Fuzz\w*$`)

// Fuzz runs each fuzz target of every module for RINGWIRE_FUZZTIME (default 10s).
func Fuzz() error {
	fuzztime := env("RINGWIRE_FUZZTIME", "10s")
	type target struct{ dir, name string }
	var targets []target
	for _, m := range modules {
		if !hasGoFiles(m) {
			continue
		}
		pkgsOut, err := outputIn(m, "go", "list", "-f", "{{.Dir}}", "./...")
		if err != nil {
			return err
		}
		for _, dir := range strings.Fields(pkgsOut) {
			out, err := outputIn(dir, "go", "test", "-list", "^Fuzz", ".")
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); fuzzLine.MatchString(l) {
					targets = append(targets, target{dir: dir, name: l})
				}
			}
		}
	}
	if len(targets) == 0 {
		return errors.New("no fuzz targets found")
	}
	fmt.Printf("fuzz: %d targets, %s each\n", len(targets), fuzztime)
	var flakes []string
	for _, t := range targets {
		corpus := filepath.Join(t.dir, "testdata", "fuzz", t.name)
		before := corpusFiles(corpus)
		var out bytes.Buffer
		fmt.Printf("[%s] go test -run=^$ -fuzz=^%s$ -fuzztime=%s .\n", t.dir, t.name, fuzztime)
		c := exec.Command("go", "test", "-run=^$", "-fuzz=^"+t.name+"$", "-fuzztime="+fuzztime, ".")
		c.Dir = t.dir
		c.Stdout = io.MultiWriter(os.Stdout, &out)
		c.Stderr = io.MultiWriter(os.Stderr, &out)
		if err := c.Run(); err != nil {
			// Go 1.26's fuzz coordinator can report the end of -fuzztime
			// itself as a failure ("context deadline exceeded", no input
			// written): go.dev/issue/75804, fixed in Go 1.27. Only a new
			// reproducer in the corpus, or any other failure, is a finding.
			if strings.Contains(out.String(), "context deadline exceeded") && corpusFiles(corpus) == before {
				flakes = append(flakes, t.name)
				fmt.Printf("fuzz: %s: stopped by the fuzztime deadline race of Go's coordinator (go.dev/issue/75804); no input was written, not a finding\n", t.name)
				continue
			}
			return fmt.Errorf("%s: fuzz target %s failed (see the reproducer under %s): %w", t.dir, t.name, corpus, err)
		}
	}
	fmt.Printf("fuzz: %d targets passed", len(targets)-len(flakes))
	if len(flakes) > 0 {
		fmt.Printf(", %d stopped by the coordinator's deadline race: %s", len(flakes), strings.Join(flakes, ", "))
	}
	fmt.Println()
	return nil
}

// corpusFiles lists the files of a fuzz corpus directory, joined, so that a
// new reproducer shows as a change.
func corpusFiles(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, "\n")
}
