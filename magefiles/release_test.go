//go:build mage

package main

import (
	"os/exec"
	"testing"
)

// TestHighestVersionOrder checks that of each pair the later version wins,
// whichever order the tags are listed in: the order of semantic versioning,
// where numeric pre-release identifiers compare as numbers.
func TestHighestVersionOrder(t *testing.T) {
	for _, tc := range []struct{ lower, higher string }{
		{"v0.1.0-rc.9", "v0.1.0-rc.10"},
		{"v0.1.0-rc.10", "v0.1.0"},
		{"v0.1.0-alpha", "v0.1.0-alpha.1"},
		{"v0.1.0-alpha.1", "v0.1.0-alpha.beta"},
		{"v0.1.0-beta.2", "v0.1.0-beta.11"},
		{"v0.1.0-beta.11", "v0.1.0-rc.1"},
		{"v0.9.0", "v0.10.0"},
		{"v0.10.0", "v1.0.0-rc.1"},
		{"v1.9.9", "v1.10.0"},
		{"v1.2.9", "v1.2.10"},
	} {
		for _, tags := range [][]string{
			{"protocol/" + tc.lower, "protocol/" + tc.higher},
			{"protocol/" + tc.higher, "protocol/" + tc.lower},
		} {
			if got := highestVersion("protocol", tags); got != tc.higher {
				t.Errorf("highestVersion(%q) = %q, want %q", tags, got, tc.higher)
			}
		}
	}
}

// TestHighestVersionSkips checks that tags of other modules and tags that are
// not full vX.Y.Z versions never win.
func TestHighestVersionSkips(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags []string
		want string
	}{
		{"none", nil, ""},
		{"other module", []string{"protocol/v9.0.0", "pool/v0.1.0"}, "v0.1.0"},
		{"prefix of another module", []string{"poolx/v2.0.0", "pool/v0.2.0"}, "v0.2.0"},
		{"short form", []string{"pool/v2", "pool/v2.1", "pool/v0.3.0"}, "v0.3.0"},
		{"build metadata", []string{"pool/v2.0.0+meta", "pool/v0.3.0"}, "v0.3.0"},
		{"leading zero", []string{"pool/v02.0.0", "pool/v0.3.0-rc.01", "pool/v0.3.0-rc.1"}, "v0.3.0-rc.1"},
		{"not semver", []string{"pool/vnext", "pool/v1.0.0-", "pool/v0.0.1"}, "v0.0.1"},
		{"only invalid", []string{"pool/latest", "pool/v1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := highestVersion("pool", tc.tags); got != tc.want {
				t.Errorf("highestVersion(pool, %q) = %q, want %q", tc.tags, got, tc.want)
			}
		})
	}
}

func TestIsReleaseVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v0.1.0":       true,
		"v1.2.3-rc.10": true,
		"v1.2.3-rc-1":  true,
		"1.2.3":        false,
		"v1.2":         false,
		"v1":           false,
		"v1.2.3+build": false,
		"v1.2.3-":      false,
		"v1.2.3-rc..1": false,
		"v01.2.3":      false,
	} {
		if got := isReleaseVersion(v); got != want {
			t.Errorf("isReleaseVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestLatestTag tags a commit of a scratch repository and checks that
// latestTag reads the tags from git and picks the highest of the module's.
func TestLatestTag(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	t.Chdir(t.TempDir())
	for k, v := range map[string]string{
		"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
		"GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
		"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
	} {
		t.Setenv(k, v)
	}
	git := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "scratch")

	if got, err := latestTag("protocol"); err != nil || got != "" {
		t.Fatalf("latestTag(protocol) with no tags = %q, %v; want \"\", nil", got, err)
	}
	for _, tag := range []string{"protocol/v0.1.0-rc.2", "protocol/v0.1.0-rc.9", "protocol/v0.1.0-rc.10",
		"protocol/v0.1", "pool/v0.2.0", "protocolx/v0.3.0"} {
		git("tag", tag)
	}
	for m, want := range map[string]string{"protocol": "v0.1.0-rc.10", "pool": "v0.2.0", "shmring": ""} {
		if got, err := latestTag(m); err != nil || got != want {
			t.Errorf("latestTag(%s) = %q, %v; want %q, nil", m, got, err, want)
		}
	}
	git("tag", "protocol/v0.1.0")
	if got, err := latestTag("protocol"); err != nil || got != "v0.1.0" {
		t.Errorf("latestTag(protocol) after the release = %q, %v; want \"v0.1.0\", nil", got, err)
	}
}
