package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/client/internal/fakedaemon"
	"github.com/ringwire/ringwire/protocol"
)

// TestWalkthrough runs what the package examples show (they need a live
// daemon and are compile-only) against the fake daemon, which answers with
// the words of the prompt, and checks what they would print.
func TestWalkthrough(t *testing.T) {
	d, err := fakedaemon.Start(false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Remove()
	cl := dialFake(t, d)
	ctx := context.Background()

	r := &protocol.CompletionRequest{
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: "hello ringwire"}},
	}
	resp, err := cl.Complete(ctx, r)
	if err != nil || resp.Content != "hello ringwire" {
		t.Fatalf("Complete = %+v, %v", resp, err)
	}
	var deltas []string
	final := false
	for chunk, err := range cl.CompleteStream(ctx, r) {
		if err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, chunk.Delta)
		final = chunk.Final
	}
	if want := []string{"hello ", "ringwire ", ""}; !slices.Equal(deltas, want) || !final {
		t.Errorf("stream = %q (final %v), want %q", deltas, final, want)
	}

	var b Batch
	paths := []string{"a.go", "b.go", "c.go"}
	for _, p := range paths {
		b.AddMsg(&protocol.ToolCall{ID: p, Name: "echo", Arguments: p})
	}
	if err := cl.Do(ctx, &b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range b.Len() {
		_, payload, err := b.Result(i)
		var res protocol.ToolResult
		if err == nil {
			err = res.Unmarshal(payload)
		}
		got = append(got, fmt.Sprint(res.CallID, " ", res.Content, " ", err))
	}
	if want := "a.go a.go <nil>|b.go b.go <nil>|c.go c.go <nil>"; strings.Join(got, "|") != want {
		t.Errorf("batch = %q, want %q", got, want)
	}
}
