// Package shmring is ringwire's shared-memory transport: single-producer,
// single-consumer byte rings in a sealed memfd, one ring each way, set up
// over a Unix socket that stays open as the liveness signal.
//
// A Listener (a net.Listener) creates the memfd and the eventfd doorbells
// for each dialer and passes them with SCM_RIGHTS; Dial validates and maps
// them. A waiting call spins briefly while spinning pays (WithWaitPolicy),
// then parks its goroutine in Go's netpoller on an eventfd: idle
// connections cost no OS thread, and a busy stream makes no system call per
// message. Stats counts spins that paid, spins that did not, and parks. A peer that writes impossible
// values into shared memory gets ErrCorrupt and its connection closed; a
// peer that dies is noticed at once through the socket (ErrPeerGone).
//
// A Conn is a net.Conn (a byte stream laid over records) with a message API
// beside it:
//
//	ln, err := shmring.Listen(shmring.DefaultSocketPath())
//	...
//	c, err := shmring.Dial(ctx, shmring.DefaultSocketPath())
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	if err := c.WriteMsg(frame); err != nil { // one message, fragmented if large
//		return err
//	}
//	buf, err = c.ReadMsg(buf[:0]) // the next whole message, copied into buf
//
// Zero-copy variants: Reserve/Commit write in place; Peek/Release read in
// place. SPEC.md describes the segment layout, the setup exchange and the
// wake-up protocol byte by byte. Only Linux is supported; elsewhere Listen
// and Dial return ErrUnsupported.
package shmring
