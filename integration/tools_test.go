package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// TestToolsEndToEnd: the real ringwired with -workspace serves the file
// tools to the real client, and refuses a path out of the workspace.
func TestToolsEndToEnd(t *testing.T) {
	ws := t.TempDir()
	sock := filepath.Join(socketDir(t), "d.sock")
	startDaemon(t, sock, "-workspace", ws, "-allow-command", "true,false")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	call := func(name, args string) *protocol.ToolResult {
		t.Helper()
		res, err := cl.CallTool(ctx, &protocol.ToolCall{ID: name, Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	if res := call("write_file", `{"path":"src/main.go","content":"package main\n\nfunc main() {}\n"}`); res.IsError {
		t.Fatalf("write_file: %s", res.Content)
	}
	if res := call("edit_file", `{"path":"src/main.go","old":"func main() {}","new":"func main() { println() }"}`); res.IsError {
		t.Fatalf("edit_file: %s", res.Content)
	}
	if res := call("read_file", `{"path":"src/main.go","start_line":3}`); res.IsError || res.Content != "func main() { println() }\n" {
		t.Fatalf("read_file = %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "src/main.go")); err != nil || !strings.Contains(string(b), "println") {
		t.Fatalf("file on disk = %q, %v", b, err)
	}
	if res := call("read_file", `{"path":"../../etc/passwd"}`); !res.IsError || !strings.Contains(res.Content, "outside the workspace") {
		t.Fatalf("escape = %+v", res)
	}
	if res := call("run_command", `{"argv":["false"]}`); !res.IsError || !strings.Contains(res.Content, "exit status 1") {
		t.Fatalf("run_command false = %+v", res)
	}
	if res := call("run_command", `{"argv":["sh","-c","true"]}`); !res.IsError || !strings.Contains(res.Content, `"sh" is not allowed (allowed: true, false;`) {
		t.Fatalf("run_command sh = %+v", res)
	}
}
