package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// goSource returns n bytes of real Go source: the files of net/http in
// this machine's GOROOT, concatenated (repeated if they are fewer).
func goSource(b *testing.B, n int) []byte {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "src", "net", "http", "*.go"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no net/http sources: %v", err)
	}
	var src bytes.Buffer
	for src.Len() < n {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			src.Write(data)
		}
	}
	return src.Bytes()[:n]
}

// BenchmarkCompress measures whether zstd compression pays: a ToolCall
// to the daemon's echo tool whose arguments, and so whose result, carry
// 64 KiB or 1 MiB of Go source, over each transport, with compression
// negotiated (threshold protocol.DefaultCompressThreshold, both
// directions) or not. One ringwired serves every case, with compression
// on for both transports; the client decides whether to offer it.
// MB/s counts the source bytes echoed (one way) per second.
func BenchmarkCompress(b *testing.B) {
	src := goSource(b, 1<<20)
	sock := filepath.Join(socketDir(b), "d.sock")
	z := fmt.Sprint(protocol.DefaultCompressThreshold)
	startDaemon(b, sock, "-compress-shm", z, "-compress-socket", z, "-max-ring-size", fmt.Sprint(4<<20))
	for _, size := range []int{64 << 10, 1 << 20} {
		for _, tr := range benchTransports {
			for _, on := range []bool{false, true} {
				name := fmt.Sprintf("size=%dKiB/transport=%s/compress=%s", size>>10, tr, map[bool]string{false: "off", true: "on"}[on])
				b.Run(name, func(b *testing.B) {
					threshold := 0
					if on {
						threshold = protocol.DefaultCompressThreshold
					}
					cl := dialDaemon(b, sock, client.WithTransport(tr), client.WithHeartbeat(0, 0),
						client.WithCompression(threshold), client.WithRingSize(4<<20))
					ctx := context.Background()
					call := &protocol.ToolCall{Name: "echo", Arguments: string(src[:size])}
					echo := func() {
						res, err := cl.CallTool(ctx, call)
						if err != nil {
							b.Fatal(err)
						}
						if len(res.Content) != size {
							b.Fatalf("echo returned %d bytes, want %d", len(res.Content), size)
						}
					}
					for range 20 {
						echo()
					}
					b.ResetTimer()
					start := time.Now()
					for i := 0; i < b.N; i++ {
						echo()
					}
					el := time.Since(start)
					b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/call")
					b.ReportMetric(float64(size)*float64(b.N)/el.Seconds()/1e6, "MB/s")
				})
			}
		}
	}
}
