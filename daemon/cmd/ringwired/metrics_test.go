package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon/internal/pairbench"
	"github.com/ringwire/ringwire/protocol"
)

// buildRingwired builds this command into dir, without coverage
// instrumentation (TestMetricsFlag measures its memory), and returns the
// binary.
func buildRingwired(t testing.TB, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build ringwired: %v", err)
	}
	bin := filepath.Join(dir, "ringwired")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var metricsAddrRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// TestMetricsFlag runs the real ringwired with -metrics 127.0.0.1:0: the
// log line gives the address the system chose, the endpoint answers and
// its values move with a client's traffic, the idle process stays small,
// and SIGTERM closes the endpoint.
func TestMetricsFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ringwired")
	}
	dir, err := os.MkdirTemp("", "rwm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := buildRingwired(t, dir)
	sock := filepath.Join(dir, "d.sock")
	cmd := exec.Command(bin, "-socket", sock, "-metrics", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The address and "ringwired listening" from the log; the rest of
	// the log is kept for failures.
	addrc := make(chan string, 1)
	var logBuf bytes.Buffer
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			logBuf.WriteString(line + "\n")
			if m := metricsAddrRE.FindStringSubmatch(line); m != nil && !sent {
				addrc <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-logDone
		t.Fatalf("no metrics address logged:\n%s", logBuf.String())
	}
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("logged the unbound address %s", addr)
	}
	url := "http://" + addr + "/metrics"

	// Idle, after one scrape: the private memory of the process.
	if v := metric(t, get(t, url), `ringwire_sessions_open{transport="shm"}`); v != 0 {
		t.Errorf("sessions open at start: %v", v)
	}
	time.Sleep(200 * time.Millisecond)
	anon, rss := procStatus(t, cmd.Process.Pid, "RssAnon"), procStatus(t, cmd.Process.Pid, "VmRSS")
	t.Logf("idle with metrics, after one scrape: RssAnon %d kB, VmRSS %d kB", anon, rss)
	if anon > 3000 {
		t.Errorf("idle RssAnon %d kB with metrics on, above the 3 MB target", anon)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, sock, client.WithHeartbeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := cl.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.Complete(ctx, &protocol.CompletionRequest{Messages: []protocol.ChatMessage{{Content: "a b c"}}}); err != nil {
		t.Fatal(err)
	}
	body := get(t, url)
	for sample, want := range map[string]float64{
		`ringwire_sessions_open{transport="shm"}`:                           1,
		`ringwire_frames_received_total{type="Heartbeat"}`:                  2,
		`ringwire_frames_sent_total{type="CompletionResponse"}`:             1,
		`ringwire_provider_tokens_total{kind="completion"}`:                 4,
		`ringwire_request_duration_seconds_count{type="CompletionRequest"}`: 1,
	} {
		if v := metric(t, body, sample); v != want {
			t.Errorf("%s = %v, want %v", sample, v, want)
		}
	}
	for _, name := range []string{"go_goroutines ", "process_resident_memory_bytes ", `ringwire_build_info{provider="mock",version=`} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("no %s in the scrape", name)
		}
	}
	cl.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-logDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ringwired: %v\n%s", err, logBuf.String())
	}
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("the endpoint answers after ringwired exited: %s", resp.Status)
	}
}

// TestMetricsFlagBadAddr: an address that cannot be listened on is exit
// code 1 with the reason.
func TestMetricsFlagBadAddr(t *testing.T) {
	dir, err := os.MkdirTemp("", "rwm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var out bytes.Buffer
	code := run(context.Background(), []string{"-socket", filepath.Join(dir, "d.sock"), "-metrics", "127.0.0.1:99999"}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), "metrics: listen 127.0.0.1:99999") {
		t.Errorf("run = %d, %q", code, out.String())
	}
}

// get returns the body of a GET of url.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// metric is the value of the sample written exactly as sample (name and
// labels) in a text-format scrape.
func metric(t *testing.T, body, sample string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no sample %s in the scrape", sample)
	return 0
}

// procStatus is a "kB" field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// BenchmarkMetricsPaired is daemon's BenchmarkMetricsPaired across
// processes, the way clients meet the daemon: three ringwired processes,
// one with -metrics and two without, and one client each over shared
// memory. Each op is one call; calls go in alternating runs of 64 to side
// a and side b, the order swapped every pair of runs, and a/b-ratio is the
// median over the pairs of runs of the ratio of their times. pair=on-vs-off
// has metrics on side a; pair=off-vs-off is the control (metrics on
// neither).
func BenchmarkMetricsPaired(b *testing.B) {
	dir, err := os.MkdirTemp("", "rwm")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	bin := buildRingwired(b, dir)
	clients := map[string]*client.Client{}
	for _, name := range []string{"on", "off1", "off2"} {
		sock := filepath.Join(dir, name+".sock")
		args := []string{"-socket", sock, "-log-level", "warn"}
		if name == "on" {
			args = append(args, "-metrics", "127.0.0.1:0")
		}
		cmd := exec.Command(bin, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
		var cl *client.Client
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cl, err = client.Dial(ctx, sock, client.WithTransport(protocol.TransportShm), client.WithHeartbeat(0, 0))
			cancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cl.Close() })
		clients[name] = cl
	}
	prompt := strings.Repeat("lorem ipsum dolor sit amet, ", 1024/28+1)[:1000]
	req := &protocol.CompletionRequest{Model: "mock-1", MaxTokens: 4,
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: prompt}}}
	for _, op := range []string{"Ping", "AppendComplete1KiB"} {
		for _, pair := range [][2]string{{"on", "off1"}, {"off2", "off1"}} {
			name := "op=" + op + "/pair=on-vs-off"
			if pair[0] != "on" {
				name = "op=" + op + "/pair=off-vs-off"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				var calls [2]func()
				for i, side := range pair {
					cl := clients[side]
					buf := make([]byte, 0, 4096)
					calls[i] = func() {
						var err error
						if op == "Ping" {
							_, err = cl.Ping(ctx)
						} else {
							buf, _, err = cl.AppendComplete(ctx, buf[:0], req)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				pairbench.Run(b, calls, nil)
			})
		}
	}
}
