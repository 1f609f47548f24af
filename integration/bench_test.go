package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// reportLatency reports the median and 99th percentile of samples.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// warmUp runs call for a while before a latency measurement, so that it
// measures the steady state of a daemon that has been serving for some
// time, not one just started (page faults, thread creation, the first GC
// cycles, the spin bounds adapting): at least 1000 calls and 50 ms.
func warmUp(call func()) {
	start := time.Now()
	for i := 0; i < 1000 || time.Since(start) < warmUpTime; i++ {
		call()
	}
}

var warmUpTime = 50 * time.Millisecond

func benchClient(b *testing.B, tr protocol.Transport, opts ...client.Option) *client.Client {
	sock := filepath.Join(socketDir(b), "d.sock")
	startDaemon(b, sock)
	return dialDaemon(b, sock, append([]client.Option{client.WithTransport(tr), client.WithHeartbeat(0, 0)}, opts...)...)
}

var benchTransports = []protocol.Transport{protocol.TransportShm, protocol.TransportSocket}

// BenchmarkPing is a Heartbeat round trip to a ringwired child process.
func BenchmarkPing(b *testing.B) {
	for _, tr := range benchTransports {
		b.Run("transport="+tr.String(), func(b *testing.B) {
			cl := benchClient(b, tr)
			ctx := context.Background()
			warmUp(func() { cl.Ping(ctx) })
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := cl.Ping(ctx); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(t0))
			}
			b.StopTimer()
			reportLatency(b, samples)
		})
	}
}

// BenchmarkPacedPing is BenchmarkPing at one call per ms, the rate of an
// editor: p50/p99 and the CPU per call of this process and of the
// ringwired child. Its wall time (a ms a call) keeps it out of mage
// bench's default set; run it by name.
func BenchmarkPacedPing(b *testing.B) {
	for _, tr := range benchTransports {
		b.Run("transport="+tr.String(), func(b *testing.B) {
			sock := filepath.Join(socketDir(b), "d.sock")
			d := startDaemon(b, sock)
			cl := dialDaemon(b, sock, client.WithTransport(tr), client.WithHeartbeat(0, 0))
			ctx := context.Background()
			measureRequests(b, d.pid(), true, func() error {
				_, err := cl.Ping(ctx)
				return err
			}, nil)
		})
	}
}

// BenchmarkComplete1KiB is a non-streamed completion round trip: a 1 KiB
// request (encode, CRC, daemon decode, mock provider, encode, client
// decode) answered with a small response.
func BenchmarkComplete1KiB(b *testing.B) {
	prompt := strings.Repeat("lorem ipsum dolor sit amet, ", 1024/28+1)[:1000]
	req := &protocol.CompletionRequest{
		Model:     "mock-1",
		Messages:  []protocol.ChatMessage{{Role: protocol.RoleUser, Content: prompt}},
		MaxTokens: 4,
	}
	if n := len(protocol.Marshal(req)); n < 1024 || n > 1200 {
		b.Fatalf("request payload is %d bytes", n)
	}
	for _, tr := range benchTransports {
		b.Run("transport="+tr.String(), func(b *testing.B) {
			cl := benchClient(b, tr)
			ctx := context.Background()
			warmUp(func() { cl.Complete(ctx, req) })
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := cl.Complete(ctx, req); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(t0))
			}
			b.StopTimer()
			reportLatency(b, samples)
		})
	}
}

// BenchmarkPipelined runs many calls at once over one client (WithConns
// 2): Ping round trips from parallel goroutines, reported as calls/s.
func BenchmarkPipelined(b *testing.B) {
	for _, tr := range benchTransports {
		b.Run("transport="+tr.String(), func(b *testing.B) {
			cl := benchClient(b, tr, client.WithConns(2))
			b.ReportAllocs()
			b.SetParallelism(16)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := cl.Ping(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
		})
	}
}

// BenchmarkBatch is pipelining proper: one goroutine sends Ping
// (Heartbeat) calls in batches (client.Batch) and reads their answers;
// an op is one call, reported as calls/s.
func BenchmarkBatch(b *testing.B) {
	hb := protocol.Marshal(&protocol.Heartbeat{SentUnixNano: 1})
	for _, tr := range benchTransports {
		for _, size := range []int{16, 64} {
			b.Run(fmt.Sprintf("transport=%s/size=%d", tr, size), func(b *testing.B) {
				cl := benchClient(b, tr)
				ctx := context.Background()
				var batch client.Batch
				run := func(n int) {
					batch.Reset()
					for range n {
						batch.Add(protocol.MsgHeartbeat, hb)
					}
					if err := cl.Do(ctx, &batch); err != nil {
						b.Fatal(err)
					}
					for i := range n {
						if typ, _, err := batch.Result(i); err != nil || typ != protocol.MsgHeartbeat {
							b.Fatalf("call %d: %v %v", i, typ, err)
						}
					}
				}
				for range 100 {
					run(size)
				}
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for done := 0; done < b.N; done += size {
					run(min(size, b.N-done))
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
			})
		}
	}
}

// BenchmarkAppendComplete1KiB is BenchmarkComplete1KiB through the
// allocation-free AppendComplete (the response is read in place).
func BenchmarkAppendComplete1KiB(b *testing.B) {
	prompt := strings.Repeat("lorem ipsum dolor sit amet, ", 1024/28+1)[:1000]
	req := &protocol.CompletionRequest{
		Model:     "mock-1",
		Messages:  []protocol.ChatMessage{{Role: protocol.RoleUser, Content: prompt}},
		MaxTokens: 4,
	}
	for _, tr := range benchTransports {
		b.Run("transport="+tr.String(), func(b *testing.B) {
			cl := benchClient(b, tr)
			ctx := context.Background()
			buf := make([]byte, 0, 4096)
			warmUp(func() { buf, _, _ = cl.AppendComplete(ctx, buf[:0], req) })
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				var v protocol.CompletionResponseView
				var err error
				if buf, v, err = cl.AppendComplete(ctx, buf[:0], req); err != nil {
					b.Fatal(err)
				}
				if len(v.Content()) == 0 {
					b.Fatal("empty completion")
				}
				samples = append(samples, time.Since(t0))
			}
			b.StopTimer()
			reportLatency(b, samples)
		})
	}
}
