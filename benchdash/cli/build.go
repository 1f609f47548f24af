package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// target is a module directory and the -bench expression for its packages.
type target struct {
	dir   string // relative to the repository root, slash-separated
	bench string
}

// parseTarget parses a DIR or DIR=RE argument.
func parseTarget(arg, bench string) target {
	if d, re, ok := strings.Cut(arg, "="); ok {
		return target{dir: d, bench: re}
	}
	return target{dir: arg, bench: bench}
}

// benchPkg is one package with benchmarks, built as a test binary.
type benchPkg struct {
	importPath string
	rel        string // package directory relative to the tree's root
	bench      string
	bin        string
	// names are the package's top-level benchmarks that bench selects, in
	// source order: a session runs them one at a time, each on both sides
	// before the next (see roundSteps).
	names []string
	// leaves are the full names of the benchmarks (or sub-benchmarks)
	// without sub-benchmarks of their own that names ran, found by a run
	// of one iteration each before the first round.
	leaves []string
}

// tree is one side of an A/B session: a checkout and its test binaries.
type tree struct {
	name   string // "A" or "B"
	root   string
	commit string
	pkgs   []benchPkg
	// cache is the side's RINGWIRE_TEST_BINDIR for this session.
	cache string
}

var benchFunc = regexp.MustCompile(`(?m)^func (Benchmark\w*)\(`)

// listBenchPkgs lists the packages under root/t.dir whose test files define
// a benchmark that t.bench can select. An expression with a "/" (one for
// sub-benchmarks) keeps every package with benchmarks.
func listBenchPkgs(root string, t target) ([]benchPkg, error) {
	re, err := regexp.Compile(strings.SplitN(t.bench, "/", 2)[0])
	if err != nil {
		return nil, fmt.Errorf("-bench %q: %w", t.bench, err)
	}
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \" \"}} {{join .XTestGoFiles \" \"}}", "./...")
	cmd.Dir = filepath.Join(root, filepath.FromSlash(t.dir))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %v: %s", cmd.Dir, err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []benchPkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) != 3 {
			continue
		}
		names := benchNames(f[1], strings.Fields(f[2]), re)
		if len(names) == 0 {
			continue
		}
		rel, err := filepath.Rel(root, f[1])
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, benchPkg{importPath: f[0], rel: rel, bench: t.bench, names: names})
	}
	return pkgs, nil
}

// benchNames returns the names of the benchmark functions in files (of
// package directory dir) that re selects, in file and source order.
func benchNames(dir string, files []string, re *regexp.Regexp) []string {
	var names []string
	seen := map[string]bool{}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		for _, m := range benchFunc.FindAllSubmatch(data, -1) {
			if n := string(m[1]); re.MatchString(n) && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}

// benchPattern is the -test.bench expression that runs the one top-level
// benchmark name out of a package selected by expr: name anchored, and the
// sub-benchmark levels of expr (after its first "/") kept.
func benchPattern(expr, name string) string {
	pat := "^" + regexp.QuoteMeta(name) + "$"
	if _, rest, ok := strings.Cut(expr, "/"); ok {
		pat += "/" + rest
	}
	return pat
}

// build compiles the test binary of every package of tr into binDir,
// skipping binaries that are already there when cached is true.
func (e *env) build(tr *tree, targets []target, binDir string, cached bool) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	for _, t := range targets {
		if _, err := os.Stat(filepath.Join(tr.root, filepath.FromSlash(t.dir), "go.mod")); err != nil {
			fmt.Fprintf(e.stderr, "benchdash: side %s (%s) has no module %s; skipped\n", tr.name, short(tr.commit), t.dir)
			continue
		}
		pkgs, err := listBenchPkgs(tr.root, t)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			p.bin = filepath.Join(binDir, strings.NewReplacer("/", "_", ".", "_").Replace(p.importPath)+".test")
			tr.pkgs = append(tr.pkgs, p)
			if _, err := os.Stat(p.bin); cached && err == nil {
				continue
			}
			cmd := exec.CommandContext(e.ctx, "go", "test", "-c", "-o", p.bin+".tmp", p.importPath)
			cmd.Dir = filepath.Join(tr.root, filepath.FromSlash(t.dir))
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("side %s: go test -c %s: %v\n%s", tr.name, p.importPath, err, out)
			}
			if err := os.Rename(p.bin+".tmp", p.bin); err != nil {
				return err
			}
		}
	}
	return nil
}

// baselineTree returns a checkout of commit under the user cache directory
// (a detached git worktree, reused while it is at that commit) and the
// directory for its cached test binaries.
func baselineTree(root, commit string) (dir, binDir string, err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", err
	}
	base := filepath.Join(cache, "ringwire-bench", commit)
	dir = filepath.Join(base, "tree")
	if got, _ := git(dir, "rev-parse", "HEAD"); got == commit {
		return dir, filepath.Join(base, "bin"), nil
	}
	// A worktree left by a clone that is gone, or half made: start again
	// (-f: the path may still be registered, missing, in this repository).
	os.RemoveAll(base)
	if _, err := git(root, "worktree", "add", "-f", "--detach", dir, commit); err != nil {
		return "", "", fmt.Errorf("git worktree add %s %s: %w", dir, short(commit), err)
	}
	return dir, filepath.Join(base, "bin"), nil
}

// git runs git in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", errors.New(msg)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
