//go:build mage

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/magefile/mage/sh"
)

// crossOSModules are the modules that must build and vet on the other
// operating systems ringwire supports: client and daemon, and the siblings
// they import.
var crossOSModules = []string{"protocol", "shmring", "pool", "client", "daemon"}

// crossGOOS are the operating systems besides Linux that crossOSModules must build for.
var crossGOOS = []string{"darwin", "freebsd"}

// Lint checks gofmt, go vet, staticcheck, actionlint, darwin and freebsd builds, and that generated code is up to date.
func Lint() error {
	var problems []string
	out, err := outputIn(".", "gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != "" {
		problems = append(problems, "gofmt needed on:\n"+out)
	}
	for _, m := range modules {
		if !hasGoFiles(m) {
			continue
		}
		// vet without the workspace: it also proves the module resolves on its own.
		if err := runIn(m, map[string]string{"GOWORK": "off"}, "go", "vet", "./..."); err != nil {
			problems = append(problems, err.Error())
		}
		if err := runIn(m, nil, "go", "tool", "staticcheck", "./..."); err != nil {
			problems = append(problems, err.Error())
		}
	}
	// The build itself, in the root module behind the mage build tag.
	if err := runIn(".", map[string]string{"GOWORK": "off"}, "go", "vet", "-tags", "mage", magefilesDir); err != nil {
		problems = append(problems, err.Error())
	}
	if err := runIn(".", nil, "go", "tool", "staticcheck", "-tags", "mage", magefilesDir); err != nil {
		problems = append(problems, err.Error())
	}
	problems = append(problems, crossOSProblems()...)
	if err := sh.RunV("go", "tool", "actionlint"); err != nil {
		problems = append(problems, "actionlint: "+err.Error())
	}
	if err := generatedUpToDate(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New("lint failed:\n" + strings.Join(problems, "\n"))
	}
	fmt.Println("lint: ok")
	return nil
}

// crossOSProblems builds and vets (tests included) every crossOSModules module
// for every crossGOOS, without the workspace, and returns what failed.
func crossOSProblems() []string {
	var problems []string
	for _, goos := range crossGOOS {
		fmt.Printf("lint: GOOS=%s\n", goos)
		envs := map[string]string{"GOOS": goos, "GOWORK": "off"}
		for _, m := range crossOSModules {
			if !hasGoFiles(m) {
				continue
			}
			for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
				if err := runIn(m, envs, "go", args...); err != nil {
					problems = append(problems, "GOOS="+goos+" "+err.Error())
				}
			}
		}
	}
	return problems
}

// treeState is what git sees of the working tree: the status and the full diff.
func treeState() (string, error) {
	st, err := outputIn(".", "git", "status", "--porcelain", "--untracked-files=all")
	if err != nil {
		return "", err
	}
	diff, err := outputIn(".", "git", "diff")
	if err != nil {
		return "", err
	}
	return st + "\n" + diff, nil
}

// generatedUpToDate regenerates code and fails if that changed anything in the working tree.
func generatedUpToDate() error {
	before, err := treeState()
	if err != nil {
		return err
	}
	if err := Generate(); err != nil {
		return err
	}
	after, err := treeState()
	if err != nil {
		return err
	}
	if before != after {
		st, _ := outputIn(".", "git", "status", "--short")
		return fmt.Errorf("generated code is out of date (run `go tool mage generate` and commit the result):\n%s", st)
	}
	return nil
}

// Generate regenerates code (FlatBuffers Go from protocol/schema) in every module.
func Generate() error {
	for _, m := range modules {
		if !hasGoFiles(m) {
			continue
		}
		if err := runIn(m, nil, "go", "generate", "./..."); err != nil {
			return err
		}
	}
	return nil
}

// Tidy runs `go mod tidy` in every module with the workspace turned off, as a user would build it.
func Tidy() error {
	for _, m := range append([]string{"."}, modules...) {
		if err := runIn(m, map[string]string{"GOWORK": "off"}, "go", "mod", "tidy"); err != nil {
			return err
		}
	}
	return nil
}
