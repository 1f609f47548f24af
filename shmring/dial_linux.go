package shmring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Dial connects to the Listener at path and sets up a shared-memory
// connection: it checks the listener's uid (SO_PEERCRED), requests ring
// sizes, receives and validates the sealed memfd and the eventfds, and maps
// the segment. It honours ctx for the whole exchange.
//
// A listener refusing the connection makes Dial return a *RefusedError with
// the application's reason (errors.Is(err, ErrRefused)).
//
// Options: WithRingSize, WithMaxMessage, WithAllowUIDs,
// WithHandshakeTimeout, WithSpin.
func Dial(ctx context.Context, path string, opts ...Option) (*Conn, error) {
	cfg := buildConfig(opts)
	s, peer, err := dialUnix(ctx, path, cfg.allowUIDs)
	if err != nil {
		return nil, err
	}
	dl := time.Time{}
	if cfg.handshakeTimeout > 0 {
		dl = time.Now().Add(cfg.handshakeTimeout)
	}
	_ = s.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = s.SetDeadline(time.Unix(1, 0)) })
	c, err := dialSetup(s, peer, &cfg)
	if !stop() && err == nil {
		c.Close()
		c, err = nil, ctx.Err()
	}
	if err != nil {
		s.Close()
		if ctx.Err() != nil && !errors.Is(err, ErrRefused) {
			return nil, fmt.Errorf("shmring: dial: %w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	return c, nil
}

// dialSetup is the dialer's half of the setup exchange (SPEC.md).
// The listener's uid has been checked by dialUnix.
func dialSetup(s *net.UnixConn, peer PeerInfo, cfg *config) (*Conn, error) {
	req := uint32(roundRingSize(cfg.ringSize))
	if err := sendFull(s, hello{reqDialToListen: req, reqListenToDial: req}.append(nil), nil); err != nil {
		return nil, err
	}
	h, body, fds, err := recvMsg(s, msgAccept, msgRefuse)
	if err != nil {
		return nil, err
	}
	if h.typ == msgRefuse {
		closeFDs(fds)
		return nil, &RefusedError{Reason: body}
	}
	if len(fds) != acceptFDs {
		closeFDs(fds)
		return nil, fmt.Errorf("%w: accept carried %d descriptors, want %d", ErrCorrupt, len(fds), acceptFDs)
	}
	defer unix.Close(fds[0]) // the mapping outlives the memfd descriptor
	m, err := parseAcceptBody(body)
	if err != nil {
		closeFDs(fds[1:])
		return nil, err
	}
	mem, l, err := openSegment(fds[0], uint64(m.capDialToListen), uint64(m.capListenToDial))
	if err != nil {
		closeFDs(fds[1:])
		return nil, err
	}
	var files [4]*os.File
	ok := false
	defer func() {
		if !ok {
			for i, f := range files {
				if f != nil {
					f.Close()
				} else {
					_ = unix.Close(fds[1+i])
				}
			}
			_ = unix.Munmap(mem)
		}
	}()
	for i := range files {
		if files[i], err = adoptEventfd(fds[1+i]); err != nil {
			return nil, err
		}
	}
	if err := sendFull(s, appendReady(nil), nil); err != nil {
		return nil, err
	}
	_ = s.SetDeadline(time.Time{})
	// Dialer: reads ring 1 (l2d), writes ring 0 (d2l).
	c, err := newConn(s, mem, l, ringDialToListen, files[2], files[3], files[0], files[1], peer, cfg)
	if err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}
