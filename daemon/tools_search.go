package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// errSearchTime is the cause of a search's context when its time is up.
var errSearchTime = errors.New("search time limit")

type searchArgs struct {
	Pattern    string `json:"pattern"`
	Path       string `json:"path"`
	MaxResults int    `json:"max_results"`
}

// searchTool: search {pattern, path?, max_results?}: the lines that match
// the Go regexp pattern in the text files under path, as file:line:text.
// It skips .git directories, symbolic links and binary files (a NUL byte
// in the first 8 KiB), and stops at max_results matches or after
// searchTimeLimit.
func searchTool(ctx context.Context, ws *workspace, raw []byte) (string, error) {
	const tool = "search"
	var a searchArgs
	if err := decodeArgs(tool, raw, &a); err != nil {
		return "", err
	}
	if a.Pattern == "" {
		return "", fmt.Errorf("%s: pattern is required", tool)
	}
	re, err := regexp.Compile(a.Pattern)
	if err != nil {
		return "", fmt.Errorf("%s: bad pattern: %v", tool, err)
	}
	p, err := relPath(tool, a.Path, true)
	if err != nil {
		return "", err
	}
	switch {
	case a.MaxResults < 0 || a.MaxResults > maxSearchResults:
		return "", fmt.Errorf("%s: max_results %d outside [1, %d]", tool, a.MaxResults, maxSearchResults)
	case a.MaxResults == 0:
		a.MaxResults = defaultMaxResults
	}
	r, err := ws.open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	if _, err := r.Stat(p); err != nil {
		return "", fsError(tool, p, err)
	}
	limit := ws.searchLimit
	if limit == 0 {
		limit = searchTimeLimit
	}
	ctx, cancel := context.WithTimeoutCause(ctx, limit, errSearchTime)
	defer cancel()
	var (
		out  strings.Builder
		n    int
		full bool
		buf  = make([]byte, 8<<10)
		fsys = r.FS()
	)
	walkErr := fs.WalkDir(fsys, p, func(name string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return nil // unreadable: skip
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := fsys.Open(name)
		if err != nil {
			return nil
		}
		defer f.Close()
		k, _ := io.ReadFull(f, buf)
		if bytes.IndexByte(buf[:k], 0) >= 0 {
			return nil // binary
		}
		sc := bufio.NewScanner(io.MultiReader(bytes.NewReader(buf[:k]), f))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			if line%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if !re.Match(sc.Bytes()) {
				continue
			}
			if n == a.MaxResults {
				full = true
				return fs.SkipAll
			}
			n++
			fmt.Fprintf(&out, "%s:%d:%s\n", path.Clean(name), line, abbrev(sc.Text(), maxMatchLine))
		}
		return nil
	})
	switch {
	case walkErr != nil && context.Cause(ctx) == errSearchTime:
		fmt.Fprintf(&out, "(search stopped after %v with %d matches; narrow path or pattern)\n", limit, n)
	case walkErr != nil:
		return out.String(), fmt.Errorf("%s: %w", tool, walkErr)
	case full:
		fmt.Fprintf(&out, "(stopped at %d matches; max_results raises the limit up to %d)\n", n, maxSearchResults)
	case n == 0:
		out.WriteString("no matches\n")
	}
	return out.String(), nil
}
