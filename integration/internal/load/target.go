package load

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// Target is one transport to a server, over a fixed number of
// connections: what a cell sends its requests through.
type Target interface {
	// Do sends op on connection conn (taken modulo the number of
	// connections) and waits for the whole answer. A failure in the
	// server's handler is ErrHandler; a wrong answer ErrWrongAnswer.
	Do(ctx context.Context, conn int, op *Op) error
	// Close closes every connection.
	Close() error
}

// Ringwire is a Target over ringwire's client, one client.Client (with
// one connection) per connection, on the shared-memory or the socket
// transport.
type Ringwire struct {
	clients []*client.Client
}

// DialRingwire connects conns clients to the daemon on socket over
// transport tr.
func DialRingwire(ctx context.Context, socket string, tr protocol.Transport, conns int) (*Ringwire, error) {
	r := &Ringwire{}
	for range max(conns, 1) {
		cl, err := client.Dial(ctx, socket, client.WithTransport(tr))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("load: dial %v: %w", tr, err)
		}
		r.clients = append(r.clients, cl)
	}
	return r, nil
}

// Do sends op; see Target.
func (r *Ringwire) Do(ctx context.Context, conn int, op *Op) error {
	cl := r.clients[conn%len(r.clients)]
	switch op.Kind {
	case OpPing:
		_, err := cl.Ping(ctx)
		return ringwireErr(err)
	case OpComplete:
		chunks, final := 0, false
		for ch, err := range cl.CompleteStream(ctx, op.Complete) {
			if err != nil {
				return ringwireErr(err)
			}
			chunks++
			final = ch.Final
		}
		if !final || chunks < 2 {
			return fmt.Errorf("%w: stream of %d chunks, final %v", ErrWrongAnswer, chunks, final)
		}
		return nil
	case OpTool:
		res, err := cl.CallTool(ctx, op.Tool)
		if err != nil {
			return ringwireErr(err)
		}
		return CheckTool(op, len(res.Content), res.IsError, res.Content)
	}
	return fmt.Errorf("load: unknown op %v", op.Kind)
}

// ringwireErr marks the daemon's Error answers as handler failures.
func ringwireErr(err error) error {
	if pe := (*protocol.Error)(nil); errors.As(err, &pe) {
		return fmt.Errorf("%w: %w", ErrHandler, err)
	}
	return err
}

// Close closes every client.
func (r *Ringwire) Close() error {
	var errs []error
	for _, cl := range r.clients {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}
