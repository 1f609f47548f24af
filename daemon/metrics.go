package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringwire/ringwire/protocol"
)

// MetricsPath is the path the metrics endpoint (Config.MetricsAddr)
// serves, in Prometheus's text exposition format.
const MetricsPath = "/metrics"

// metricTypes are the message types counted under their own name in the
// type label; every other type is counted as "Application" (0x8000 up,
// but not 0xFFF0 up) or "Unknown". The label's values are this fixed
// table, whatever a peer sends.
var metricTypes = [...]protocol.MsgType{
	protocol.MsgCompletionRequest, protocol.MsgCompletionResponse, protocol.MsgStreamChunk,
	protocol.MsgError, protocol.MsgHeartbeat, protocol.MsgCancel,
	protocol.MsgHandshake, protocol.MsgHandshakeAck, protocol.MsgDisconnect,
	protocol.MsgToolCall, protocol.MsgToolResult, protocol.MsgStats, protocol.MsgCredit,
}

const (
	typeApplication = len(metricTypes)
	typeUnknown     = typeApplication + 1
	numMetricTypes  = typeUnknown + 1
)

// typeIndex is t's index in the per-type arrays of metrics.
func typeIndex(t protocol.MsgType) int {
	switch t {
	case protocol.MsgCompletionRequest:
		return 0
	case protocol.MsgCompletionResponse:
		return 1
	case protocol.MsgStreamChunk:
		return 2
	case protocol.MsgError:
		return 3
	case protocol.MsgHeartbeat:
		return 4
	case protocol.MsgCancel:
		return 5
	case protocol.MsgHandshake:
		return 6
	case protocol.MsgHandshakeAck:
		return 7
	case protocol.MsgDisconnect:
		return 8
	case protocol.MsgToolCall:
		return 9
	case protocol.MsgToolResult:
		return 10
	case protocol.MsgStats:
		return 11
	case protocol.MsgCredit:
		return 12
	}
	if t >= protocol.MsgAppMin && t < protocol.MsgReservedMin {
		return typeApplication
	}
	return typeUnknown
}

// typeLabel is the type label of index i.
func typeLabel(i int) string {
	switch i {
	case typeApplication:
		return "Application"
	case typeUnknown:
		return "Unknown"
	}
	return metricTypes[i].String()
}

// numErrorCodes is the number of error codes protocol defines
// (ErrCodeNone … ErrCodeInternal); application codes (from
// protocol.ErrCodeAppMin) share the label "App", anything else "Unknown".
const (
	numErrorCodes  = int(protocol.ErrCodeInternal) + 1
	codeApp        = numErrorCodes
	codeUnknown    = numErrorCodes + 1
	numCodeLabels  = codeUnknown + 1
	errCodeAppName = "App"
)

func codeIndex(c protocol.ErrorCode) int {
	switch {
	case int(c) < numErrorCodes:
		return int(c)
	case c >= protocol.ErrCodeAppMin:
		return codeApp
	}
	return codeUnknown
}

func codeLabel(i int) string {
	switch i {
	case codeApp:
		return errCodeAppName
	case codeUnknown:
		return "Unknown"
	}
	return protocol.ErrorCode(i).String()
}

// Reasons a connection is refused at setup (ringwire_sessions_refused_total).
const (
	refusedTooManyConns = iota
	refusedDraining
	numRefusedReasons
)

// Tool call outcomes (ringwire_tool_calls_total).
const (
	toolOK       = iota // a ToolResult without IsError
	toolError           // a ToolResult with IsError (the tool failed, or no such tool)
	toolCanceled        // a Canceled Error frame: the client or the drain canceled it
	numToolOutcomes
)

var toolOutcomeNames = [numToolOutcomes]string{"ok", "error", "canceled"}

// unknownTool is the tool label of a call naming a tool the daemon does
// not serve.
const unknownTool = "unknown"

// toolMetrics are the children of one tool's label.
type toolMetrics struct {
	calls    [numToolOutcomes]prometheus.Counter
	duration durationHistogram
}

// metrics are a Server's Prometheus metrics (see README.md, "Metrics").
// Every labelled child is made once, in newMetrics, and what the hot path
// touches sits side by side here in arrays indexed by message type,
// error code and so on: a hook is atomic adds (a histogram observation is
// two), never a label lookup, a lock or an allocation, and touches a
// handful of cache lines. A Server without metrics has a nil *metrics,
// and every hook is a nil check.
type metrics struct {
	framesIn  [numMetricTypes]atomic.Uint64
	framesOut [numMetricTypes]atomic.Uint64
	// Bytes received (in) and sent (out), per transport.
	shmIn, shmOut, sockIn, sockOut atomic.Uint64
	promptTokens, completionTokens atomic.Uint64
	errors                         [numCodeLabels]atomic.Uint64
	refused                        [numRefusedReasons]atomic.Uint64

	firstToken, providerDur durationHistogram
	// oneShot holds the completions answered at once by an AppendProvider
	// inline, whose request duration, time to first token and provider
	// duration are one and the same: observed once, exported in all three.
	oneShot durationHistogram
	// requestDur is observed for the types timed says (those a handler
	// can serve).
	requestDur [numMetricTypes]durationHistogram
	timed      [numMetricTypes]bool

	reg     *prometheus.Registry
	tools   map[string]*toolMetrics // the served tools and unknownTool, by name
	unknown *toolMetrics            // tools[unknownTool]
}

// newMetrics creates the metrics of srv and registers them, with the Go
// and process collectors, in reg.
func newMetrics(srv *Server, reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{reg: reg, tools: map[string]*toolMetrics{}}
	framesIn := newCounterVec("ringwire_frames_received_total",
		"Frames received from clients, by message type (Application: 0x8000-0xFFEF; Unknown: any other unassigned type).", "type")
	framesOut := newCounterVec("ringwire_frames_sent_total", "Frames sent to clients, by message type.", "type")
	requestDur := newHistogramVec("ringwire_request_duration_seconds",
		"Time from a request's arrival to the end of its handler (its terminal frame sent), by request type. Heartbeats, answered by the reader itself, are not timed.",
		"type")
	for i := range numMetricTypes {
		l := typeLabel(i)
		framesIn.add(&m.framesIn[i], l)
		framesOut.add(&m.framesOut[i], l)
		if i == typeApplication || i == typeUnknown || routable(metricTypes[i]) {
			m.timed[i] = true
			hs := []*durationHistogram{&m.requestDur[i]}
			if i == typeIndex(protocol.MsgCompletionRequest) {
				hs = append(hs, &m.oneShot)
			}
			requestDur.add([]string{l}, hs...)
		}
	}
	errs := newCounterVec("ringwire_errors_total",
		"Error frames sent to clients, by error code (App: application codes from 0x8000).", "code")
	for i := range numCodeLabels {
		errs.add(&m.errors[i], codeLabel(i))
	}
	bytes := newCounterVec("ringwire_transport_bytes_total",
		"Bytes of frames received (direction=\"in\") and sent (\"out\"), as they crossed the ring or the socket, by transport.",
		"transport", "direction")
	bytes.add(&m.shmIn, "shm", "in")
	bytes.add(&m.shmOut, "shm", "out")
	bytes.add(&m.sockIn, "socket", "in")
	bytes.add(&m.sockOut, "socket", "out")
	firstToken := newHistogramVec("ringwire_provider_first_token_seconds",
		"Time from a completion request's arrival to the provider's first piece of the reply (the whole reply, for a one-shot provider).")
	firstToken.add(nil, &m.firstToken, &m.oneShot)
	providerDur := newHistogramVec("ringwire_provider_duration_seconds",
		"Time from a completion request's arrival to the provider's end, failed completions included.")
	providerDur.add(nil, &m.providerDur, &m.oneShot)
	tokens := newCounterVec("ringwire_provider_tokens_total",
		"Tokens of completed completions as the provider reported them (Usage), by kind: prompt or completion.", "kind")
	tokens.add(&m.promptTokens, "prompt")
	tokens.add(&m.completionTokens, "completion")
	toolCalls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringwire_tool_calls_total",
		Help: "Tool calls, by tool (unknown: a name the daemon does not serve) and outcome: ok, error (a ToolResult with is_error) or canceled.",
	}, []string{"tool", "outcome"})
	toolDur := newHistogramVec("ringwire_tool_duration_seconds", "Time a tool call took, by tool.", "tool")
	for _, name := range append(servedTools(srv.cfg.DebugTools), unknownTool) {
		tm := &toolMetrics{}
		toolDur.add([]string{name}, &tm.duration)
		for o := range numToolOutcomes {
			tm.calls[o] = toolCalls.WithLabelValues(name, toolOutcomeNames[o])
		}
		m.tools[name] = tm
	}
	m.unknown = m.tools[unknownTool]
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ringwire_build_info",
		Help:        "Always 1; the version label is ringwired's version.",
		ConstLabels: prometheus.Labels{"version": Version, "provider": srv.cfg.Provider.Name()},
	})
	build.Set(1)
	own := []prometheus.Collector{framesIn, framesOut, requestDur, errs, bytes, firstToken, providerDur,
		tokens, toolCalls, toolDur, build, &serverCollector{srv: srv, m: m}}
	for i, c := range own {
		if err := reg.Register(c); err != nil {
			for _, c := range own[:i] {
				reg.Unregister(c)
			}
			return nil, fmt.Errorf("%w: metrics: %v (a registry holds the metrics of one Server)", ErrConfig, err)
		}
	}
	// A registry the application gave may hold these already.
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return nil, fmt.Errorf("%w: metrics: %v", ErrConfig, err)
		}
	}
	return m, nil
}

// routable reports whether requests of type t can reach a handler (see
// Mux.Handle).
func routable(t protocol.MsgType) bool {
	switch t {
	case protocol.MsgCompletionRequest, protocol.MsgToolCall, protocol.MsgStats:
		return true
	}
	return false
}

// servedTools lists the names of the tools the server serves.
func servedTools(debug bool) []string {
	return strings.Split(toolNames(debug), ", ")
}

// The hooks below are called where the events happen, on a non-nil m.

func (m *metrics) frameIn(t protocol.MsgType)  { m.framesIn[typeIndex(t)].Add(1) }
func (m *metrics) frameOut(t protocol.MsgType) { m.framesOut[typeIndex(t)].Add(1) }

func (m *metrics) errorSent(c protocol.ErrorCode) { m.errors[codeIndex(c)].Add(1) }

// epoch is the origin of monoNow.
var epoch = time.Now()

// monoNow reads the monotonic clock alone, in nanoseconds since epoch
// (always positive). time.Now reads the wall clock too, which doubles the
// cost of every timing on the hot path (each read is 60-200 ns on this
// project's KVM machine).
func monoNow() int64 { return int64(time.Since(epoch)) + 1 }

// requestDone observes the duration of a request of type t that arrived
// at start and ended at end (monoNow; 0: now).
func (m *metrics) requestDone(t protocol.MsgType, start, end int64) {
	if i := typeIndex(t); m.timed[i] {
		if end == 0 {
			end = monoNow()
		}
		m.requestDur[i].observe(end - start)
	}
}

// completion records a completion whose request arrived at start
// (monoNow), whose provider produced its first piece at first (0: none)
// and that ended now with u (nil: failed). It returns now.
func (m *metrics) completion(start, first int64, u *protocol.Usage) int64 {
	now := monoNow()
	if first > 0 {
		m.firstToken.observe(first - start)
	}
	m.providerDur.observe(now - start)
	if u != nil {
		m.promptTokens.Add(uint64(u.PromptTokens))
		m.completionTokens.Add(uint64(u.CompletionTokens))
	}
	return now
}

// oneShotDone records a completion whose request arrived at start
// (monoNow) answered at once, with u: its request duration, time to
// first token and provider duration are the time until now, observed
// once in m.oneShot. It returns now.
func (m *metrics) oneShotDone(start int64, u *protocol.Usage) int64 {
	now := monoNow()
	m.oneShot.observe(now - start)
	m.promptTokens.Add(uint64(u.PromptTokens))
	m.completionTokens.Add(uint64(u.CompletionTokens))
	return now
}

// tool returns the metrics of the tool named name.
func (m *metrics) tool(name string) *toolMetrics {
	if tm := m.tools[name]; tm != nil {
		return tm
	}
	return m.unknown
}

// done records a call of tool tm that started at start (monoNow).
func (tm *toolMetrics) done(outcome int, start int64) {
	tm.calls[outcome].Inc()
	tm.duration.observe(monoNow() - start)
}

// metricsOf returns the metrics of the server serving w and the call,
// or nil when w is not a call of a server with metrics.
func metricsOf(w ResponseWriter) (*metrics, *call) {
	if c, ok := w.(*call); ok && c.s.m != nil {
		return c.s.m, c
	}
	return nil, nil
}

// serverCollector computes, at scrape time, the metrics that are the
// server's state rather than counts of events: open sessions, requests in
// flight, refusals, ring occupancy.
type serverCollector struct {
	srv *Server
	m   *metrics
}

var (
	sessionsOpenDesc = prometheus.NewDesc("ringwire_sessions_open",
		"Sessions open now, by transport.", []string{"transport"}, nil)
	sessionsAcceptedDesc = prometheus.NewDesc("ringwire_sessions_accepted_total",
		"Sessions accepted since the daemon started.", nil, nil)
	sessionsRefusedDesc = prometheus.NewDesc("ringwire_sessions_refused_total",
		"Connections refused at setup, by reason: too_many_conns (Config.MaxConns), draining (shutting down), other_uid (a socket-transport peer of another user; shared memory drops those uncounted).",
		[]string{"reason"}, nil)
	inflightDesc = prometheus.NewDesc("ringwire_requests_in_flight",
		"Requests being served now.", nil, nil)
	ringUsedDesc = prometheus.NewDesc("ringwire_ring_used_bytes",
		"Bytes waiting in the shared-memory rings of all sessions, by ring: send (daemon to client) or receive.",
		[]string{"ring"}, nil)
	ringCapDesc = prometheus.NewDesc("ringwire_ring_capacity_bytes",
		"Capacity of the shared-memory rings of all sessions, by ring.", []string{"ring"}, nil)
	ringFullestDesc = prometheus.NewDesc("ringwire_ring_fullest_ratio",
		"Occupancy (used/capacity, 0-1) of the fullest shared-memory ring of any session, by ring.", []string{"ring"}, nil)
)

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sessionsOpenDesc, sessionsAcceptedDesc, sessionsRefusedDesc, inflightDesc,
		ringUsedDesc, ringCapDesc, ringFullestDesc} {
		ch <- d
	}
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.srv
	var open [2]float64 // shm, socket
	var used, capacity [2]uint64
	var fullest [2]float64 // send, receive
	s.mu.Lock()
	var uidRefused uint64
	if s.sockLn != nil {
		uidRefused = s.sockLn.Refused()
	}
	list := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	for _, sess := range list {
		if sess.info.Transport == protocol.TransportShm {
			open[0]++
		} else {
			open[1]++
		}
		if sess.stats == nil {
			continue
		}
		txUsed, txCap, rxUsed, rxCap := sess.stats()
		for i, r := range [2][2]uint64{{txUsed, txCap}, {rxUsed, rxCap}} {
			used[i] += r[0]
			capacity[i] += r[1]
			if r[1] > 0 {
				fullest[i] = max(fullest[i], float64(r[0])/float64(r[1]))
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(sessionsOpenDesc, prometheus.GaugeValue, open[0], "shm")
	ch <- prometheus.MustNewConstMetric(sessionsOpenDesc, prometheus.GaugeValue, open[1], "socket")
	ch <- prometheus.MustNewConstMetric(sessionsAcceptedDesc, prometheus.CounterValue, float64(s.accepted.Load()))
	ch <- prometheus.MustNewConstMetric(sessionsRefusedDesc, prometheus.CounterValue,
		float64(c.m.refused[refusedTooManyConns].Load()), "too_many_conns")
	ch <- prometheus.MustNewConstMetric(sessionsRefusedDesc, prometheus.CounterValue,
		float64(c.m.refused[refusedDraining].Load()), "draining")
	ch <- prometheus.MustNewConstMetric(sessionsRefusedDesc, prometheus.CounterValue, float64(uidRefused), "other_uid")
	ch <- prometheus.MustNewConstMetric(inflightDesc, prometheus.GaugeValue, float64(max(s.inflight.Load(), 0)))
	for i, ring := range [2]string{"send", "receive"} {
		ch <- prometheus.MustNewConstMetric(ringUsedDesc, prometheus.GaugeValue, float64(used[i]), ring)
		ch <- prometheus.MustNewConstMetric(ringCapDesc, prometheus.GaugeValue, float64(capacity[i]), ring)
		ch <- prometheus.MustNewConstMetric(ringFullestDesc, prometheus.GaugeValue, fullest[i], ring)
	}
}

// metricsEndpoint is the HTTP server of Config.MetricsAddr.
type metricsEndpoint struct {
	ln      net.Listener
	http    *http.Server
	started atomic.Bool   // serveMetrics ran
	done    chan struct{} // closed when the serving goroutine ends
}

// listenMetrics opens Config.MetricsAddr, if set; Listen calls it.
func (s *Server) listenMetrics() error {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("daemon: metrics: listen %s: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(MetricsPath, s.MetricsHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "ringwired %s: metrics at %s\n", Version, MetricsPath)
	})
	s.metricsEP = &metricsEndpoint{
		ln: ln,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    16 << 10,
		},
		done: make(chan struct{}),
	}
	addr := ln.Addr().String()
	s.log.Info("metrics listening", "addr", addr, "url", "http://"+addr+MetricsPath)
	return nil
}

// serveMetrics serves the metrics endpoint until closeMetrics.
func (s *Server) serveMetrics() {
	ep := s.metricsEP
	if ep == nil {
		return
	}
	ep.started.Store(true)
	go func() {
		defer close(ep.done)
		if err := ep.http.Serve(ep.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("metrics endpoint stopped", "err", err)
		}
	}()
}

// closeMetrics stops the metrics endpoint, if it was opened, and waits
// for its goroutine, if serveMetrics started it. Shutdown calls it last,
// so the endpoint shows the drain.
func (s *Server) closeMetrics() {
	s.mu.Lock()
	ep := s.metricsEP
	s.mu.Unlock()
	if ep == nil {
		return
	}
	ep.http.Close()
	ep.ln.Close()
	if ep.started.Load() {
		<-ep.done
	}
}

// MetricsAddr returns the address the metrics endpoint listens on (with
// the port the system chose for a Config.MetricsAddr ending in ":0"), or
// nil when it is off or Listen has not run.
func (s *Server) MetricsAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metricsEP == nil {
		return nil
	}
	return s.metricsEP.ln.Addr()
}

// MetricsRegistry returns the registry holding the server's metrics
// (Config.MetricsRegistry, or the server's own), or nil when metrics are
// off.
func (s *Server) MetricsRegistry() *prometheus.Registry {
	if s.m == nil {
		return nil
	}
	return s.m.reg
}

// MetricsHandler returns the http.Handler serving the server's metrics
// in Prometheus's exposition formats, for an application that serves
// them itself (Config.MetricsRegistry without MetricsAddr), or nil when
// metrics are off.
func (s *Server) MetricsHandler() http.Handler {
	if s.m == nil {
		return nil
	}
	return promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{
		ErrorLog: slogPrintln{s},
		// A scrape is some 35 kB of text over loopback: gzip or zstd
		// would save nothing worth their encoders' memory (a gzip
		// writer's state alone is over half a megabyte).
		DisableCompression:  true,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// slogPrintln passes promhttp's errors to the server's log.
type slogPrintln struct{ s *Server }

func (l slogPrintln) Println(v ...any) {
	l.s.log.Warn("metrics: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// metricsEnabled reports whether cfg asks for metrics.
func (c *Config) metricsEnabled() bool { return c.MetricsAddr != "" || c.MetricsRegistry != nil }
