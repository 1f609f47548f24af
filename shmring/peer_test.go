//go:build linux

package shmring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

var hostileModes = []string{
	"prod", "unaligned", "backwards", "len", "kind", "reserved", "pad",
	"frag", "fraglen", "fragshort", "toolarge", "cons", "socket",
}

// runHostile (child side) opens a good and a bad connection, then corrupts
// the bad one in the way mode says, once the parent says "go". It checks
// that the good one still works afterwards.
func runHostile(t *testing.T, path, mode string) {
	ctx := context.Background()
	good, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.WriteMsg([]byte("good")); err != nil {
		t.Fatal(err)
	}
	bad, err := Dial(ctx, path, WithRingSize(MinRingSize))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.WriteMsg([]byte("bad")); err != nil {
		t.Fatal(err)
	}
	if m, err := bad.ReadMsg(nil); err != nil || string(m) != "go" {
		t.Fatalf("waiting for go: %q %v", m, err)
	}
	p := &bad.tx.producer
	hdr := func(n uint64, kind uint8, extra uint64) {
		binary.LittleEndian.PutUint64(p.data[p.pos&p.mask:], n|uint64(kind)<<32|extra)
	}
	switch mode {
	case "prod":
		p.prod.Store(p.pos + 1<<40)
	case "unaligned":
		p.prod.Store(p.pos + 3)
	case "backwards":
		p.prod.Store(0)
	case "len":
		hdr(0xfffff0, kindMsg, 0)
		p.prod.Store(p.pos + 16)
	case "kind":
		hdr(0, 9, 0)
		p.prod.Store(p.pos + 8)
	case "reserved":
		hdr(0, kindMsg, 1<<50)
		p.prod.Store(p.pos + 8)
	case "pad":
		hdr(8, kindPad, 0)
		p.prod.Store(p.pos + 16)
	case "frag":
		hdr(8, kindMore, 0)
		p.prod.Store(p.pos + 16)
	case "fraglen", "fragshort", "toolarge":
		total := map[string]uint64{"fraglen": 10, "fragshort": 100, "toolarge": 1 << 40}[mode]
		hdr(8+16, kindFirst, 0)
		binary.LittleEndian.PutUint64(p.data[p.pos&p.mask+8:], total)
		p.pos += 32
		if mode == "fragshort" {
			hdr(8, kindLast, 0)
			p.pos += 16
		}
		p.prod.Store(p.pos)
	case "cons":
		bad.rx.cons.Store(1 << 50)
	case "socket":
		if _, err := bad.sock.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	bad.txSignal.ring() // a parked parent would otherwise wait forever
	bad.rxSignal.ring()
	<-bad.Done() // the parent drops the connection
	var buf []byte
	for {
		buf, err = good.ReadMsg(buf)
		if err != nil {
			return
		}
		if err := good.WriteMsg(buf); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostilePeer: a peer scribbling over positions, record headers or the
// socket gets its own connection closed with ErrCorrupt (or ErrTooLarge);
// this process does not crash and keeps serving its other connection.
func TestHostilePeer(t *testing.T) {
	for _, mode := range hostileModes {
		t.Run(mode, func(t *testing.T) {
			path := sockPath(t)
			ln, err := Listen(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ch := startChild(t, "hostile", path, "SHMRING_MODE="+mode)
			defer func() {
				if t.Failed() {
					ch.kill()
					t.Logf("child output:\n%s", ch.out.String())
				}
			}()
			var good, bad *Conn
			for range 2 {
				c := acceptOne(t, ln)
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				m, err := c.ReadMsg(nil)
				if err != nil {
					t.Fatal(err)
				}
				if string(m) == "good" {
					good = c
				} else {
					bad = c
				}
			}
			if err := bad.WriteMsg([]byte("go")); err != nil {
				t.Fatal(err)
			}
			if mode == "cons" {
				msg := make([]byte, 100)
				for err == nil {
					err = bad.WriteMsg(msg)
				}
			} else {
				for err == nil {
					_, err = bad.ReadMsg(nil)
				}
			}
			want := ErrCorrupt
			if mode == "toolarge" {
				want = ErrTooLarge
			}
			if !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
			t.Logf("%s: %v", mode, err)
			select {
			case <-bad.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("Done not closed")
			}
			if !errors.Is(bad.Err(), want) {
				t.Errorf("Err() = %v", bad.Err())
			}
			if err := bad.WriteMsg([]byte("x")); !errors.Is(err, want) {
				t.Errorf("write after failure: %v", err)
			}
			if err := good.WriteMsg([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if m, err := good.ReadMsg(nil); err != nil || string(m) != "ping" {
				t.Fatalf("good connection after the bad one failed: %q %v", m, err)
			}
			good.Close()
			ch.wait(t)
		})
	}
}

// TestPeerKilled: a peer killed with SIGKILL is noticed at once, whether
// this side is spinning through data, parked reading, or blocked writing.
func TestPeerKilled(t *testing.T) {
	for _, tc := range []struct{ name, role string }{
		{"reader-streaming", "stream"},
		{"reader-parked", "idle"},
		{"writer-blocked", "idle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sockPath(t)
			ln, err := Listen(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ch := startChild(t, tc.role, path, fmt.Sprintf("SHMRING_RING=%d", 64<<10))
			c := acceptOne(t, ln)
			defer c.Close()
			if _, err := c.ReadMsg(nil); err != nil {
				t.Fatal(err)
			}
			var killed time.Time
			var mu sync.Mutex
			go func() {
				time.Sleep(50 * time.Millisecond)
				mu.Lock()
				killed = time.Now()
				mu.Unlock()
				ch.kill()
			}()
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			var buf []byte
			msg := make([]byte, 1000)
			for err == nil {
				if tc.name == "writer-blocked" {
					err = c.WriteMsg(msg)
				} else {
					buf, err = c.ReadMsg(buf)
				}
			}
			at := time.Now()
			mu.Lock()
			delay := at.Sub(killed)
			mu.Unlock()
			if !errors.Is(err, ErrPeerGone) {
				t.Fatalf("got %v, want ErrPeerGone", err)
			}
			t.Logf("peer death noticed %v after SIGKILL (%v)", delay, err)
			if delay > 5*time.Second {
				t.Errorf("peer death took %v to notice", delay)
			}
			if !errors.Is(c.Err(), ErrPeerGone) {
				t.Errorf("Err() = %v", c.Err())
			}
		})
	}
}

// TestNoLostWakeups counts: with spinning disabled, every wait parks, and
// a lost wake-up would leave a call blocked until its deadline. Many
// round trips and a backpressured stream through 4 KiB rings must all
// complete. (The race detector cannot see shared memory.)
func TestNoLostWakeups(t *testing.T) {
	rounds, stream := 20_000, 100_000
	if raceEnabled {
		rounds, stream = 5_000, 30_000
	}
	if stress() {
		rounds, stream = 500_000, 5_000_000
	}
	path := sockPath(t)
	ln, err := Listen(path, WithSpin(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := startChild(t, "echo", path, "SHMRING_SPIN=0s", fmt.Sprintf("SHMRING_RING=%d", MinRingSize))
	c := acceptOne(t, ln)
	defer c.Close()
	fail := func(what string, i int, err error) {
		t.Logf("state at failure: stats %+v", c.Stats())
		t.Logf("state at failure: tx prod=%d cons=%d consParked=%d prodParked=%d pos=%d consSeen=%d", c.tx.prod.Load(), c.tx.cons.Load(), c.tx.consParked.Load(), c.tx.prodParked.Load(), c.tx.pos, c.tx.consSeen)
		t.Logf("state at failure: rx prod=%d cons=%d consParked=%d prodParked=%d pos=%d released=%d prodSeen=%d frag=%v", c.rx.prod.Load(), c.rx.cons.Load(), c.rx.consParked.Load(), c.rx.prodParked.Load(), c.rx.pos, c.rx.released, c.rx.prodSeen, c.rx.fragging)
		ch.kill()
		t.Fatalf("%s %d: %v (a lost wake-up shows as a timeout)\nchild:\n%s", what, i, err, ch.out.String())
	}
	var msg [8]byte
	var buf []byte
	for i := range rounds {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		binary.LittleEndian.PutUint64(msg[:], uint64(i))
		if err := c.WriteMsg(msg[:]); err != nil {
			fail("ping", i, err)
		}
		if buf, err = c.ReadMsg(buf); err != nil || binary.LittleEndian.Uint64(buf) != uint64(i) {
			fail("pong", i, err)
		}
	}
	pp := c.Stats()
	errc := make(chan error, 1)
	go func() {
		big := make([]byte, 3000)
		for i := range stream {
			n := 8 + int(mix(uint64(i))%uint64(len(big)-8))
			binary.LittleEndian.PutUint64(big, uint64(i))
			if err := c.WriteMsg(big[:n]); err != nil {
				errc <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		errc <- nil
	}()
	for i := range stream {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if buf, err = c.ReadMsg(buf); err != nil || binary.LittleEndian.Uint64(buf) != uint64(i) {
			fail("stream", i, err)
		}
	}
	if err := <-errc; err != nil {
		fail("stream writer", 0, err)
	}
	st := c.Stats()
	t.Logf("%d round trips: %d parks, %d wake-ups sent; stream of %d: %d parks, %d wake-ups",
		rounds, pp.Parks, pp.Wakeups, stream, st.Parks-pp.Parks, st.Wakeups-pp.Wakeups)
	if st.Parks == 0 {
		t.Error("no call parked: the test did not exercise wake-ups")
	}
	c.Close()
	ch.wait(t)
}

// TestLeaks: dial/close cycles leave the fd table and mappings as they were.
func TestLeaks(t *testing.T) {
	n := 10_000
	if raceEnabled || testing.Short() {
		n = 2_000
	}
	path := sockPath(t)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	closed := make(chan struct{})
	go func() {
		defer wg.Done()
		for {
			c, err := ln.AcceptConn()
			if err != nil {
				return
			}
			_, _ = c.ReadMsg(nil)
			c.Close()
			closed <- struct{}{}
		}
	}()
	cycle := func() {
		c, err := Dial(context.Background(), path, WithRingSize(MinRingSize))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.WriteMsg([]byte("x"))
		if _, err := c.ReadMsg(nil); !errors.Is(err, io.EOF) {
			t.Fatalf("read after peer close: %v", err)
		}
		c.Close()
		<-closed // the listener's side is fully closed too
	}
	for range 20 {
		cycle()
	}
	fds, maps, segs := countFDs(t), countMaps(t), countSegments(t)
	start := time.Now()
	for range n {
		cycle()
	}
	fds2, maps2, segs2 := countFDs(t), countMaps(t), countSegments(t)
	t.Logf("%d cycles in %v: fds %d → %d, maps lines %d → %d, segment mappings %d → %d",
		n, time.Since(start), fds, fds2, maps, maps2, segs, segs2)
	if segs2 > segs {
		t.Errorf("segment mappings leaked: %d → %d", segs, segs2)
	}
	if fds2 > fds {
		t.Errorf("fd leak: %d → %d", fds, fds2)
	}
	// The Go heap may map a few more arenas; the race detector's shadow
	// memory many more.
	if !raceEnabled && maps2 > maps+8 {
		t.Errorf("mapping leak: %d → %d lines", maps, maps2)
	}
	ln.Close()
	wg.Wait()
	_ = os.Getpid()
}
