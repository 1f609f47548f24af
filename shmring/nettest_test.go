//go:build linux

package shmring

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/net/nettest"
)

// TestNetConn checks the whole net.Conn contract with the standard
// library's conformance suite.
func TestNetConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		path := filepath.Join(t.TempDir(), "d", "s.sock")
		ln, err := Listen(path)
		if err != nil {
			return nil, nil, nil, err
		}
		type res struct {
			c   *Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			c, err := ln.AcceptConn()
			ch <- res{c, err}
		}()
		d, err := Dial(context.Background(), path)
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		r := <-ch
		if r.err != nil {
			d.Close()
			ln.Close()
			return nil, nil, nil, r.err
		}
		stop = func() {
			d.Close()
			r.c.Close()
			ln.Close()
		}
		return d, r.c, stop, nil
	})
}
