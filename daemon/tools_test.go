package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// toolRecorder is a ResponseWriter that keeps what a handler answered.
type toolRecorder struct {
	typ     protocol.MsgType
	payload []byte
	errCode protocol.ErrorCode
	errMsg  string
}

func (r *toolRecorder) Respond(typ protocol.MsgType, payload []byte) error {
	r.typ, r.payload = typ, append([]byte(nil), payload...)
	return nil
}
func (r *toolRecorder) Send(protocol.MsgType, []byte) error { return ErrCallDone }
func (r *toolRecorder) End(typ protocol.MsgType, payload []byte) error {
	return r.Respond(typ, payload)
}
func (r *toolRecorder) Error(code protocol.ErrorCode, msg string, _ bool) error {
	r.typ, r.errCode, r.errMsg = protocol.MsgError, code, msg
	return nil
}

// runTool calls tool name with args through ToolHandler(cfg) and returns
// the ToolResult it answered.
func runTool(t testing.TB, ctx context.Context, cfg Config, name, args string) protocol.ToolResult {
	t.Helper()
	var rec toolRecorder
	call := protocol.ToolCall{ID: "id-" + name, Name: name, Arguments: args}
	ToolHandler(cfg).ServeFrame(ctx, &rec, &Request{Type: protocol.MsgToolCall, Payload: protocol.Marshal(&call)})
	if rec.typ != protocol.MsgToolResult {
		t.Fatalf("%s %s: answered %v (%v %q), want a ToolResult", name, args, rec.typ, rec.errCode, rec.errMsg)
	}
	var res protocol.ToolResult
	if err := res.Unmarshal(rec.payload); err != nil || res.CallID != call.ID {
		t.Fatalf("%s: result %+v, %v", name, res, err)
	}
	return res
}

// jsonArgs encodes a tool's arguments.
func jsonArgs(v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// newWorkspace returns a Config serving a fresh workspace, and the
// workspace's directory.
func newWorkspace(t testing.TB, allow ...string) (Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := Config{Workspace: dir, AllowCommands: allow}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return cfg, cfg.Workspace
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// want checks that res is (or is not) an error whose content contains
// every one of subs.
func want(t testing.TB, what string, res protocol.ToolResult, isError bool, subs ...string) {
	t.Helper()
	if res.IsError != isError {
		t.Errorf("%s: IsError = %v, want %v; content %q", what, res.IsError, isError, abbrev(res.Content, 500))
		return
	}
	for _, s := range subs {
		if !strings.Contains(res.Content, s) {
			t.Errorf("%s: content %q does not contain %q", what, abbrev(res.Content, 500), s)
		}
	}
}

func TestReadFile(t *testing.T) {
	cfg, dir := newWorkspace(t)
	cfg.MaxFileSize = 64
	writeFiles(t, dir, map[string]string{
		"a.txt":   "one\ntwo\nthree\nfour\n",
		"big.txt": strings.Repeat("x", 65),
		"d/e.txt": "e",
	})
	ctx := context.Background()
	for _, tc := range []struct {
		args    map[string]any
		isError bool
		subs    []string
	}{
		{map[string]any{"path": "a.txt"}, false, []string{"one\ntwo\nthree\nfour\n"}},
		{map[string]any{"path": "./d/../a.txt", "start_line": 2, "end_line": 3}, false, []string{"two\nthree\n"}},
		{map[string]any{"path": "a.txt", "start_line": 4}, false, []string{"four\n"}},
		{map[string]any{"path": "a.txt", "end_line": 1}, false, []string{"one\n"}},
		{map[string]any{"path": "a.txt", "start_line": 3, "end_line": 99}, false, []string{"three\nfour\n"}},
		{map[string]any{"path": "a.txt", "start_line": 5}, true, []string{"has 4 lines", "past the end"}},
		{map[string]any{"path": "a.txt", "start_line": 3, "end_line": 2}, true, []string{"bad line range 3-2"}},
		{map[string]any{"path": "a.txt", "start_line": -1}, true, []string{"bad line range"}},
		{map[string]any{"path": "big.txt"}, true, []string{"big.txt is 65 bytes, more than the limit of 64 bytes"}},
		{map[string]any{"path": "d"}, true, []string{"is a directory"}},
		{map[string]any{"path": "nope.txt"}, true, []string{"nope.txt: no such file or directory"}},
		{map[string]any{}, true, []string{"path is required"}},
		{map[string]any{"path": "a.txt", "start_line": "2"}, true, []string{"read_file: bad arguments", "start_line"}},
		{map[string]any{"path": "a.txt", "lines": 2}, true, []string{"read_file: bad arguments", `unknown field "lines"`}},
	} {
		args := jsonArgs(tc.args)
		want(t, "read_file "+args, runTool(t, ctx, cfg, "read_file", args), tc.isError, tc.subs...)
	}
	if err := os.Symlink("/dev/null", filepath.Join(dir, "dev")); err == nil {
		// /dev/null is outside: refused before it is known not to be a file.
		want(t, "read_file dev", runTool(t, ctx, cfg, "read_file", `{"path":"dev"}`), true, "outside the workspace")
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err == nil {
		want(t, "read_file fifo", runTool(t, ctx, cfg, "read_file", `{"path":"fifo"}`), true, "not a regular file")
	}
}

func TestWriteFile(t *testing.T) {
	cfg, dir := newWorkspace(t)
	ctx := context.Background()
	res := runTool(t, ctx, cfg, "write_file", `{"path":"new/sub/f.txt","content":"hello\n"}`)
	want(t, "write_file new", res, false, "wrote 6 bytes to new/sub/f.txt")
	if b, err := os.ReadFile(filepath.Join(dir, "new/sub/f.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("written file = %q, %v", b, err)
	}
	// An existing file keeps its mode; the temporary file is gone.
	p := filepath.Join(dir, "x.sh")
	writeFiles(t, dir, map[string]string{"x.sh": "old"})
	os.Chmod(p, 0o751)
	want(t, "write_file over", runTool(t, ctx, cfg, "write_file", `{"path":"x.sh","content":""}`), false, "wrote 0 bytes")
	st, err := os.Stat(p)
	if err != nil || st.Size() != 0 || st.Mode().Perm() != 0o751 {
		t.Fatalf("overwritten file: %v, %v", st, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("workspace holds %v, want new and x.sh only", ents)
	}
	want(t, "write_file no content", runTool(t, ctx, cfg, "write_file", `{"path":"y"}`), true, "content is required")
	want(t, "write_file dir", runTool(t, ctx, cfg, "write_file", `{"path":"new","content":"x"}`), true, "new is a directory")
	want(t, "write_file under a file", runTool(t, ctx, cfg, "write_file", `{"path":"x.sh/y","content":"x"}`), true, "write_file: x.sh")
	want(t, "write_file content type", runTool(t, ctx, cfg, "write_file", `{"path":"y","content":3}`), true, "bad arguments")
}

// TestWriteFileAtomic: a reader racing many write_file calls of a file
// always sees one whole version, never a part.
func TestWriteFileAtomic(t *testing.T) {
	cfg, dir := newWorkspace(t)
	versions := []string{strings.Repeat("a", 200<<10), strings.Repeat("b", 100<<10)}
	writeFiles(t, dir, map[string]string{"f": versions[0]})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 30 {
			args := jsonArgs(map[string]any{"path": "f", "content": versions[i%2]})
			if res := runTool(t, context.Background(), cfg, "write_file", args); res.IsError {
				t.Error(res.Content)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, "f"))
		if err != nil || (string(b) != versions[0] && string(b) != versions[1]) {
			t.Fatalf("reader saw %d bytes (%v), not a whole version", len(b), err)
		}
	}
}

func TestEditFile(t *testing.T) {
	cfg, dir := newWorkspace(t)
	writeFiles(t, dir, map[string]string{"f.go": "a := 1\nb := 1\nb := 1\nb := 1\n"})
	ctx := context.Background()
	want(t, "edit one", runTool(t, ctx, cfg, "edit_file", `{"path":"f.go","old":"a := 1","new":"a := 2"}`), false, "edited f.go")
	want(t, "edit several", runTool(t, ctx, cfg, "edit_file", `{"path":"f.go","old":"b := 1","new":"c"}`), true,
		"old text found 3 times in f.go; make it unique")
	want(t, "edit none", runTool(t, ctx, cfg, "edit_file", `{"path":"f.go","old":"zzz","new":"c"}`), true, "old text not found in f.go")
	want(t, "edit empty old", runTool(t, ctx, cfg, "edit_file", `{"path":"f.go","old":"","new":"c"}`), true, "old is required")
	want(t, "edit no new", runTool(t, ctx, cfg, "edit_file", `{"path":"f.go","old":"a"}`), true, "new is required")
	want(t, "edit missing", runTool(t, ctx, cfg, "edit_file", `{"path":"g.go","old":"a","new":"b"}`), true, "no such file")
	want(t, "edit bad args", runTool(t, ctx, cfg, "edit_file", `{"path":"f.go","old":"a","new":"b","x":1}`), true, "unknown field")
	want(t, "edit no path", runTool(t, ctx, cfg, "edit_file", `{"old":"a","new":"b"}`), true, "path is required")
	if b, _ := os.ReadFile(filepath.Join(dir, "f.go")); string(b) != "a := 2\nb := 1\nb := 1\nb := 1\n" {
		t.Fatalf("edited file = %q", b)
	}
}

func TestListDir(t *testing.T) {
	cfg, dir := newWorkspace(t)
	writeFiles(t, dir, map[string]string{"b.txt": "12345", "a/x": "", "c": "x"})
	os.Symlink("b.txt", filepath.Join(dir, "link"))
	ctx := context.Background()
	res := runTool(t, ctx, cfg, "list_dir", `{}`)
	want(t, "list_dir", res, false)
	lines := strings.Split(strings.TrimSpace(res.Content), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "dir") || !strings.HasSuffix(lines[0], " a/") ||
		!strings.HasPrefix(lines[1], "file") || !strings.Contains(lines[1], " 5  b.txt") ||
		!strings.HasSuffix(lines[2], " c") || !strings.HasPrefix(lines[3], "symlink") {
		t.Errorf("list_dir = %q", res.Content)
	}
	want(t, "list_dir a", runTool(t, ctx, cfg, "list_dir", `{"path":"a"}`), false, "file", " x\n")
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	want(t, "list_dir empty", runTool(t, ctx, cfg, "list_dir", `{"path":"empty"}`), false, "(empty directory)")
	want(t, "list_dir file", runTool(t, ctx, cfg, "list_dir", `{"path":"c"}`), true, "c is not a directory")
	want(t, "list_dir missing", runTool(t, ctx, cfg, "list_dir", `{"path":"zz"}`), true, "no such file")
	want(t, "list_dir bad", runTool(t, ctx, cfg, "list_dir", `{"path":1}`), true, "bad arguments")

	many := filepath.Join(dir, "many")
	os.Mkdir(many, 0o755)
	for i := range maxDirEntries + 5 {
		f, err := os.Create(filepath.Join(many, strings.Repeat("f", 1+i%7)+string(rune('a'+i%26))+time.Duration(i).String()))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	res = runTool(t, ctx, cfg, "list_dir", `{"path":"many"}`)
	want(t, "list_dir many", res, false, "(more than 1000 entries; only 1000 listed)")
	if n := strings.Count(res.Content, "\n"); n != maxDirEntries+1 {
		t.Errorf("list_dir many: %d lines", n)
	}
}

func TestSearch(t *testing.T) {
	cfg, dir := newWorkspace(t)
	writeFiles(t, dir, map[string]string{
		"a.go":         "package a\nfunc Foo() {}\n// Foo again\n",
		"sub/b.go":     "func Foo2() {}\n",
		".git/config":  "Foo in git\n",
		"bin.dat":      "Foo\x00binary",
		"sub/long.txt": strings.Repeat("Foo ", 200),
	})
	ctx := context.Background()
	res := runTool(t, ctx, cfg, "search", `{"pattern":"Foo"}`)
	want(t, "search", res, false, "a.go:2:func Foo() {}\n", "a.go:3:// Foo again\n", "sub/b.go:1:func Foo2() {}\n", "sub/long.txt:1:Foo Foo")
	if strings.Contains(res.Content, ".git") || strings.Contains(res.Content, "bin.dat") {
		t.Errorf("search looked in .git or a binary: %q", res.Content)
	}
	if strings.Count(res.Content, "\n") != 4 || !strings.Contains(res.Content, "…\n") {
		t.Errorf("search = %q", res.Content)
	}
	want(t, "search path", runTool(t, ctx, cfg, "search", `{"pattern":"^func","path":"sub"}`), false, "sub/b.go:1:")
	res = runTool(t, ctx, cfg, "search", `{"pattern":"Foo","max_results":2}`)
	want(t, "search max", res, false, "(stopped at 2 matches")
	if strings.Count(res.Content, "\n") != 3 {
		t.Errorf("search max_results 2 = %q", res.Content)
	}
	want(t, "search none", runTool(t, ctx, cfg, "search", `{"pattern":"nothing here"}`), false, "no matches")
	want(t, "search bad re", runTool(t, ctx, cfg, "search", `{"pattern":"("}`), true, "bad pattern")
	want(t, "search no re", runTool(t, ctx, cfg, "search", `{}`), true, "pattern is required")
	want(t, "search big max", runTool(t, ctx, cfg, "search", `{"pattern":"x","max_results":5000}`), true, "outside [1, 1000]")
	want(t, "search missing", runTool(t, ctx, cfg, "search", `{"pattern":"x","path":"zz"}`), true, "no such file")
	want(t, "search escape", runTool(t, ctx, cfg, "search", `{"pattern":"x","path":"../"}`), true, "outside the workspace")
	want(t, "search args", runTool(t, ctx, cfg, "search", `{"pattern":1}`), true, "bad arguments")

	// The time limit stops a search and says so.
	ws := &workspace{dir: dir, maxFileSize: DefaultMaxFileSize, searchLimit: time.Nanosecond}
	out, err := searchTool(ctx, ws, []byte(`{"pattern":"Foo"}`))
	if err != nil || !strings.Contains(out, "search stopped after 1ns") {
		t.Errorf("search with no time = %q, %v", out, err)
	}
	// A canceled call is an error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := searchTool(cctx, &workspace{dir: dir}, []byte(`{"pattern":"Foo"}`)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled search: %v", err)
	}
}

// TestEscapes: paths that lead out of the workspace are refused by every
// file tool, with a message that says so.
func TestEscapes(t *testing.T) {
	cfg, dir := newWorkspace(t)
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret": "SECRET"})
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "abs-link")); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, filepath.Join(outside, "secret"))
	os.Symlink(rel, filepath.Join(dir, "rel-link"))
	os.Symlink(outside, filepath.Join(dir, "dir-link"))
	ctx := context.Background()
	for _, p := range []string{"../x", "a/../../x", "/etc/passwd", "abs-link", "rel-link", "dir-link/secret"} {
		for _, tc := range []struct{ tool, args string }{
			{"read_file", jsonArgs(map[string]any{"path": p})},
			{"write_file", jsonArgs(map[string]any{"path": p, "content": "pwned"})},
			{"edit_file", jsonArgs(map[string]any{"path": p, "old": "SECRET", "new": "pwned"})},
			{"list_dir", jsonArgs(map[string]any{"path": p})},
		} {
			res := runTool(t, ctx, cfg, tc.tool, tc.args)
			if !res.IsError || !(strings.Contains(res.Content, "outside the workspace") || strings.Contains(res.Content, "is absolute")) {
				t.Errorf("%s %s = %+v, want it refused", tc.tool, tc.args, res)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "SECRET" {
		t.Fatalf("outside file changed: %q", b)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Fatalf("outside dir holds %v", ents)
	}
}

// TestSymlinkSwap: a symbolic link swapped between a directory inside
// the workspace and one outside while read_file and write_file run never
// lets them read or write outside.
func TestSymlinkSwap(t *testing.T) {
	cfg, dir := newWorkspace(t)
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"f": "SECRET"})
	writeFiles(t, dir, map[string]string{"in/f": "inside"})
	link := filepath.Join(dir, "link")
	os.Symlink("in", link)
	stop := make(chan struct{})
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		targets := []string{outside, "in"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := link + ".new"
			os.Remove(tmp)
			if err := os.Symlink(targets[i%2], tmp); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, link); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	ctx := context.Background()
	var reads, writes int
	for range 300 {
		res := runTool(t, ctx, cfg, "read_file", `{"path":"link/f"}`)
		if strings.Contains(res.Content, "SECRET") {
			t.Fatalf("read_file read outside: %q", res.Content)
		}
		if !res.IsError {
			reads++
		}
		res = runTool(t, ctx, cfg, "write_file", `{"path":"link/g","content":"pwned"}`)
		if !res.IsError {
			writes++
		}
	}
	close(stop)
	<-swapped
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Fatalf("write_file wrote outside: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "f")); string(b) != "SECRET" {
		t.Fatalf("outside file changed: %q", b)
	}
	t.Logf("%d reads and %d writes got through (inside), the rest were refused", reads, writes)
}

func TestToolDispatch(t *testing.T) {
	ctx := context.Background()
	noWS, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want(t, "no workspace", runTool(t, ctx, noWS, "read_file", `{"path":"x"}`), true, noWorkspace)
	want(t, "unknown", runTool(t, ctx, noWS, "frob", `{}`), true, `no tool named "frob"`, "edit_file, list_dir, read_file, run_command, search, write_file")
	want(t, "echo off", runTool(t, ctx, noWS, "echo", `{}`), true, `no tool named "echo"`)
	noWS.DebugTools = true
	want(t, "echo on", runTool(t, ctx, noWS, "echo", `{"a":1}`), false, `{"a":1}`)
	want(t, "unknown, debug", runTool(t, ctx, noWS, "frob", `{}`), true, "echo, edit_file", "sleep")

	// A payload that is not a ToolCall is an Error frame.
	var rec toolRecorder
	ToolHandler(noWS).ServeFrame(ctx, &rec, &Request{Payload: []byte{1, 2, 3}})
	if rec.errCode != protocol.ErrCodeMalformed {
		t.Errorf("malformed ToolCall: %+v", rec)
	}
	// A canceled call is a Canceled Error frame.
	cfg, _ := newWorkspace(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	rec = toolRecorder{}
	ToolHandler(cfg).ServeFrame(cctx, &rec, &Request{Payload: protocol.Marshal(&protocol.ToolCall{Name: "list_dir", Arguments: "{}"})})
	if rec.errCode != protocol.ErrCodeCanceled {
		t.Errorf("canceled call: %+v", rec)
	}

	for _, args := range []string{``, `[]`, `null`, `"x"`, `{} {}`, `{"path":"a"} x`, `{"path":`} {
		res := runTool(t, ctx, cfg, "list_dir", args)
		want(t, "list_dir "+args, res, true, "list_dir: ")
	}

	// ToolHandler outside New applies the defaults itself.
	h := ToolHandler(Config{Workspace: cfg.Workspace})
	rec = toolRecorder{}
	h.ServeFrame(ctx, &rec, &Request{Payload: protocol.Marshal(&protocol.ToolCall{Name: "list_dir", Arguments: "{}"})})
	if rec.typ != protocol.MsgToolResult {
		t.Errorf("ToolHandler with zero limits: %+v", rec)
	}

	// A workspace that is gone is an error of every call.
	gone := Config{Workspace: filepath.Join(t.TempDir(), "gone")}
	want(t, "gone", runTool(t, ctx, gone, "list_dir", `{}`), true, "cannot open the workspace")
}

func TestWorkspaceConfig(t *testing.T) {
	for _, c := range []Config{
		{Workspace: filepath.Join(t.TempDir(), "missing")},
		{MaxFileSize: -1},
		{ToolTimeout: -time.Second},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
	wd, _ := os.Getwd()
	t.Chdir(t.TempDir())
	os.Mkdir("ws", 0o755)
	srv, err := New(Config{Workspace: "ws", SocketPath: filepath.Join(wd, "unused.sock")})
	if err != nil {
		t.Fatal(err)
	}
	if ws := srv.Config().Workspace; !filepath.IsAbs(ws) || filepath.Base(ws) != "ws" {
		t.Errorf("Workspace = %q, want it absolute", ws)
	}
}

// TestWorkspaceServed: a server with a workspace serves the tools to a
// client.
func TestWorkspaceServed(t *testing.T) {
	dir := t.TempDir()
	srv := testServer(t, Config{Workspace: dir})
	cl := dial(t, srv)
	ctx := context.Background()
	res, err := cl.CallTool(ctx, &protocol.ToolCall{ID: "w", Name: "write_file", Arguments: `{"path":"a/b.txt","content":"served"}`})
	if err != nil || res.IsError {
		t.Fatalf("write_file = %+v, %v", res, err)
	}
	res, err = cl.CallTool(ctx, &protocol.ToolCall{ID: "r", Name: "read_file", Arguments: `{"path":"a/b.txt"}`})
	if err != nil || res.IsError || res.Content != "served" || res.CallID != "r" {
		t.Fatalf("read_file = %+v, %v", res, err)
	}
}

// TestWriteSymlink: write_file does not write through a symbolic link,
// and says where it points.
func TestWriteSymlink(t *testing.T) {
	cfg, dir := newWorkspace(t)
	writeFiles(t, dir, map[string]string{"target": "x"})
	os.Symlink("target", filepath.Join(dir, "link"))
	want(t, "write link", runTool(t, context.Background(), cfg, "write_file", `{"path":"link","content":"y"}`), true,
		"link is a symbolic link (to target); give the path of the file it points to")
	want(t, "edit link", runTool(t, context.Background(), cfg, "edit_file", `{"path":"link","old":"x","new":"y"}`), true, "symbolic link")
	if b, _ := os.ReadFile(filepath.Join(dir, "target")); string(b) != "x" {
		t.Errorf("target = %q", b)
	}
}

// FuzzToolArgs: arbitrary bytes as the arguments of every tool never
// panic, and always get a ToolResult. run_command allows nothing here, so
// nothing runs; the file tools work in a scratch workspace.
func FuzzToolArgs(f *testing.F) {
	names := []string{"read_file", "write_file", "edit_file", "list_dir", "search", "run_command"}
	for i, seed := range []string{
		`{"path":"a.txt"}`, `{"path":"a.txt","start_line":1,"end_line":2}`, `{"path":"b","content":"x"}`,
		`{"path":"a.txt","old":"a","new":"b"}`, `{"path":"."}`, `{"pattern":"a+","max_results":3}`,
		`{"argv":["sh","-c","true"],"timeout_ms":10}`, `{"path":"../x"}`, `{`, `null`, `[]`, "",
		`{"path":"a.txt","start_line":1e99}`, `{"pattern":"(?i)\u0000"}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	cfg, dir := newWorkspace(f)
	writeFiles(f, dir, map[string]string{"a.txt": "abc\ndef\n"})
	f.Fuzz(func(t *testing.T, which uint8, args []byte) {
		name := names[int(which)%len(names)]
		runTool(t, context.Background(), cfg, name, string(args))
	})
}
