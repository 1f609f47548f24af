package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// Example shows a session with a running ringwired: Dial its default
// socket, a one-shot Complete, then a streamed completion. It needs a live
// daemon, so it is compiled but not run by `go test`.
func Example() {
	ctx := context.Background()
	cl, err := client.Dial(ctx, shmring.DefaultSocketPath())
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	req := &protocol.CompletionRequest{
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: "hello ringwire"}},
	}
	resp, err := cl.Complete(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("complete:", resp.Content)

	for chunk, err := range cl.CompleteStream(ctx, req) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(chunk.Delta)
		if chunk.Final {
			fmt.Printf("\n(finish: %v)\n", chunk.FinishReason)
		}
	}
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

// ExampleClient_Do pipelines calls to a running ringwired: the batch's
// requests go out together and its answers come back in one round trip,
// each to its call. It needs a live daemon, so it is compiled but not run.
func ExampleClient_Do() {
	ctx := context.Background()
	cl, err := client.Dial(ctx, shmring.DefaultSocketPath())
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	var b client.Batch
	for _, path := range []string{"a.go", "b.go", "c.go"} {
		b.AddMsg(&protocol.ToolCall{ID: path, Name: "read_file", Arguments: `{"path":"` + path + `"}`})
	}
	if err := cl.Do(ctx, &b); err != nil {
		log.Fatal(err)
	}
	for i := range b.Len() {
		_, payload, err := b.Result(i)
		var res protocol.ToolResult
		if err == nil {
			err = res.Unmarshal(payload)
		}
		fmt.Println(res.CallID, len(res.Content), err)
	}
}
