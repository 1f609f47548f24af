// Package client is the ringwire RPC client: it talks to a ringwire daemon
// (ringwired) over shared-memory rings, or over a Unix socket where shared
// memory is unavailable (WithTransport).
//
// A Client keeps a few connections (WithConns, managed by package pool),
// each multiplexing any number of concurrent calls; it is safe for
// concurrent use. Every call takes a context, and a context that ends sends
// Cancel to the daemon and returns at once. Streams (CompleteStream) are Go
// iterators with per-stream flow control, so a slow consumer never holds up
// other calls. A Batch pipelines calls: Do sends them back to back and
// waits for all their answers, one round trip for the lot.
//
// A dead daemon is noticed at once (the socket reaches EOF) or by
// heartbeats: calls in flight fail with ErrConnLost and calls made while it
// is down with ErrUnavailable; the client reconnects by itself on a later
// call but never retries a call (IsRetryable tells the caller whether it
// may).
//
// The daemon must run as the same user: on either transport the client
// checks the uid of the process listening on the socket and refuses
// another user's with ErrPeerUID.
//
// Command ringwirectl (cmd/ringwirectl) is a small debugging client built
// on this package: ping, stats and complete.
//
// Usage:
//
//	cl, err := client.Dial(ctx, socketPath)
//	if err != nil {
//		return err
//	}
//	defer cl.Close()
//	resp, err := cl.Complete(ctx, &protocol.CompletionRequest{
//		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: "hello"}},
//	})
//	for chunk, err := range cl.CompleteStream(ctx, req) {
//		if err != nil {
//			return err
//		}
//		fmt.Print(chunk.Delta)
//	}
package client
