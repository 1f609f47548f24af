//go:build mage

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/magefile/mage/mg"
)

// Test runs every module's tests with -race and prints a coverage line per module.
func Test() error {
	covDir := filepath.Join("bench", "coverage")
	if err := os.MkdirAll(covDir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	var summary []string
	var failed []string
	// The build's own tests first: they take a second and guard the release targets.
	t0 := time.Now()
	if err := runIn(".", nil, "go", "test", "-race", "-tags", "mage", magefilesDir); err != nil {
		failed = append(failed, "magefiles")
		summary = append(summary, fmt.Sprintf("FAIL %-12s (%s)", "magefiles", time.Since(t0).Round(time.Second)))
	} else {
		summary = append(summary, fmt.Sprintf("ok       %-12s (%s)", "magefiles", time.Since(t0).Round(time.Second)))
	}
	for _, m := range modules {
		profile, _ := filepath.Abs(filepath.Join(covDir, m+".out"))
		t0 := time.Now()
		err := runIn(m, nil, "go", "test", "-race", "-timeout", env("RINGWIRE_TEST_TIMEOUT", "8m"),
			"-covermode=atomic", "-coverpkg="+modulePrefix+m+"/...", "-coverprofile="+profile, "./...")
		if err != nil {
			failed = append(failed, m)
			summary = append(summary, fmt.Sprintf("FAIL %-12s (%s)", m, time.Since(t0).Round(time.Second)))
			continue
		}
		pct, perr := coverageTotal(profile)
		if perr != nil {
			return perr
		}
		summary = append(summary, fmt.Sprintf("coverage %-12s %s  (%s)", m, pct, time.Since(t0).Round(time.Second)))
	}
	fmt.Println("\n== test summary ==")
	for _, s := range summary {
		fmt.Println(s)
	}
	fmt.Printf("total time %s\n", time.Since(start).Round(time.Second))
	if len(failed) > 0 {
		return fmt.Errorf("tests failed in: %s", strings.Join(failed, ", "))
	}
	return nil
}

// Integration runs the integration module's suites with -race: the end-to-end
// tests against a child ringwired and the container suites (integration/containers,
// which need Docker: without it they skip saying how to get it, or fail with
// RINGWIRE_REQUIRE_ALL set). Test runs them too, as part of the integration module.
func Integration() error {
	return runIn("integration", nil, "go", "test", "-race", "-count=1", "-timeout", env("RINGWIRE_TEST_TIMEOUT", "8m"), "./...")
}

// coverageTotal returns the total statement coverage of a profile as printed by `go tool cover -func`.
func coverageTotal(profile string) (string, error) {
	if _, err := os.Stat(profile); err != nil {
		return "n/a (no profile)", nil
	}
	out, err := outputIn(".", "go", "tool", "cover", "-func="+profile)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	f := strings.Fields(last)
	if len(f) == 0 || f[0] != "total:" {
		return "n/a", nil
	}
	return f[len(f)-1], nil
}

// Standalone runs `GOWORK=off go test ./...` in every module: each module builds on its own.
func Standalone() error {
	for _, m := range modules {
		if err := runIn(m, map[string]string{"GOWORK": "off"}, "go", "test", "-count=1", "./..."); err != nil {
			return err
		}
	}
	return nil
}

// CI runs lint and then the tests: what .ci/run runs on a fresh machine.
func CI() {
	mg.SerialDeps(Lint, Test)
}
