package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// workspace is the directory tree the workspace tools may touch. Every
// call opens it afresh as an os.Root, which resolves each path component
// inside the root and refuses "..", absolute paths and symbolic links that
// lead out of it, at the moment of each access (so a link swapped while a
// tool runs cannot take it outside either).
type workspace struct {
	dir         string
	allow       []string // run_command's allowed argv[0]s
	maxFileSize int64
	searchLimit time.Duration // search's time limit; 0: searchTimeLimit (tests shorten it)
}

// open opens the workspace root for one tool call.
func (ws *workspace) open() (*os.Root, error) {
	r, err := os.OpenRoot(ws.dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open the workspace: %v", err)
	}
	return r, nil
}

// relPath checks a path argument and returns it in the form os.Root
// takes ("." for the root itself). Empty means the root when allowEmpty.
func relPath(tool, p string, allowEmpty bool) (string, error) {
	switch {
	case p == "" && allowEmpty:
		return ".", nil
	case p == "":
		return "", fmt.Errorf("%s: path is required", tool)
	case filepath.IsAbs(p):
		return "", fmt.Errorf("%s: path %q is absolute; give a path relative to the workspace root", tool, p)
	}
	c := filepath.Clean(p)
	if !filepath.IsLocal(c) && c != "." {
		return "", fmt.Errorf("%s: path %q leads outside the workspace", tool, p)
	}
	return c, nil
}

// fsError describes err from an os.Root operation on p for a person.
func fsError(tool, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %s: no such file or directory in the workspace", tool, p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: %s: permission denied", tool, p)
	case strings.Contains(err.Error(), "escapes"):
		return fmt.Errorf("%s: %s: path leads outside the workspace (through a symbolic link or ..); refused", tool, p)
	}
	return fmt.Errorf("%s: %s: %v", tool, p, err)
}

// readLimited reads the regular file p of r, refusing one larger than
// ws.maxFileSize. It returns the content and the file's mode.
func (ws *workspace) readLimited(tool string, r *os.Root, p string) ([]byte, fs.FileMode, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer.
	f, err := r.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, fsError(tool, p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fsError(tool, p, err)
	}
	if st.IsDir() {
		return nil, 0, fmt.Errorf("%s: %s is a directory (list_dir lists it)", tool, p)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: %s is not a regular file (%v)", tool, p, st.Mode().Type())
	}
	tooBig := func(n int64) error {
		return fmt.Errorf("%s: %s is %d bytes, more than the limit of %d bytes", tool, p, n, ws.maxFileSize)
	}
	if st.Size() > ws.maxFileSize {
		return nil, 0, tooBig(st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, ws.maxFileSize+1))
	if err != nil {
		return nil, 0, fsError(tool, p, err)
	}
	if int64(len(b)) > ws.maxFileSize {
		return nil, 0, tooBig(int64(len(b)))
	}
	return b, st.Mode().Perm(), nil
}

// writeAtomic replaces (or creates) p in r with data: it writes a
// temporary file beside it, syncs it, and renames it over p, so that a
// reader sees the old content or the new, never a part. Missing parent
// directories are created (0755). A new file gets perm. A symbolic link
// is not written through: it is refused.
func writeAtomic(tool string, r *os.Root, p string, data []byte, perm fs.FileMode) error {
	dir := path.Dir(filepath.ToSlash(p))
	if dir != "." {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return fsError(tool, dir, err)
		}
	}
	if st, err := r.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		// Renaming over a link would replace the link; one that leads
		// out of the workspace must not be written through either.
		if _, err := r.Stat(p); err != nil {
			return fsError(tool, p, err)
		}
		to, _ := r.Readlink(p)
		return fmt.Errorf("%s: %s is a symbolic link (to %s); give the path of the file it points to", tool, p, to)
	} else if err == nil && st.IsDir() {
		return fmt.Errorf("%s: %s is a directory", tool, p)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, "."+path.Base(filepath.ToSlash(p))+".ringwire-"+hex.EncodeToString(rnd[:]))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fsError(tool, p, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, p)
	}
	if err != nil {
		_ = r.Remove(tmp)
		return fsError(tool, p, err)
	}
	if d, err := r.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable
		d.Close()
	}
	return nil
}

type readFileArgs struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
}

// readFileTool: read_file {path, start_line?, end_line?}.
func readFileTool(_ context.Context, ws *workspace, raw []byte) (string, error) {
	const tool = "read_file"
	var a readFileArgs
	if err := decodeArgs(tool, raw, &a); err != nil {
		return "", err
	}
	p, err := relPath(tool, a.Path, false)
	if err != nil {
		return "", err
	}
	if a.StartLine < 0 || a.EndLine < 0 || (a.EndLine > 0 && a.StartLine > a.EndLine) {
		return "", fmt.Errorf("%s: bad line range %d-%d: lines count from 1 and start_line must not exceed end_line", tool, a.StartLine, a.EndLine)
	}
	r, err := ws.open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, _, err := ws.readLimited(tool, r, p)
	if err != nil {
		return "", err
	}
	if a.StartLine == 0 && a.EndLine == 0 {
		return string(b), nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	start, end := max(a.StartLine, 1), a.EndLine
	if end == 0 || end > len(lines) {
		end = len(lines)
	}
	if start > len(lines) {
		return "", fmt.Errorf("%s: %s has %d lines; start_line %d is past the end", tool, p, len(lines), start)
	}
	return strings.Join(lines[start-1:end], ""), nil
}

type writeFileArgs struct {
	Path    string  `json:"path"`
	Content *string `json:"content"`
}

// writeFileTool: write_file {path, content}.
func writeFileTool(_ context.Context, ws *workspace, raw []byte) (string, error) {
	const tool = "write_file"
	var a writeFileArgs
	if err := decodeArgs(tool, raw, &a); err != nil {
		return "", err
	}
	p, err := relPath(tool, a.Path, false)
	if err != nil {
		return "", err
	}
	if a.Content == nil {
		return "", fmt.Errorf("%s: content is required (an empty string makes an empty file)", tool)
	}
	r, err := ws.open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	perm := fs.FileMode(0o644)
	if st, err := r.Stat(p); err == nil && st.Mode().IsRegular() {
		perm = st.Mode().Perm()
	}
	if err := writeAtomic(tool, r, p, []byte(*a.Content), perm); err != nil {
		return "", err
	}
	return fmt.Sprintf("wrote %d bytes to %s", len(*a.Content), p), nil
}

type editFileArgs struct {
	Path string  `json:"path"`
	Old  string  `json:"old"`
	New  *string `json:"new"`
}

// editFileTool: edit_file {path, old, new}: replaces the one occurrence
// of old.
func editFileTool(_ context.Context, ws *workspace, raw []byte) (string, error) {
	const tool = "edit_file"
	var a editFileArgs
	if err := decodeArgs(tool, raw, &a); err != nil {
		return "", err
	}
	p, err := relPath(tool, a.Path, false)
	if err != nil {
		return "", err
	}
	if a.Old == "" {
		return "", fmt.Errorf("%s: old is required: the text to replace", tool)
	}
	if a.New == nil {
		return "", fmt.Errorf("%s: new is required (an empty string deletes old)", tool)
	}
	r, err := ws.open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, perm, err := ws.readLimited(tool, r, p)
	if err != nil {
		return "", err
	}
	switch n := strings.Count(string(b), a.Old); n {
	case 1:
	case 0:
		return "", fmt.Errorf("%s: old text not found in %s", tool, p)
	default:
		return "", fmt.Errorf("%s: old text found %d times in %s; make it unique", tool, n, p)
	}
	out := strings.Replace(string(b), a.Old, *a.New, 1)
	if err := writeAtomic(tool, r, p, []byte(out), perm); err != nil {
		return "", err
	}
	return fmt.Sprintf("edited %s: replaced %d bytes with %d", p, len(a.Old), len(*a.New)), nil
}

type listDirArgs struct {
	Path string `json:"path"`
}

// listDirTool: list_dir {path}: one line per entry, sorted by name: its
// type, its size and its name (a directory's ends in "/").
func listDirTool(_ context.Context, ws *workspace, raw []byte) (string, error) {
	const tool = "list_dir"
	var a listDirArgs
	if err := decodeArgs(tool, raw, &a); err != nil {
		return "", err
	}
	p, err := relPath(tool, a.Path, true)
	if err != nil {
		return "", err
	}
	r, err := ws.open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := r.Open(p)
	if err != nil {
		return "", fsError(tool, p, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: %s is not a directory (read_file reads a file)", tool, p)
	}
	ents, err := f.ReadDir(maxDirEntries + 1)
	if err != nil && err != io.EOF {
		return "", fsError(tool, p, err)
	}
	more := len(ents) > maxDirEntries
	if more {
		ents = ents[:maxDirEntries]
	}
	slices.SortFunc(ents, func(x, y fs.DirEntry) int { return strings.Compare(x.Name(), y.Name()) })
	var b strings.Builder
	for _, e := range ents {
		kind, name := "other", e.Name()
		switch t := e.Type(); {
		case t.IsDir():
			kind, name = "dir", name+"/"
		case t.IsRegular():
			kind = "file"
		case t&fs.ModeSymlink != 0:
			kind = "symlink"
		}
		var size int64
		if info, err := e.Info(); err == nil {
			size = info.Size()
		}
		fmt.Fprintf(&b, "%-7s %10d  %s\n", kind, size, name)
	}
	if len(ents) == 0 {
		b.WriteString("(empty directory)\n")
	}
	if more {
		fmt.Fprintf(&b, "(more than %d entries; only %d listed)\n", maxDirEntries, maxDirEntries)
	}
	return b.String(), nil
}
