package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/daemon/internal/pairbench"
	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// scrape GETs the metrics endpoint of srv and parses the text format.
func scrape(t testing.TB, srv *Server) map[string]*dto.MetricFamily {
	t.Helper()
	addr := srv.MetricsAddr()
	if addr == nil {
		t.Fatal("no metrics address")
	}
	resp, err := http.Get("http://" + addr.String() + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", MetricsPath, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// sample is the value of the metric name with exactly the labels given
// as "k=v" pairs (a histogram's sample count), and whether it exists.
func sample(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// value is sample for a metric that must exist.
func value(t testing.TB, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := sample(mfs, name, labels...)
	if !ok {
		t.Fatalf("no sample %s%v", name, labels)
	}
	return v
}

// metricsServer is testServer with metrics on a loopback port of the
// system's choosing and a workspace.
func metricsServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.MetricsAddr = "127.0.0.1:0"
	if cfg.Workspace == "" {
		cfg.Workspace = t.TempDir()
	}
	return testServer(t, cfg)
}

// TestMetricsMove drives traffic of every kind through a server with
// metrics on, scraping its endpoint before and after each step: the
// values move as they should.
func TestMetricsMove(t *testing.T) {
	srv := metricsServer(t, Config{MaxConns: 2})
	ctx := context.Background()
	shm := dial(t, srv, client.WithTransport(protocol.TransportShm), client.WithHeartbeat(0, 0))
	sock := dial(t, srv, client.WithTransport(protocol.TransportSocket), client.WithHeartbeat(0, 0))

	// delta runs step and returns how much each metric moved, scraping
	// again until the moves are those wanted (a negative want w: at least
	// -w) or 5 s have passed: a handler may still be counting its last
	// frame after the client has its answer.
	type probe struct {
		name   string
		labels []string
	}
	delta := func(step func(), want []float64, probes ...probe) []float64 {
		t.Helper()
		before := scrape(t, srv)
		step()
		deadline := time.Now().Add(5 * time.Second)
		for {
			after := scrape(t, srv)
			d := make([]float64, len(probes))
			settled := true
			for i, p := range probes {
				d[i] = value(t, after, p.name, p.labels...) - value(t, before, p.name, p.labels...)
				if w := want[i]; (w >= 0 && d[i] != w) || (w < 0 && d[i] < -w) {
					settled = false
				}
			}
			if settled || time.Now().After(deadline) {
				return d
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	expect := func(what string, got []float64, want ...float64) {
		t.Helper()
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: metric %d moved by %v, want %v (all: %v)", what, i, got[i], want[i], got)
			}
		}
	}
	atLeast := func(what string, got []float64, want ...float64) {
		t.Helper()
		for i := range want {
			if got[i] < want[i] {
				t.Errorf("%s: metric %d moved by %v, want at least %v (all: %v)", what, i, got[i], want[i], got)
			}
		}
	}

	mfs := scrape(t, srv)
	if v := value(t, mfs, "ringwire_sessions_open", "transport=shm"); v != 1 {
		t.Errorf("shm sessions open: %v", v)
	}
	if v := value(t, mfs, "ringwire_sessions_open", "transport=socket"); v != 1 {
		t.Errorf("socket sessions open: %v", v)
	}
	if v := value(t, mfs, "ringwire_ring_capacity_bytes", "ring=send"); v <= 0 {
		t.Errorf("ring capacity: %v", v)
	}
	if v := value(t, mfs, "ringwire_ring_fullest_ratio", "ring=receive"); v < 0 || v > 1 {
		t.Errorf("fullest ring: %v", v)
	}
	if v := value(t, mfs, "ringwire_build_info", "version="+Version, "provider=mock"); v != 1 {
		t.Errorf("build info: %v", v)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if _, ok := sample(mfs, name); !ok {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}

	for _, tc := range []struct {
		name string
		cl   *client.Client
		tr   string
	}{{"shm", shm, "shm"}, {"socket", sock, "socket"}} {
		t.Run("ping/"+tc.name, func(t *testing.T) {
			d := delta(func() {
				for range 3 {
					if _, err := tc.cl.Ping(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}, []float64{3, 3, -3 * protocol.HeaderSize, -3 * protocol.HeaderSize},
				probe{"ringwire_frames_received_total", []string{"type=Heartbeat"}},
				probe{"ringwire_frames_sent_total", []string{"type=Heartbeat"}},
				probe{"ringwire_transport_bytes_total", []string{"transport=" + tc.tr, "direction=in"}},
				probe{"ringwire_transport_bytes_total", []string{"transport=" + tc.tr, "direction=out"}})
			expect("3 pings", d[:2], 3, 3)
			atLeast("3 pings", d[2:], 3*protocol.HeaderSize, 3*protocol.HeaderSize)
		})
	}

	t.Run("completion", func(t *testing.T) {
		// One-shot (the mock's inline AppendProvider path) and streamed.
		d := delta(func() {
			if _, err := shm.Complete(ctx, userReq("one two three", 0)); err != nil {
				t.Fatal(err)
			}
			for _, err := range sock.CompleteStream(ctx, userReq("four five", 0)) {
				if err != nil {
					t.Fatal(err)
				}
			}
		}, []float64{2, 1, 4, 2, 2, 2, 7, -1},
			probe{"ringwire_frames_received_total", []string{"type=CompletionRequest"}},
			probe{"ringwire_frames_sent_total", []string{"type=CompletionResponse"}},
			probe{"ringwire_frames_sent_total", []string{"type=StreamChunk"}},
			probe{"ringwire_request_duration_seconds", []string{"type=CompletionRequest"}},
			probe{"ringwire_provider_first_token_seconds", nil},
			probe{"ringwire_provider_duration_seconds", nil},
			probe{"ringwire_provider_tokens_total", []string{"kind=completion"}},
			probe{"ringwire_provider_tokens_total", []string{"kind=prompt"}})
		// "mock: one two three" is 4 tokens, "mock: four five" 3 in 4
		// chunks (3 deltas and the final one).
		expect("completions", d, 2, 1, 4, 2, 2, 2, 7)
		atLeast("completions", d[7:], 1)
	})

	t.Run("tools", func(t *testing.T) {
		d := delta(func() {
			for _, tc := range []protocol.ToolCall{
				{ID: "1", Name: "write_file", Arguments: `{"path":"a.txt","content":"hi"}`},
				{ID: "2", Name: "read_file", Arguments: `{"path":"a.txt"}`},
				{ID: "3", Name: "read_file", Arguments: `{"path":"../escape"}`},
				{ID: "4", Name: "nope"},
				{ID: "5", Name: "echo", Arguments: `{}`},
			} {
				if _, err := shm.CallTool(ctx, &tc); err != nil {
					t.Fatal(err)
				}
			}
		}, []float64{1, 1, 1, 1, 1, 2, 5, 5},
			probe{"ringwire_tool_calls_total", []string{"tool=write_file", "outcome=ok"}},
			probe{"ringwire_tool_calls_total", []string{"tool=read_file", "outcome=ok"}},
			probe{"ringwire_tool_calls_total", []string{"tool=read_file", "outcome=error"}},
			probe{"ringwire_tool_calls_total", []string{"tool=unknown", "outcome=error"}},
			probe{"ringwire_tool_calls_total", []string{"tool=echo", "outcome=ok"}},
			probe{"ringwire_tool_duration_seconds", []string{"tool=read_file"}},
			probe{"ringwire_request_duration_seconds", []string{"type=ToolCall"}},
			probe{"ringwire_frames_sent_total", []string{"type=ToolResult"}})
		expect("tool calls", d, 1, 1, 1, 1, 1, 2, 5, 5)
	})

	t.Run("cancel in flight", func(t *testing.T) {
		// A sleeping tool call is in flight until it is canceled.
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		before := scrape(t, srv)
		go func() {
			_, err := shm.CallTool(cctx, &protocol.ToolCall{ID: "s", Name: "sleep", Arguments: "10000"})
			done <- err
		}()
		deadline := time.Now().Add(5 * time.Second)
		for value(t, scrape(t, srv), "ringwire_requests_in_flight") != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the sleeping call never showed in flight")
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled call: %v", err)
		}
		for {
			after := scrape(t, srv)
			canceled := value(t, after, "ringwire_tool_calls_total", "tool=sleep", "outcome=canceled")
			cancels := value(t, after, "ringwire_frames_received_total", "type=Cancel") -
				value(t, before, "ringwire_frames_received_total", "type=Cancel")
			if canceled == 1 && cancels == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("canceled sleep calls %v, Cancel frames %v; want 1 and 1", canceled, cancels)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})

	t.Run("errors", func(t *testing.T) {
		d := delta(func() {
			// Not a ToolCall: Malformed. An application type without a
			// handler ends the session with UnknownType.
			if _, _, err := shm.Call(ctx, protocol.MsgToolCall, []byte("junk")); err == nil {
				t.Fatal("junk tool call succeeded")
			}
			if _, _, err := shm.Call(ctx, 0x8123, nil); err == nil {
				t.Fatal("unhandled type succeeded")
			}
		}, []float64{1, 1, 1, 2},
			probe{"ringwire_errors_total", []string{"code=Malformed"}},
			probe{"ringwire_errors_total", []string{"code=UnknownType"}},
			probe{"ringwire_frames_received_total", []string{"type=Application"}},
			probe{"ringwire_frames_sent_total", []string{"type=Error"}})
		expect("errors", d, 1, 1, 1, 2)
	})

	t.Run("refused", func(t *testing.T) {
		// The shm session that got UnknownType is gone, and the client
		// redials when next used: wait until two sessions are open again.
		if _, err := shm.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		d := delta(func() {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			cl, err := client.Dial(dctx, srv.SocketPath(), client.WithHeartbeat(0, 0))
			if err == nil {
				cl.Close()
				t.Fatal("a third session was accepted with MaxConns 2")
			}
		}, []float64{1, 0, 0},
			probe{"ringwire_sessions_refused_total", []string{"reason=too_many_conns"}},
			probe{"ringwire_sessions_refused_total", []string{"reason=draining"}},
			probe{"ringwire_sessions_accepted_total", nil})
		expect("refused", d, 1, 0, 0)
	})

	t.Run("lint", func(t *testing.T) {
		problems, err := testutil.GatherAndLint(srv.MetricsRegistry())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	})

	t.Run("http", func(t *testing.T) {
		base := "http://" + srv.MetricsAddr().String()
		// Not compressed, even when asked (see MetricsHandler).
		req, _ := http.NewRequest("GET", base+MetricsPath, nil)
		req.Header.Set("Accept-Encoding", "gzip, zstd")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if enc := resp.Header.Get("Content-Encoding"); enc != "" || !strings.Contains(string(b), "# TYPE ringwire_errors_total counter") {
			t.Errorf("scrape asking for gzip: Content-Encoding %q, body %q", enc, abbrev(string(b), 100))
		}
		for path, want := range map[string]int{"/": 200, "/nope": 404} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want || (want == 200 && !strings.Contains(string(b), MetricsPath)) {
				t.Errorf("GET %s: %s %q", path, resp.Status, b)
			}
		}
	})

	// Shutdown closes the endpoint.
	addr := srv.MetricsAddr().String()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if resp, err := http.Get("http://" + addr + MetricsPath); err == nil {
		resp.Body.Close()
		t.Errorf("the endpoint still answers after Shutdown: %s", resp.Status)
	}
}

// TestMetricsDraining: a connection during the drain is refused as
// draining.
func TestMetricsDraining(t *testing.T) {
	srv := metricsServer(t, Config{DrainTimeout: 5 * time.Second})
	cl := dial(t, srv, client.WithHeartbeat(0, 0))
	ctx := context.Background()
	// A call in flight keeps the drain going.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = cl.CallTool(ctx, &protocol.ToolCall{ID: "s", Name: "sleep", Arguments: "300"})
	}()
	for srv.Stats().InFlight == 0 {
		time.Sleep(time.Millisecond)
	}
	reg := srv.MetricsRegistry()
	go srv.Shutdown(ctx)
	for !srv.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	// The listeners are closed once draining: admit is what a connection
	// racing the close meets.
	if _, ok := srv.admit(shmring.PeerInfo{}); ok {
		t.Fatal("admitted while draining")
	}
	<-done
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	if v := value(t, byName, "ringwire_sessions_refused_total", "reason=draining"); v != 1 {
		t.Errorf("refused while draining: %v", v)
	}
	<-srv.Done()
}

// TestMetricsOff: without MetricsAddr or MetricsRegistry there are no
// metrics, no endpoint and no registry.
func TestMetricsOff(t *testing.T) {
	srv := testServer(t, Config{})
	if srv.m != nil || srv.MetricsRegistry() != nil || srv.MetricsAddr() != nil || srv.MetricsHandler() != nil {
		t.Fatal("metrics on by default")
	}
	// The hooks are nil-safe where they are reached without a server.
	var w recorder
	CompletionHandler(&MockProvider{}).ServeFrame(context.Background(), &w,
		&Request{Type: protocol.MsgCompletionRequest, ID: 1, Payload: protocol.Marshal(userReq("a", 0))})
	if w.typ != protocol.MsgCompletionResponse {
		t.Fatalf("answered %v", w.typ)
	}
}

// TestMetricsRegistry: metrics go into a registry the application gives,
// which may already hold the Go and process collectors; without
// MetricsAddr nothing listens, and MetricsHandler serves them.
func TestMetricsRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := testServer(t, Config{MetricsRegistry: reg})
	if srv.MetricsRegistry() != reg || srv.MetricsAddr() != nil {
		t.Fatal("registry not used, or an endpoint opened")
	}
	cl := dial(t, srv)
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := srv.m.framesIn[typeIndex(protocol.MsgHeartbeat)].Load(); n < 1 {
		t.Errorf("heartbeats counted: %v", n)
	}
	h := srv.MetricsHandler()
	rec := &responseRecorder{header: http.Header{}}
	req, _ := http.NewRequest("GET", MetricsPath, nil)
	h.ServeHTTP(rec, req)
	if !strings.Contains(rec.body.String(), "ringwire_frames_received_total{type=\"Heartbeat\"}") ||
		!strings.Contains(rec.body.String(), "go_goroutines") {
		t.Errorf("handler served %q", abbrev(rec.body.String(), 300))
	}
	// Two servers on one registry: the second is refused.
	if _, err := New(Config{MetricsRegistry: reg, SocketPath: filepath.Join(t.TempDir(), "x.sock")}); !errors.Is(err, ErrConfig) {
		t.Errorf("second server on the registry: %v", err)
	}
}

// responseRecorder is a minimal http.ResponseWriter.
type responseRecorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *responseRecorder) Header() http.Header         { return r.header }
func (r *responseRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *responseRecorder) WriteHeader(code int)        { r.code = code }

// TestMetricsListenError: an address that cannot be listened on fails
// Listen and leaves nothing open.
func TestMetricsListenError(t *testing.T) {
	dir, err := os.MkdirTemp("", "rwm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "d.sock")
	srv, err := New(Config{SocketPath: sock, MetricsAddr: "127.0.0.1:99999", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Fatalf("Listen = %v", err)
	}
	// The sockets were closed: another server can take the path.
	other, err := New(Config{SocketPath: sock, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Listen(); err != nil {
		t.Fatalf("the path stayed taken: %v", err)
	}
	other.Shutdown(context.Background())
	srv.Shutdown(context.Background())
}

// TestMetricLabels: the label tables cover every type and code, and map
// the rest onto a fixed few values.
func TestMetricLabels(t *testing.T) {
	seen := map[string]bool{}
	for i, typ := range metricTypes {
		if typeIndex(typ) != i || typeLabel(i) != typ.String() {
			t.Errorf("%v: index %d, label %q", typ, typeIndex(typ), typeLabel(typeIndex(typ)))
		}
		seen[typeLabel(i)] = true
	}
	for typ, want := range map[protocol.MsgType]string{0x8000: "Application", 0xFFEF: "Application", 0xFFF5: "Unknown", 0x0042: "Unknown", 0: "Unknown"} {
		if got := typeLabel(typeIndex(typ)); got != want {
			t.Errorf("type %#x: %q, want %q", uint16(typ), got, want)
		}
	}
	if len(seen) != len(metricTypes) {
		t.Error("duplicate type labels")
	}
	for c := range protocol.ErrorCode(numErrorCodes) {
		if codeLabel(codeIndex(c)) != c.String() {
			t.Errorf("code %v: label %q", c, codeLabel(codeIndex(c)))
		}
	}
	for c, want := range map[protocol.ErrorCode]string{0x8000: "App", 0xFFFF: "App", 16: "Unknown", 0x7FFF: "Unknown"} {
		if got := codeLabel(codeIndex(c)); got != want {
			t.Errorf("code %#x: %q, want %q", uint16(c), got, want)
		}
	}
	// Tool labels: the served tools and "unknown", nothing else.
	m, err := newMetrics(&Server{cfg: Config{Provider: &MockProvider{}}}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range m.tools {
		names = append(names, n)
	}
	sort.Strings(names)
	if got := strings.Join(names, " "); got != "edit_file list_dir read_file run_command search unknown write_file" {
		t.Errorf("tool labels: %s", got)
	}
	if m.tool("echo") != m.unknown || m.tool("../../x") != m.unknown {
		t.Error("an unserved tool got its own label")
	}
}

// TestMetricsAllocs: with metrics on, a Ping and a one-shot mock
// completion allocate nothing, client and daemon together.
func TestMetricsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv := metricsServer(t, Config{})
	ctx := context.Background()
	req := userReq(strings.Repeat("lorem ipsum ", 80), 4)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			cl := dial(t, srv, client.WithTransport(tr), client.WithHeartbeat(0, 0))
			buf := make([]byte, 0, 4096)
			warm := func() {
				for range 2000 {
					cl.Ping(ctx)
					buf, _, _ = cl.AppendComplete(ctx, buf[:0], req)
				}
			}
			warm()
			if n := testing.AllocsPerRun(500, func() {
				if _, err := cl.Ping(ctx); err != nil {
					t.Fatal(err)
				}
			}); n > 0 {
				t.Errorf("Ping: %v allocs", n)
			}
			if n := testing.AllocsPerRun(500, func() {
				var err error
				if buf, _, err = cl.AppendComplete(ctx, buf[:0], req); err != nil {
					t.Fatal(err)
				}
			}); n > 0 {
				t.Errorf("AppendComplete: %v allocs", n)
			}
			mfs := scrape(t, srv)
			if v := value(t, mfs, "ringwire_request_duration_seconds", "type=CompletionRequest"); v < 500 {
				t.Errorf("completions timed: %v", v)
			}
		})
	}
}

// BenchmarkMetrics is a Ping and a 1 KiB one-shot completion
// (AppendComplete) over shared memory to an in-process daemon, with
// metrics on and off: the cost of the metrics on the hot path. Compare
// the two interleaved (see README.md, "Metrics").
func BenchmarkMetrics(b *testing.B) {
	prompt := strings.Repeat("lorem ipsum dolor sit amet, ", 1024/28+1)[:1000]
	req := &protocol.CompletionRequest{Model: "mock-1", MaxTokens: 4,
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: prompt}}}
	for _, op := range []string{"Ping", "AppendComplete1KiB"} {
		for _, on := range []bool{true, false} {
			name := fmt.Sprintf("op=%s/metrics=%s", op, map[bool]string{true: "on", false: "off"}[on])
			b.Run(name, func(b *testing.B) {
				cfg := Config{}
				if on {
					cfg.MetricsAddr = "127.0.0.1:0"
				}
				srv := testServer(b, cfg)
				cl := dial(b, srv, client.WithTransport(protocol.TransportShm), client.WithHeartbeat(0, 0))
				ctx := context.Background()
				buf := make([]byte, 0, 4096)
				call := func() {
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
				start := time.Now()
				for i := 0; i < 1000 || time.Since(start) < 50*time.Millisecond; i++ {
					call()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					call()
				}
			})
		}
	}
}

// BenchmarkMetricsPaired measures the metrics' cost with fine pairing:
// two in-process daemons, one with metrics and one without, called in
// alternating runs of 64 calls (long enough for the rings' spin-then-park
// wake-ups to stay on their fast path, short enough, about a millisecond,
// that a change of the machine's load slows both alike), the order
// swapped every pair of runs. It reports the median, over the pairs of
// runs, of the ratio of their times (a/b-ratio; 1 is no cost) beside each
// side's time per call; an op is one call. pair=on-vs-off has metrics on
// side a; pair=off-vs-off, with metrics on neither, is the control: what
// the design itself gives when both sides are the same.
func BenchmarkMetricsPaired(b *testing.B) {
	prompt := strings.Repeat("lorem ipsum dolor sit amet, ", 1024/28+1)[:1000]
	req := &protocol.CompletionRequest{Model: "mock-1", MaxTokens: 4,
		Messages: []protocol.ChatMessage{{Role: protocol.RoleUser, Content: prompt}}}
	for _, bc := range []struct {
		op   string
		a, b bool // metrics on sides a and b
	}{{"Ping", true, false}, {"Ping", false, false}, {"AppendComplete1KiB", true, false}, {"AppendComplete1KiB", false, false}} {
		op := bc.op
		name := fmt.Sprintf("op=%s/pair=%s-vs-off", op, map[bool]string{true: "on", false: "off"}[bc.a])
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var calls [2]func() // 0: side a, 1: side b
			var wakeups [2]func() uint64
			for i, on := range []bool{bc.a, bc.b} {
				var cfg Config
				if on {
					cfg.MetricsAddr = "127.0.0.1:0"
				}
				srv := testServer(b, cfg)
				if (srv.m != nil) != on {
					b.Fatal("metrics on the wrong side")
				}
				cl := dial(b, srv, client.WithTransport(protocol.TransportShm), client.WithHeartbeat(0, 0))
				wakeups[i] = func() uint64 { return daemonWakeups(srv) }
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
			var w0 [2]uint64
			count := pairbench.Run(b, calls, func() { w0 = [2]uint64{wakeups[0](), wakeups[1]()} })
			for i, side := range [2]string{"a", "b"} {
				b.ReportMetric(float64(wakeups[i]()-w0[i])/float64(count[i]), side+"-wakeups/call")
			}
		})
	}
}

// daemonWakeups sums the wake-ups the daemon's shared-memory sessions
// sent to a parked client: how often a client had stopped spinning and
// parked before its answer came.
func daemonWakeups(srv *Server) uint64 {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var n uint64
	for _, sess := range srv.sessions {
		if fc, ok := sess.fc.(*shmFrameConn); ok {
			n += fc.Stats().Wakeups
		}
	}
	return n
}

// TestDurationHistogram: observations land in the right buckets
// (cumulative, upper bounds inclusive), the sum is in seconds, and a
// child exported from two histograms is their sum.
func TestDurationHistogram(t *testing.T) {
	var a, b durationHistogram
	a.observe(10_000)     // 10 µs: the first bucket (le 1e-05)
	a.observe(10_001)     // just above: the second
	a.observe(-5)         // counts as 0
	b.observe(2e9)        // 2 s: le 3.162...
	b.observe(1000 * 1e9) // above every bound: +Inf only
	v := newHistogramVec("x_seconds", "test", "k")
	v.add([]string{"a"}, &a)
	v.add([]string{"ab"}, &a, &b)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(v)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.Histogram{}
	for _, m := range mfs[0].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetHistogram()
	}
	ha, hab := got["a"], got["ab"]
	if ha.GetSampleCount() != 3 || hab.GetSampleCount() != 5 {
		t.Fatalf("counts %d, %d", ha.GetSampleCount(), hab.GetSampleCount())
	}
	if s := hab.GetSampleSum(); s < 1002.00002 || s > 1002.00003 {
		t.Errorf("sum %v", s)
	}
	if len(ha.GetBucket()) != len(latencyBounds) {
		t.Fatalf("%d buckets", len(ha.GetBucket()))
	}
	for i, want := range map[int]uint64{0: 2, 1: 3, 14: 3} {
		if n := ha.GetBucket()[i].GetCumulativeCount(); n != want {
			t.Errorf("a: bucket le %v holds %d, want %d", ha.GetBucket()[i].GetUpperBound(), n, want)
		}
	}
	for i, want := range map[int]uint64{10: 3, 11: 4, 14: 4} {
		if n := hab.GetBucket()[i].GetCumulativeCount(); n != want {
			t.Errorf("ab: bucket le %v holds %d, want %d", hab.GetBucket()[i].GetUpperBound(), n, want)
		}
	}
	if ub := ha.GetBucket()[0].GetUpperBound(); ub != 1e-5 {
		t.Errorf("first bound %v", ub)
	}
	if ub := ha.GetBucket()[14].GetUpperBound(); ub != 100 {
		t.Errorf("last bound %v", ub)
	}
}
