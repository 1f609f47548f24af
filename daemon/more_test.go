package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// failingProvider fails after one token.
type failingProvider struct{}

func (failingProvider) Name() string { return "failing" }
func (failingProvider) Complete(ctx context.Context, _ *protocol.CompletionRequest, emit func(string) error) (Completion, error) {
	if err := emit("a"); err != nil {
		return Completion{}, err
	}
	return Completion{}, errors.New("upstream down")
}

func TestProviderErrors(t *testing.T) {
	srv := testServer(t, Config{Provider: failingProvider{}, Transports: []protocol.Transport{protocol.TransportShm}})
	cl := dial(t, srv)
	_, err := cl.Complete(context.Background(), userReq("x", 0))
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeUnavailable || !pe.Retryable {
		t.Fatalf("Complete: %v", err)
	}
	var last error
	for _, err := range cl.CompleteStream(context.Background(), userReq("x", 0)) {
		last = err
	}
	if !errors.As(last, &pe) || pe.Code != protocol.ErrCodeUnavailable {
		t.Fatalf("stream: %v", last)
	}
	// Malformed request payloads.
	for _, typ := range []protocol.MsgType{protocol.MsgCompletionRequest, protocol.MsgToolCall} {
		_, _, err = cl.Call(context.Background(), typ, []byte{1, 2})
		if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeMalformed {
			t.Fatalf("%v malformed: %v", typ, err)
		}
	}
	_, err = cl.CallTool(context.Background(), &protocol.ToolCall{Name: "sleep", Arguments: "forever"})
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeInvalidArgument {
		t.Fatalf("sleep forever: %v", err)
	}
}

func TestMockPacingAndCancel(t *testing.T) {
	m := &MockProvider{TokenDelay: 2 * time.Millisecond}
	var toks []string
	start := time.Now()
	res, err := m.Complete(context.Background(), userReq("a b c", 0), func(s string) error { toks = append(toks, s); return nil })
	if err != nil || len(toks) != 4 || res.Usage.CompletionTokens != 4 || res.Usage.PromptTokens != 3 {
		t.Fatalf("%q %+v %v", toks, res, err)
	}
	if d := time.Since(start); d < 6*time.Millisecond {
		t.Fatalf("paced reply took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Complete(ctx, userReq("a b c", 0), func(string) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if _, err := m.Complete(context.Background(), &protocol.CompletionRequest{}, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if providerErrCode(context.Background(), context.DeadlineExceeded) != protocol.ErrCodeTimeout {
		t.Fatal("deadline code")
	}
}

// Streaming handler: Send after End fails; the stream's frames arrive.
func TestResponseWriterStates(t *testing.T) {
	mux := NewMux()
	errs := make(chan error, 3)
	mux.HandleFunc(0x8001, func(ctx context.Context, w ResponseWriter, r *Request) {
		w.Send(protocol.MsgStreamChunk, protocol.Marshal(&protocol.StreamChunk{Delta: "a"}))
		errs <- w.End(protocol.MsgStreamChunk, protocol.Marshal(&protocol.StreamChunk{Final: true, Sequence: 1}))
		errs <- w.Send(protocol.MsgStreamChunk, nil)
		errs <- w.End(protocol.MsgStreamChunk, nil)
	})
	mux.Handle(protocol.MsgCompletionRequest, mux.Handler(0x8001))
	srv := testServer(t, Config{Mux: mux, Transports: []protocol.Transport{protocol.TransportSocket}})
	cl := dial(t, srv, client.WithTransport(protocol.TransportSocket))
	n := 0
	for _, err := range cl.CompleteStream(context.Background(), userReq("x", 0)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d chunks", n)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; !errors.Is(err, ErrCallDone) {
			t.Fatalf("after End: %v", err)
		}
	}
}

func TestListenErrors(t *testing.T) {
	srv := testServer(t, Config{})
	// A second daemon on the same path.
	srv2, err := New(Config{SocketPath: srv.SocketPath(), Logger: srv.log})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv2.Listen(); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("second Listen: %v", err)
	}
	srv3, _ := New(Config{SocketPath: srv.SocketPath(), Logger: srv.log, Transports: []protocol.Transport{protocol.TransportSocket}})
	if err := srv3.Listen(); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("second socket Listen: %v", err)
	}
	// An insecure directory (TestSocketDirRule has every case).
	dir, _ := os.MkdirTemp("", "rwd")
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o777)
	srv4, _ := New(Config{SocketPath: filepath.Join(dir, "d.sock"), Logger: srv.log, Transports: []protocol.Transport{protocol.TransportSocket}})
	if err := srv4.Listen(); !errors.Is(err, shmring.ErrInsecureDir) || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("listened in a 0777 directory: %v", err)
	}
	os.Chmod(dir, 0o700)
	// A regular file where the socket goes is not replaced.
	stream := filepath.Join(dir, "d.sock"+protocol.StreamSuffix)
	os.WriteFile(stream, nil, 0o600)
	srv5, _ := New(Config{SocketPath: filepath.Join(dir, "d.sock"), Logger: srv.log, Transports: []protocol.Transport{protocol.TransportSocket}})
	if err := srv5.Listen(); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("listened over a regular file: %v", err)
	}
	// A stale socket, left by a listener that died, is replaced.
	os.Remove(stream)
	staleSocket(t, stream)
	if err := srv5.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := srv5.Listen(); err != nil { // idempotent
		t.Fatal(err)
	}
	srv5.Shutdown(context.Background())
	if err := srv5.Listen(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Listen after Shutdown: %v", err)
	}
	<-srv5.Done()
	if tr := srv5.Config().Transports; len(tr) != 1 || tr[0] != protocol.TransportSocket {
		t.Fatal("Config")
	}
	for in, want := range map[string]int{"SHM": 1, " socket": 1, "both": 2, "none": 0} {
		tr, err := ParseTransports(in)
		if len(tr) != want || (err == nil) != (want > 0) {
			t.Errorf("ParseTransports(%q) = %v, %v", in, tr, err)
		}
	}
}

// staleSocket leaves a socket file at path with nobody listening on it, as
// a daemon that was killed does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("stale socket: %v %v", fi, err)
	}
}

// Serve returns when its context ends, after draining.
func TestServeContext(t *testing.T) {
	dir, _ := os.MkdirTemp("", "rwd")
	defer os.RemoveAll(dir)
	srv, err := New(Config{SocketPath: filepath.Join(dir, "d.sock"), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var cl *client.Client
	for i := 0; ; i++ {
		if cl, err = client.Dial(context.Background(), srv.SocketPath()); err == nil {
			break
		}
		if i > 1000 {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	defer cl.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Refused while draining / after.
	if _, err := cl.Ping(context.Background()); !client.IsRetryable(err) {
		t.Fatalf("ping after drain: %v", err)
	}
}
