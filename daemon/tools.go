package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// Defaults of the workspace tools' limits (Config fields of the same
// names).
const (
	// DefaultMaxFileSize is the largest file read_file and edit_file read.
	DefaultMaxFileSize = 1 << 20
	// DefaultToolTimeout bounds a tool call whose ToolCall.TimeoutMS is 0.
	DefaultToolTimeout = 60 * time.Second
)

// Fixed limits of the workspace tools.
const (
	maxDirEntries     = 1000             // list_dir lists at most this many entries
	defaultMaxResults = 100              // search results unless max_results says otherwise
	maxSearchResults  = 1000             // the most max_results may ask for
	searchTimeLimit   = 10 * time.Second // a search stops after this long
	maxMatchLine      = 300              // a matching line is cut to this many bytes
	maxCommandOutput  = 256 << 10        // run_command keeps this much of stdout+stderr
	defaultCmdTimeout = 30 * time.Second // run_command's timeout_ms unless given
)

// noWorkspace is the message of a workspace tool when none is configured.
const noWorkspace = "no workspace configured (ringwired -workspace DIR)"

// toolFunc runs one tool on its decoded-later arguments and returns the
// result's content, or an error whose text is the content of an IsError
// result.
type toolFunc func(ctx context.Context, ws *workspace, args []byte) (string, error)

// workspaceTools are the tools served on Config.Workspace, by name.
var workspaceTools = map[string]toolFunc{
	"read_file":   readFileTool,
	"write_file":  writeFileTool,
	"edit_file":   editFileTool,
	"list_dir":    listDirTool,
	"search":      searchTool,
	"run_command": runCommandTool,
}

// toolNames lists the served tools, sorted, for error messages.
func toolNames(debug bool) string {
	names := make([]string, 0, len(workspaceTools)+2)
	for n := range workspaceTools {
		names = append(names, n)
	}
	if debug {
		names = append(names, "echo", "sleep")
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// ToolHandler returns the Handler for ToolCall requests served by a
// server of cfg: the workspace tools on cfg.Workspace
// (see README.md, "Tools") and, with cfg.DebugTools, "echo" and "sleep".
// A tool's failure, an unknown tool and a call that runs out of time are
// ToolResults with IsError set; only a payload that is not a ToolCall
// gets a Malformed Error frame, and a call canceled by the client or the
// server a Canceled one.
func ToolHandler(cfg Config) Handler {
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.ToolTimeout <= 0 {
		cfg.ToolTimeout = DefaultToolTimeout
	}
	var ws *workspace
	if cfg.Workspace != "" {
		ws = &workspace{
			dir:         cfg.Workspace,
			allow:       slices.Clone(cfg.AllowCommands),
			maxFileSize: cfg.MaxFileSize,
		}
	}
	return HandlerFunc(func(ctx context.Context, w ResponseWriter, r *Request) {
		var tc protocol.ToolCall
		if err := tc.Unmarshal(r.Payload); err != nil {
			_ = w.Error(protocol.ErrCodeMalformed, err.Error(), false)
			return
		}
		var tm *toolMetrics
		var start int64
		if m, _ := metricsOf(w); m != nil {
			tm, start = m.tool(tc.Name), monoNow()
		}
		if cfg.DebugTools && (tc.Name == "echo" || tc.Name == "sleep") {
			outcome := debugTool(ctx, w, &tc)
			if tm != nil {
				tm.done(outcome, start)
			}
			return
		}
		res := protocol.ToolResult{CallID: tc.ID}
		fn := workspaceTools[tc.Name]
		switch {
		case fn == nil:
			res.Content, res.IsError = fmt.Sprintf("no tool named %q (tools: %s)", tc.Name, toolNames(cfg.DebugTools)), true
		case ws == nil:
			res.Content, res.IsError = noWorkspace, true
		default:
			timeout := cfg.ToolTimeout
			if tc.TimeoutMS > 0 {
				timeout = time.Duration(tc.TimeoutMS) * time.Millisecond
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			content, err := fn(cctx, ws, []byte(tc.Arguments))
			cancel()
			if ctx.Err() != nil {
				_ = w.Error(protocol.ErrCodeCanceled, "canceled", false)
				if tm != nil {
					tm.done(toolCanceled, start)
				}
				return
			}
			res.Content = content
			if err != nil {
				res.IsError = true
				if errors.Is(err, context.DeadlineExceeded) && cctx.Err() != nil {
					err = fmt.Errorf("%s: timed out after %v (ToolCall.TimeoutMS raises the limit)", tc.Name, timeout)
				}
				res.Content = err.Error()
				if content != "" {
					res.Content = content + "\n" + err.Error()
				}
			}
		}
		if tm != nil {
			outcome := toolOK
			if res.IsError {
				outcome = toolError
			}
			tm.done(outcome, start)
		}
		_ = w.Respond(protocol.MsgToolResult, encodeMsg(nil, &res))
	})
}

// debugTool serves the test tools of Config.DebugTools: "echo" returns
// its arguments; "sleep" waits for the number of milliseconds in its
// arguments (for cancellation tests). Their bad input gets Error frames.
// It returns the call's outcome for the metrics.
func debugTool(ctx context.Context, w ResponseWriter, tc *protocol.ToolCall) int {
	if tc.Name == "sleep" {
		d, err := time.ParseDuration(strings.TrimSpace(tc.Arguments) + "ms")
		if err != nil || d < 0 || d > time.Minute {
			_ = w.Error(protocol.ErrCodeInvalidArgument, "sleep wants a number of milliseconds up to 60000", false)
			return toolError
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			_ = w.Error(protocol.ErrCodeCanceled, "canceled", false)
			return toolCanceled
		}
	}
	res := protocol.ToolResult{CallID: tc.ID, Content: tc.Arguments}
	_ = w.Respond(protocol.MsgToolResult, encodeMsg(nil, &res))
	return toolOK
}

// decodeArgs decodes a tool's arguments, a JSON object, into v strictly:
// an unknown field, a value of the wrong type or anything after the
// object is an error naming the tool.
func decodeArgs(tool string, args []byte, v any) error {
	if len(bytes.TrimSpace(args)) == 0 || bytes.TrimSpace(args)[0] != '{' {
		return fmt.Errorf("%s: arguments must be a JSON object, got %q", tool, abbrev(string(args), 60))
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: bad arguments: %v", tool, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: bad arguments: text after the JSON object", tool)
	}
	return nil
}

// abbrev cuts s to at most n bytes, marking the cut.
func abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// checkWorkspace checks at New that a configured workspace is a
// directory that can be opened as an os.Root.
func checkWorkspace(dir string) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("%w: workspace: %v", ErrConfig, err)
	}
	return r.Close()
}
