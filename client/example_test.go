package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// Example shows a session with a daemon: Dial, a one-shot Complete, then a
// streamed completion. The daemon here is the package's in-test fake
// (client cannot import the real one), which answers with the words of
// the prompt.
func Example() {
	sock, stop := client.StartFakeDaemon()
	defer stop()

	ctx := context.Background()
	cl, err := client.Dial(ctx, sock)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()

	req := &protocol.CompletionRequest{
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: "hello ringwire"}},
	}
	resp, err := cl.Complete(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("complete:", resp.Content)

	fmt.Print("stream:")
	for chunk, err := range cl.CompleteStream(ctx, req) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf(" %q", chunk.Delta)
		if chunk.Final {
			fmt.Println(" (final)")
		}
	}
	// Output:
	// complete: hello ringwire
	// stream: "hello " "ringwire " "" (final)
}

// ExampleIsRetryable shows how a caller tells failures worth retrying
// apart: the client never retries by itself.
func ExampleIsRetryable() {
	dir, _ := os.MkdirTemp("", "rwex")
	defer os.RemoveAll(dir)
	_, err := client.Dial(context.Background(), filepath.Join(dir, "nobody-listens.sock"))
	fmt.Println(client.IsRetryable(err))
	// Output: true
}

// ExampleClient_Do pipelines calls: the batch's requests go out together
// and its answers come back in one round trip, each to its call.
func ExampleClient_Do() {
	sock, stop := client.StartFakeDaemon()
	defer stop()

	ctx := context.Background()
	cl, err := client.Dial(ctx, sock)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()

	var b client.Batch
	for _, path := range []string{"a.go", "b.go", "c.go"} {
		b.AddMsg(&protocol.ToolCall{ID: path, Name: "echo", Arguments: path})
	}
	if err := cl.Do(ctx, &b); err != nil {
		fmt.Println(err)
		return
	}
	for i := range b.Len() {
		_, payload, err := b.Result(i)
		var res protocol.ToolResult
		if err == nil {
			err = res.Unmarshal(payload)
		}
		fmt.Println(res.CallID, res.Content, err)
	}
	// Output:
	// a.go a.go <nil>
	// b.go b.go <nil>
	// c.go c.go <nil>
}
