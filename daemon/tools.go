package daemon

import (
	"context"
	"strings"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// echoTool is the built-in ToolCall handler until the workspace tools
// land: the tool "echo" returns its arguments; "sleep" waits for the
// number of milliseconds in its arguments (for cancellation tests); any
// other name is NotFound.
func echoTool(ctx context.Context, w ResponseWriter, r *Request) {
	var tc protocol.ToolCall
	if err := tc.Unmarshal(r.Payload); err != nil {
		_ = w.Error(protocol.ErrCodeMalformed, err.Error(), false)
		return
	}
	switch tc.Name {
	case "echo":
	case "sleep":
		d, err := time.ParseDuration(strings.TrimSpace(tc.Arguments) + "ms")
		if err != nil || d < 0 || d > time.Minute {
			_ = w.Error(protocol.ErrCodeInvalidArgument, "sleep wants a number of milliseconds up to 60000", false)
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			_ = w.Error(protocol.ErrCodeCanceled, "canceled", false)
			return
		}
	default:
		_ = w.Error(protocol.ErrCodeNotFound, "no tool named "+tc.Name, false)
		return
	}
	res := protocol.ToolResult{CallID: tc.ID, Content: tc.Arguments}
	_ = w.Respond(protocol.MsgToolResult, encodeMsg(nil, &res))
}
