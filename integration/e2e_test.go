package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon"
	"github.com/ringwire/ringwire/protocol"
)

const childEnv = "RINGWIRE_E2E_CLIENT_SOCK"

func userReq(text string, maxTokens uint32) *protocol.CompletionRequest {
	return &protocol.CompletionRequest{
		Messages:  []protocol.ChatMessage{{Role: protocol.RoleUser, Content: text}},
		MaxTokens: maxTokens,
	}
}

func stats(t testing.TB, cl *client.Client) daemon.Stats {
	t.Helper()
	b, err := cl.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var st daemon.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestEndToEnd(t *testing.T) {
	sock := filepath.Join(socketDir(t), "d.sock")
	startDaemon(t, sock)
	for _, tr := range []protocol.Transport{protocol.TransportShm, protocol.TransportSocket} {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dialDaemon(t, sock, client.WithTransport(tr), client.WithConns(2))
			ctx := context.Background()
			rtt, err := cl.Ping(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("first ping %v", rtt)
			resp, err := cl.Complete(ctx, userReq("the quick brown fox", 0))
			if err != nil || resp.Content != "mock: the quick brown fox" {
				t.Fatalf("Complete = %+v, %v", resp, err)
			}
			var sb strings.Builder
			for chunk, err := range cl.CompleteStream(ctx, userReq("jumps over the lazy dog", 0)) {
				if err != nil {
					t.Fatal(err)
				}
				sb.WriteString(chunk.Delta)
			}
			if sb.String() != "mock: jumps over the lazy dog" {
				t.Fatalf("stream = %q", sb.String())
			}
			res, err := cl.CallTool(ctx, &protocol.ToolCall{Name: "echo", Arguments: "{}"})
			if err != nil || res.Content != "{}" {
				t.Fatalf("CallTool = %+v, %v", res, err)
			}
			if st := stats(t, cl); st.Sessions < 1 {
				t.Fatalf("stats: %+v", st)
			}
			// A pipelined batch mixing heartbeats, inline one-shot
			// completions and tool calls served in goroutines: the daemon
			// answers a long batch in parts, each answer reaches its call.
			var b client.Batch
			for i := range 200 {
				switch i % 3 {
				case 0:
					b.AddMsg(&protocol.Heartbeat{SentUnixNano: int64(i + 1)})
				case 1:
					b.AddMsg(userReq(fmt.Sprintf("call %d", i), 0))
				default:
					b.AddMsg(&protocol.ToolCall{ID: fmt.Sprint(i), Name: "echo", Arguments: fmt.Sprint(i)})
				}
			}
			if err := cl.Do(ctx, &b); err != nil {
				t.Fatal(err)
			}
			for i := range b.Len() {
				typ, payload, err := b.Result(i)
				if err != nil {
					t.Fatalf("batch call %d: %v", i, err)
				}
				var ok bool
				switch i % 3 {
				case 0:
					var hb protocol.Heartbeat
					ok = typ == protocol.MsgHeartbeat && hb.Unmarshal(payload) == nil && hb.EchoUnixNano == int64(i+1)
				case 1:
					var resp protocol.CompletionResponse
					ok = typ == protocol.MsgCompletionResponse && resp.Unmarshal(payload) == nil && resp.Content == fmt.Sprintf("mock: call %d", i)
				default:
					var res protocol.ToolResult
					ok = typ == protocol.MsgToolResult && res.Unmarshal(payload) == nil && res.CallID == fmt.Sprint(i) && res.Content == fmt.Sprint(i)
				}
				if !ok {
					t.Fatalf("batch call %d answered with %v %x", i, typ, payload)
				}
			}
		})
	}
}

// SIGKILL the daemon: calls in flight fail fast; Ping works again soon
// after a new daemon listens.
func TestDaemonKilled(t *testing.T) {
	for _, tr := range []protocol.Transport{protocol.TransportShm, protocol.TransportSocket} {
		t.Run(tr.String(), func(t *testing.T) {
			sock := filepath.Join(socketDir(t), "d.sock")
			d := startDaemon(t, sock)
			cl := dialDaemon(t, sock, client.WithTransport(tr), client.WithConns(2))
			const n = 8
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				go func() {
					_, err := cl.CallTool(context.Background(), &protocol.ToolCall{Name: "sleep", Arguments: "30000"})
					errs <- err
				}()
			}
			waitFor(t, func() bool { return stats(t, cl).InFlight == n })
			killed := time.Now()
			d.kill()
			var worst time.Duration
			for i := 0; i < n; i++ {
				err := <-errs
				if !errors.Is(err, client.ErrConnLost) || !client.IsRetryable(err) {
					t.Fatalf("in-flight call: %v", err)
				}
				worst = time.Since(killed)
			}
			t.Logf("daemon SIGKILL -> all %d in-flight calls failed within %v", n, worst)
			if worst > 2*time.Second {
				t.Errorf("calls took %v to fail", worst)
			}
			start := time.Now()
			_, err := cl.Ping(context.Background())
			if !client.IsRetryable(err) {
				t.Fatalf("ping while down: %v", err)
			}
			t.Logf("ping while down failed in %v: %v", time.Since(start), err)
			// Keep pinging while a new daemon starts.
			var up atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
					if _, err := cl.Ping(context.Background()); err == nil {
						up.Store(time.Now().UnixNano())
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			d = startDaemon(t, sock)
			<-done
			if up.Load() == 0 {
				t.Fatal("Ping never succeeded after the restart")
			}
			gap := time.Unix(0, up.Load()).Sub(d.listenAt)
			t.Logf("Ping works %v after the restarted daemon logged it listens", gap)
			if gap > 2*time.Second {
				t.Errorf("reconnection took %v", gap)
			}
		})
	}
}

// clientChild is the body of a re-executed test binary acting as a
// client: it opens a session with a call in flight and waits to be killed.
func clientChild() int {
	sock := os.Getenv(childEnv)
	cl, err := client.Dial(context.Background(), sock, client.WithClientName("doomed"))
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	go cl.CallTool(context.Background(), &protocol.ToolCall{Name: "sleep", Arguments: "60000"})
	fmt.Println("ready")
	select {}
}

// SIGKILL a client: the daemon frees its session (fds, goroutines).
func TestClientKilled(t *testing.T) {
	sock := filepath.Join(socketDir(t), "d.sock")
	d := startDaemon(t, sock)
	obs := dialDaemon(t, sock, client.WithClientName("observer"))
	st0 := stats(t, obs)
	base := st0.Sessions
	baseFDs := countFDs(d.pid())
	baseMaps := countMemfdMaps(d.pid())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "ready") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q", buf[:n])
	}
	waitFor(t, func() bool { return stats(t, obs).InFlight == 1 })
	st := stats(t, obs)
	t.Logf("daemon with the child: %d sessions, %d fds, %d memfd mappings, %d goroutines; before: %d, %d, %d, %d",
		st.Sessions, countFDs(d.pid()), countMemfdMaps(d.pid()), st.Goroutines, base, baseFDs, baseMaps, st0.Goroutines)
	killed := time.Now()
	cmd.Process.Kill()
	cmd.Wait()
	var freed, fdsBack time.Duration
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && (freed == 0 || fdsBack == 0); {
		if freed == 0 {
			if s := stats(t, obs); s.Sessions == base && s.InFlight == 0 && s.Goroutines <= st0.Goroutines {
				freed = time.Since(killed)
			}
		}
		if fdsBack == 0 && countFDs(d.pid()) <= baseFDs && countMemfdMaps(d.pid()) <= baseMaps {
			fdsBack = time.Since(killed)
		}
		time.Sleep(200 * time.Microsecond)
	}
	t.Logf("client SIGKILL -> daemon session, its call and goroutines freed after %v; fds back to %d and memfd mappings to %d after %v",
		freed, baseFDs, baseMaps, fdsBack)
	if freed == 0 || fdsBack == 0 {
		s := stats(t, obs)
		t.Fatalf("session not freed (sessions %d, goroutines %d, fds %d, maps %d)", s.Sessions, s.Goroutines, countFDs(d.pid()), countMemfdMaps(d.pid()))
	}
}

// Many concurrent connections to one daemon, each with a request
// answered. RINGWIRE_E2E_CONNS sets how many (default 1000).
func TestManyConnections(t *testing.T) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("RINGWIRE_E2E_CONNS")); err == nil && v > 0 {
		n = v
	}
	sock := filepath.Join(socketDir(t), "d.sock")
	startDaemon(t, sock, "-max-conns", strconv.Itoa(n+10), "-max-ring-size", "65536")
	start := time.Now()
	clients := make([]*client.Client, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	errc := make(chan error, 1)
	sem := make(chan struct{}, 64)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cl, err := client.Dial(ctx, sock, client.WithRingSize(64<<10), client.WithHeartbeat(0, 0))
			if err != nil {
				failed.Add(1)
				select {
				case errc <- err:
				default:
				}
				return
			}
			clients[i] = cl
		}()
	}
	wg.Wait()
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	if failed.Load() > 0 {
		t.Fatalf("%d dials failed, e.g. %v", failed.Load(), <-errc)
	}
	t.Logf("%d connections set up in %v", n, time.Since(start))
	st := stats(t, clients[0])
	if st.Sessions != n {
		t.Fatalf("daemon has %d sessions, want %d", st.Sessions, n)
	}
	start = time.Now()
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("mock: conn %d", i)
			resp, err := cl.Complete(context.Background(), userReq(fmt.Sprintf("conn %d", i), 0))
			if err != nil || resp.Content != want {
				failed.Add(1)
				select {
				case errc <- fmt.Errorf("conn %d: %+v, %v", i, resp, err):
				default:
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed, e.g. %v", failed.Load(), <-errc)
	}
	t.Logf("%d concurrent requests, one per connection, all answered in %v", n, time.Since(start))
}

// One stalled stream reader while other calls on the same client go on.
func TestStalledStreamReader(t *testing.T) {
	sock := filepath.Join(socketDir(t), "d.sock")
	startDaemon(t, sock)
	cl := dialDaemon(t, sock)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, err := range cl.CompleteStream(ctx, userReq(strings.Repeat("word ", 500), 1000)) {
			if err != nil {
				return
			}
			select {
			case <-got:
			default:
				close(got)
			}
			<-ctx.Done() // never read on
		}
	}()
	<-got
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	for i := 0; i < 200; i++ {
		if _, err := cl.Complete(ctx, userReq("still here", 0)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("200 calls beside a stalled stream in %v", time.Since(start))
	st := stats(t, cl)
	if st.InFlight != 1 {
		t.Errorf("daemon in flight = %d, want the stalled stream only", st.InFlight)
	}
	cancel()
	wg.Wait()
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
