//go:build linux

package shmring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks run across processes: the peer is this test binary
// re-executed (see startChild). Each shared-memory figure sits beside the
// same measurement over a plain Unix socket and beside the machine's floor.

// reportLatency reports p50 and p99 of the recorded round trips.
func reportLatency(b *testing.B, samples []int64) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2]), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100]), "p99-ns")
}

// BenchmarkFloor is the machine's floor: two goroutines locked to OS threads
// ping-ponging one cache line with atomics (ns/op is one round trip).
func BenchmarkFloor(b *testing.B) {
	var line atomic.Int64
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		for i := int64(1); ; i += 2 {
			for line.Load() != i {
				if line.Load() < 0 {
					return
				}
			}
			line.Store(i + 1)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	samples := make([]int64, 0, min(b.N, 1<<20))
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		v := int64(2*i + 1)
		line.Store(v)
		for line.Load() != v+1 {
		}
		if len(samples) < cap(samples) {
			samples = append(samples, int64(time.Since(t0)))
		}
	}
	b.StopTimer()
	line.Store(-1)
	<-done
	reportLatency(b, samples)
}

// shmPeer listens, starts a child in role and accepts its connection.
func shmPeer(b *testing.B, role string, ring int) (*Conn, func()) {
	path := sockPath(b)
	ln, err := Listen(path, WithMaxRingSize(ring))
	if err != nil {
		b.Fatal(err)
	}
	ch := startChild(b, role, path, fmt.Sprintf("SHMRING_RING=%d", ring))
	c := acceptOne(b, ln)
	return c, func() {
		c.Close()
		ln.Close()
		ch.wait(b)
	}
}

// udsPeer listens on a plain Unix socket and starts a child in role.
func udsPeer(b *testing.B, role string) (net.Conn, func()) {
	path := sockPath(b)
	if err := prepareDir(path[:len(path)-len("/s.sock")]); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	ch := startChild(b, role, path)
	c, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return c, func() {
		c.Close()
		ln.Close()
		ch.wait(b)
	}
}

// BenchmarkPingPong: round trip of one message to an echoing child process.
func BenchmarkPingPong(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("shm/%dB", size), func(b *testing.B) {
			c, stop := shmPeer(b, "echo", DefaultRingSize)
			defer stop()
			msg := make([]byte, size)
			buf := make([]byte, 0, size)
			samples := make([]int64, 0, min(b.N, 1<<20))
			for range 1000 { // warm up both sides
				_ = c.WriteMsg(msg)
				buf, _ = c.ReadMsg(buf)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := c.WriteMsg(msg); err != nil {
					b.Fatal(err)
				}
				var err error
				if buf, err = c.ReadMsg(buf); err != nil || len(buf) != size {
					b.Fatal(err)
				}
				if len(samples) < cap(samples) {
					samples = append(samples, int64(time.Since(t0)))
				}
			}
			b.StopTimer()
			reportLatency(b, samples)
			st := c.Stats()
			b.ReportMetric(float64(st.Parks)/float64(b.N+1000), "parks/op")
			b.ReportMetric(float64(st.Unstacks)/float64(b.N+1000), "unstacks/op")
		})
		b.Run(fmt.Sprintf("uds/%dB", size), func(b *testing.B) {
			c, stop := udsPeer(b, "uds-echo")
			defer stop()
			msg := make([]byte, size)
			buf := make([]byte, size)
			samples := make([]int64, 0, min(b.N, 1<<20))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				if len(samples) < cap(samples) {
					samples = append(samples, int64(time.Since(t0)))
				}
			}
			b.StopTimer()
			reportLatency(b, samples)
		})
	}
}

// BenchmarkStream: one-way stream of messages to a child that counts them
// (reading zero-copy with PeekBatch/Release) and acknowledges the end.
func BenchmarkStream(b *testing.B) {
	for _, tc := range []struct {
		size, ring int
		batch      bool
	}{
		{64, DefaultRingSize, false},
		{64, DefaultRingSize, true},
		{64 << 10, 1 << 20, false},
		{1 << 20, 4 << 20, false},
	} {
		name := fmt.Sprintf("shm/%dB", tc.size)
		if tc.batch {
			name += "-batch"
		}
		b.Run(name, func(b *testing.B) {
			c, stop := shmPeer(b, "sink", tc.ring)
			defer stop()
			msg := make([]byte, tc.size)
			batch := make([][]byte, 64)
			for i := range batch {
				batch[i] = msg
			}
			ack := make([]byte, 0, 8)
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; {
				if tc.batch {
					k := min(len(batch), b.N-i)
					if _, err := c.WriteMsgs(batch[:k]); err != nil {
						b.Fatal(err)
					}
					i += k
					continue
				}
				if err := c.WriteMsg(msg); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if err := c.WriteMsg([]byte("end")); err != nil {
				b.Fatal(err)
			}
			ack, err := c.ReadMsg(ack)
			if err != nil || binary.LittleEndian.Uint64(ack) != uint64(b.N) {
				b.Fatalf("ack %v %v", ack, err)
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
		})
	}
	for _, size := range []int{64, 64 << 10} {
		b.Run(fmt.Sprintf("uds/%dB", size), func(b *testing.B) {
			c, stop := udsPeer(b, "uds-sink")
			defer stop()
			msg := make([]byte, size)
			var hdr [8]byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			binary.LittleEndian.PutUint64(hdr[:], uint64(b.N*size))
			if _, err := c.Write(hdr[:]); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkPeerDeath: time from SIGKILL of the peer to the error in a
// parked ReadMsg (reported as detect-ns; each iteration starts a process).
func BenchmarkPeerDeath(b *testing.B) {
	path := sockPath(b)
	ln, err := Listen(path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		ch := startChild(b, "idle", path)
		c := acceptOne(b, ln)
		if _, err := c.ReadMsg(nil); err != nil {
			b.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := c.ReadMsg(nil)
			errc <- err
		}()
		time.Sleep(5 * time.Millisecond) // let the reader park
		b.StartTimer()
		t0 := time.Now()
		_ = ch.cmd.Process.Kill()
		err := <-errc
		total += time.Since(t0)
		b.StopTimer()
		if !errors.Is(err, ErrPeerGone) {
			b.Fatalf("got %v", err)
		}
		_ = ch.cmd.Wait()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "detect-ns")
}
