//go:build mage

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
	"golang.org/x/mod/semver"
)

// Release is the namespace of per-module release targets (tags such as protocol/v0.1.0).
type Release mg.Namespace

// isReleaseVersion reports whether v is a full semantic version vX.Y.Z, with an
// optional pre-release suffix and no build metadata: the form a module tag takes.
func isReleaseVersion(v string) bool {
	return semver.IsValid(v) && semver.Canonical(v) == v
}

// siblingRequires lists the ringwire modules that module m requires, read from its go.mod.
func siblingRequires(m string) ([]string, error) {
	out, err := outputIn(m, "go", "mod", "edit", "-json")
	if err != nil {
		return nil, err
	}
	var gm struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal([]byte(out), &gm); err != nil {
		return nil, err
	}
	var sibs []string
	for _, r := range gm.Require {
		if strings.HasPrefix(r.Path, modulePrefix) {
			sibs = append(sibs, strings.TrimPrefix(r.Path, modulePrefix))
		}
	}
	sort.Strings(sibs)
	return sibs, nil
}

// latestTag returns the highest vX.Y.Z tag of module m, or "" when it has none.
func latestTag(m string) (string, error) {
	out, err := outputIn(".", "git", "tag", "--list", m+"/v*")
	if err != nil {
		return "", err
	}
	return highestVersion(m, strings.Fields(out)), nil
}

// highestVersion returns the highest release version among the tags m/vX.Y.Z,
// in semantic version order (v0.1.0-rc.9 < v0.1.0-rc.10 < v0.1.0), or "" when
// no tag is one of module m.
func highestVersion(m string, tags []string) string {
	best := ""
	for _, t := range tags {
		v, ok := strings.CutPrefix(t, m+"/")
		if ok && isReleaseVersion(v) && (best == "" || semver.Compare(best, v) < 0) {
			best = v
		}
	}
	return best
}

// releasePlan checks that module m can be released as version and returns the sibling versions to require.
func releasePlan(m, version string, runTests bool) (map[string]string, error) {
	idx := -1
	for i, x := range modules {
		if x == m {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("unknown module %q (modules: %s)", m, strings.Join(modules, ", "))
	}
	if !isReleaseVersion(version) {
		return nil, fmt.Errorf("version %q is not of the form vX.Y.Z", version)
	}
	if st, err := outputIn(".", "git", "status", "--porcelain"); err != nil {
		return nil, err
	} else if strings.TrimSpace(st) != "" {
		return nil, fmt.Errorf("refusing to release from a dirty tree:\n%s", st)
	}
	if prev, err := latestTag(m); err != nil {
		return nil, err
	} else if prev != "" && semver.Compare(prev, version) >= 0 {
		return nil, fmt.Errorf("%s/%s is not newer than the latest tag %s/%s", m, version, m, prev)
	}
	sibs, err := siblingRequires(m)
	if err != nil {
		return nil, err
	}
	pins := map[string]string{}
	for _, s := range sibs {
		pos := -1
		for i, x := range modules {
			if x == s {
				pos = i
			}
		}
		if pos < 0 || pos > idx {
			return nil, fmt.Errorf("module list out of dependency order: %s requires %s, which comes after it", m, s)
		}
		v, err := latestTag(s)
		if err != nil {
			return nil, err
		}
		if v == "" {
			return nil, fmt.Errorf("%s requires %s, which has no release tag yet: release %s first (dependency order: %s)", m, s, s, strings.Join(modules, " → "))
		}
		pins[s] = v
	}
	if runTests {
		if err := runIn(m, nil, "go", "test", "-race", "./..."); err != nil {
			return nil, fmt.Errorf("refusing to release %s: tests fail: %w", m, err)
		}
		if err := runIn(m, map[string]string{"GOWORK": "off"}, "go", "test", "./..."); err != nil {
			return nil, fmt.Errorf("refusing to release %s: standalone tests fail: %w", m, err)
		}
	}
	return pins, nil
}

// Check verifies every module could be released: clean tree, passing tests, siblings tagged in dependency order.
func (Release) Check() error {
	if st, err := outputIn(".", "git", "status", "--porcelain"); err != nil {
		return err
	} else if strings.TrimSpace(st) != "" {
		return fmt.Errorf("dirty tree:\n%s", st)
	}
	for i, m := range modules {
		sibs, err := siblingRequires(m)
		if err != nil {
			return err
		}
		for _, s := range sibs {
			ok := false
			for _, x := range modules[:i] {
				ok = ok || x == s
			}
			if !ok {
				return fmt.Errorf("module list out of dependency order: %s requires %s", m, s)
			}
		}
		tag, err := latestTag(m)
		if err != nil {
			return err
		}
		if tag == "" {
			tag = "(untagged)"
		}
		fmt.Printf("%-12s latest %-12s requires %v\n", m, tag, sibs)
	}
	return Test()
}

// Tag tags MODULE as VERSION (as in `release:tag protocol v0.1.0`) on a release commit whose go.mod pins siblings at tags.
func (Release) Tag(module, version string) error {
	pins, err := releasePlan(module, version, true)
	if err != nil {
		return err
	}
	head, err := outputIn(".", "git", "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	head = strings.TrimSpace(head)
	tag := module + "/" + version
	if len(pins) == 0 {
		// Nothing to rewrite: the module's go.mod is already its released form.
		if err := sh.RunV("git", "tag", "-a", tag, "-m", "ringwire "+tag, head); err != nil {
			return err
		}
		fmt.Printf("tagged %s at %s\n", tag, head[:12])
		return nil
	}
	// A released go.mod requires its siblings at real tags, not through replace
	// lines. Write that go.mod on a release commit beside main (main keeps its
	// replace lines so every module keeps building standalone) and tag it.
	wt, err := os.MkdirTemp("", "ringwire-release-")
	if err != nil {
		return err
	}
	defer func() {
		_ = sh.Run("git", "worktree", "remove", "--force", wt)
		_ = os.RemoveAll(wt)
	}()
	if err := sh.RunV("git", "worktree", "add", "--detach", wt, head); err != nil {
		return err
	}
	modDir := filepath.Join(wt, module)
	var editArgs []string
	for s, v := range pins {
		editArgs = append(editArgs, "-require="+modulePrefix+s+"@"+v, "-dropreplace="+modulePrefix+s)
	}
	sort.Strings(editArgs)
	if err := runIn(modDir, nil, "go", append([]string{"mod", "edit"}, editArgs...)...); err != nil {
		return err
	}
	if err := runIn(wt, nil, "git", "commit", "-am", "release "+tag+": require siblings at their tags"); err != nil {
		return err
	}
	if err := runIn(wt, nil, "git", "tag", "-a", tag, "-m", "ringwire "+tag); err != nil {
		return err
	}
	fmt.Printf("tagged %s on a release commit beside %s; push it with: git push origin %s\n", tag, head[:12], tag)
	return nil
}
