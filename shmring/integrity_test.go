//go:build linux

package shmring

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
	"time"
)

// mix is a cheap 64-bit hash (splitmix64) for deterministic test data.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// genMsg appends message seq of sender side to buf[:0]: seq, side, CRC of
// the rest, then pseudo-random bytes. Sizes are mostly small; about one in
// 40 is fragmented (larger than a record of a 64 KiB ring).
func genMsg(buf []byte, side, seq uint64) []byte {
	h := mix(side<<56 ^ seq)
	size := 16 + int(h%300)
	switch {
	case h>>20%40 == 0:
		size = 16 + int(h>>8%(100<<10))
	case h>>20%41 == 0:
		size = 16
	}
	buf = append(buf[:0], make([]byte, size)...)
	binary.LittleEndian.PutUint64(buf[0:], seq)
	binary.LittleEndian.PutUint32(buf[8:], uint32(side))
	x := h
	for i := 16; i < size; i++ {
		if i%8 == 0 {
			x = mix(x)
		}
		buf[i] = byte(x >> (8 * (i % 8)))
	}
	binary.LittleEndian.PutUint32(buf[12:], crc32.ChecksumIEEE(buf[16:]))
	return buf
}

// pause sleeps now and then, so both sides see full and empty rings.
func pause(side, seq uint64) {
	if h := mix(seq ^ side<<60 ^ 0xabcdef); h%1009 == 0 {
		time.Sleep(time.Duration(h>>16%400) * time.Microsecond)
	}
}

// runIntegrity sends n messages and receives n from the peer concurrently,
// exercising every write and read API, and checks that nothing is lost,
// duplicated, reordered or damaged.
func runIntegrity(c *Conn, n int, side uint64) error {
	errc := make(chan error, 2)
	go func() { errc <- sendAll(c, n, side) }()
	go func() { errc <- recvAll(c, n, 3-side) }()
	var first error
	for range 2 {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func sendAll(c *Conn, n int, side uint64) error {
	var bufs [4][]byte
	ctx := context.Background()
	for seq := 0; seq < n; {
		pause(side, uint64(seq))
		msg := genMsg(bufs[0], side, uint64(seq))
		bufs[0] = msg
		switch seq % 4 {
		case 0:
			if err := c.WriteMsg(msg); err != nil {
				return fmt.Errorf("send %d: %w", seq, err)
			}
		case 1:
			k := min(3, n-seq)
			batch := make([][]byte, k)
			for i := range k {
				bufs[i] = genMsg(bufs[i], side, uint64(seq+i))
				batch[i] = bufs[i]
			}
			if w, err := c.WriteMsgs(batch); err != nil || w != k {
				return fmt.Errorf("send batch at %d: %d, %w", seq, w, err)
			}
			seq += k
			continue
		case 2:
			if len(msg) <= c.MaxRecord() {
				b, err := c.Reserve(len(msg) + 8)
				if err != nil {
					return fmt.Errorf("reserve %d: %w", seq, err)
				}
				copy(b, msg)
				if err := c.Commit(len(msg)); err != nil {
					return fmt.Errorf("commit %d: %w", seq, err)
				}
			} else if err := c.WriteMsg(msg); err != nil {
				return fmt.Errorf("send %d: %w", seq, err)
			}
		case 3:
			if err := c.WriteMsgContext(ctx, msg); err != nil {
				return fmt.Errorf("send %d: %w", seq, err)
			}
		}
		seq++
	}
	return nil
}

func recvAll(c *Conn, n int, side uint64) error {
	var want, buf []byte
	var batch [][]byte
	ctx := context.Background()
	check := func(seq int, got []byte) error {
		want = genMsg(want, side, uint64(seq))
		if !bytes.Equal(got, want) {
			gs := uint64(0)
			if len(got) >= 8 {
				gs = binary.LittleEndian.Uint64(got)
			}
			return fmt.Errorf("message %d from side %d: got %d bytes (seq %d), want %d bytes", seq, side, len(got), gs, len(want))
		}
		return nil
	}
	for seq := 0; seq < n; {
		pause(side+7, uint64(seq))
		var err error
		switch seq % 3 {
		case 0:
			buf, err = c.ReadMsg(buf)
			if err == nil {
				err = check(seq, buf)
			}
			seq++
		case 1:
			var m []byte
			if m, err = c.PeekContext(ctx); err == nil {
				err = check(seq, m)
				c.Release()
			}
			seq++
		case 2:
			if batch, err = c.PeekBatch(batch[:0]); err == nil {
				for _, m := range batch {
					if err == nil && seq < n {
						err = check(seq, m)
					}
					seq++
				}
				c.Release()
			}
		}
		if err != nil {
			return fmt.Errorf("receive %d: %w", seq, err)
		}
	}
	return nil
}

// TestIntegrityCrossProcess streams messages of random sizes both ways
// between this process and a child, with random pauses on both sides.
func TestIntegrityCrossProcess(t *testing.T) {
	n := 1_000_000
	if raceEnabled {
		n = 40_000
	}
	if stress() {
		n = 3_000_000
	}
	if testing.Short() {
		n = 5_000
	}
	path := sockPath(t)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	ch := startChild(t, "integrity", path, fmt.Sprintf("SHMRING_N=%d", n), "SHMRING_RING=65536")
	c := acceptOne(t, ln)
	defer c.Close()
	if err := runIntegrity(c, n, 1); err != nil {
		ch.kill()
		t.Fatalf("%v\nchild output:\n%s", err, ch.out.String())
	}
	ch.wait(t)
	if _, err := c.ReadMsg(nil); !errors.Is(err, io.EOF) {
		t.Errorf("after the child exited: %v, want io.EOF", err)
	}
	st := c.Stats()
	t.Logf("%d messages each way in %v; stats %+v", n, time.Since(start), st)
	if st.MsgsSent != uint64(n) || st.MsgsReceived != uint64(n) {
		t.Errorf("stats count %d sent, %d received, want %d", st.MsgsSent, st.MsgsReceived, n)
	}
}
