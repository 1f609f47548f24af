//go:build linux

package shmring

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPacedPingPong: round trips of one 64-byte message to an echoing
// child process at one per millisecond, so that both sides wait parked
// between round trips (the wake-up path), over shmring and over a plain
// Unix socket. Beside p50/p99 it reports the share of round trips over
// 150 µs and the CPU time per round trip of this process (getrusage) and
// of the child (its threads' schedstat). SHMRING_SPIN sets WithSpin on
// both sides. Its name keeps it out of mage bench's default set (it takes
// wall time, not CPU).
func BenchmarkPacedPingPong(b *testing.B) {
	const size = 64
	b.Run(fmt.Sprintf("shm/%dB", size), func(b *testing.B) {
		path := sockPath(b)
		ln, err := Listen(path, childOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		ch := startChild(b, "echo", path)
		c := acceptOne(b, ln)
		defer func() {
			c.Close()
			ln.Close()
			ch.wait(b)
		}()
		msg := make([]byte, size)
		buf := make([]byte, 0, size)
		pacedRoundTrips(b, int(c.PeerInfo().PID), func() error {
			if err := c.WriteMsg(msg); err != nil {
				return err
			}
			var err error
			buf, err = c.ReadMsg(buf)
			if err == nil && len(buf) != size {
				err = fmt.Errorf("echo of %d bytes", len(buf))
			}
			return err
		}, func() Stats { return c.Stats() })
	})
	b.Run(fmt.Sprintf("uds/%dB", size), func(b *testing.B) {
		path := sockPath(b)
		if err := prepareDir(filepath.Dir(path)); err != nil {
			b.Fatal(err)
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		ch := startChild(b, "uds-echo", path)
		c, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			c.Close()
			ln.Close()
			ch.wait(b)
		}()
		peer, err := PeerCredentials(c.(*net.UnixConn))
		if err != nil {
			b.Fatal(err)
		}
		msg := make([]byte, size)
		buf := make([]byte, size)
		pacedRoundTrips(b, int(peer.PID), func() error {
			if _, err := c.Write(msg); err != nil {
				return err
			}
			_, err := io.ReadFull(c, buf)
			return err
		}, nil)
	})
}

// pacedRoundTrips runs rt b.N times at one per millisecond after 100 paced
// warm-up round trips and reports latency and CPU (see
// BenchmarkPacedPingPong); stats, if not nil, adds this side's wait
// counters per round trip.
func pacedRoundTrips(b *testing.B, peerPID int, rt func() error, stats func() Stats) {
	const interval = time.Millisecond
	for range 100 {
		if err := rt(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(interval)
	}
	var st0 Stats
	if stats != nil {
		st0 = stats()
	}
	samples := make([]int64, 0, min(b.N, 1<<20))
	self0 := selfCPU(b)
	peer0 := threadsCPU(b, peerPID)
	b.ReportAllocs()
	b.ResetTimer()
	due := time.Now()
	over := 0
	for range b.N {
		due = due.Add(interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else {
			due = time.Now()
		}
		t0 := time.Now()
		if err := rt(); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		if d > 150*time.Microsecond {
			over++
		}
		if len(samples) < cap(samples) {
			samples = append(samples, int64(d))
		}
	}
	b.StopTimer()
	n := float64(b.N)
	self := selfCPU(b) - self0
	peer := threadsCPU(b, peerPID) - peer0
	b.ReportMetric(float64(self)/n, "client-cpu-ns/op")
	b.ReportMetric(float64(peer)/n, "server-cpu-ns/op")
	b.ReportMetric(float64(self+peer)/n, "cpu-ns/op")
	b.ReportMetric(100*float64(over)/n, "over150us-%")
	reportLatency(b, samples)
	if stats != nil {
		st := stats()
		b.ReportMetric(float64(st.SpinHits-st0.SpinHits)/n, "spin-hits/op")
		b.ReportMetric(float64(st.SpinMisses-st0.SpinMisses)/n, "spin-misses/op")
		b.ReportMetric(float64(st.Parks-st0.Parks)/n, "parks/op")
	}
}

// selfCPU is this process's user+system time (all threads).
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadsCPU sums the time on a CPU of process pid's threads (the first
// field of /proc/PID/task/TID/schedstat, in ns).
func threadsCPU(b *testing.B, pid int) time.Duration {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var sum time.Duration
	for _, e := range ents {
		raw, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := strings.Fields(string(raw))
		if len(f) != 3 {
			b.Fatalf("%s/schedstat: %q", e.Name(), raw)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			b.Fatalf("%s/schedstat: %q", e.Name(), raw)
		}
		sum += time.Duration(v)
	}
	return sum
}
