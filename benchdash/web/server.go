// Package web serves the benchdash dashboard: a runs list, run pages with
// their comparison against a baseline, per-benchmark history charts
// (server-side SVG drawn with gonum.org/v1/plot), a regressions page, and
// JSON endpoints for everything the pages show plus POST /api/runs for
// uploading a benchmark results file. Templates and styles are embedded;
// the pages work offline.
//
//	st, _ := store.Open(ctx, "bench/benchdash.db")
//	http.ListenAndServe("127.0.0.1:8080", web.New(st, web.Options{}))
package web

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Server. The zero value works.
type Options struct {
	// ResultsDir, when set, is where POST /api/runs saves each accepted
	// upload as a benchfmt file, so that "benchdash rebuild" finds it.
	ResultsDir string
	// Logger receives server errors; default slog.Default().
	Logger *slog.Logger
	// MarkThreshold is how much worse, in percent, a significant regression
	// must be to be marked on history charts (default 10; negative marks
	// every significant regression).
	MarkThreshold float64
}

// Server is the dashboard's http.Handler.
type Server struct {
	st    *store.Store
	opts  Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"summary": func(s compare.Summary, unit string) string { return compare.FormatSummary(s, unit) },
	"value":   func(v float64, unit string) string { return compare.FormatValue(v, unit) },
	"delta":   func(r compare.Row) string { return compare.FormatDelta(r) },
	"pval": func(r compare.Row) string {
		if r.Old.N == 0 || r.New.N == 0 {
			return fmt.Sprintf("n=%d+%d", r.Old.N, r.New.N)
		}
		return fmt.Sprintf("%.3f (n=%d+%d)", r.P, r.Old.N, r.New.N)
	},
	"inc": func(i int) int { return i + 1 },
}

// New returns a Server reading and writing st.
func New(st *store.Store, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MarkThreshold == 0 {
		opts.MarkThreshold = 10
	}
	s := &Server{st: st, opts: opts, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	for _, p := range []string{"runs", "run", "bench", "regressions", "benchmarks"} {
		s.pages[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /{$}", s.runsPage)
	s.mux.HandleFunc("GET /runs/{id}", s.runPage)
	s.mux.HandleFunc("GET /bench/{id}", s.benchPage)
	s.mux.HandleFunc("GET /bench/{id}/chart.svg", s.chartSVG)
	s.mux.HandleFunc("GET /regressions", s.regressionsPage)
	s.mux.HandleFunc("GET /benchmarks", s.benchmarksPage)
	s.mux.HandleFunc("GET /api/runs", s.apiRuns)
	s.mux.HandleFunc("POST /api/runs", s.apiIngest)
	s.mux.HandleFunc("GET /api/runs/{id}", s.apiRun)
	s.mux.HandleFunc("GET /api/benchmarks", s.apiBenchmarks)
	s.mux.HandleFunc("GET /api/benchmarks/{id}/history", s.apiHistory)
	s.mux.HandleFunc("GET /api/regressions", s.apiRegressions)
	s.mux.HandleFunc("GET /api/baselines", s.apiBaselines)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// httpError is an error with the status it should be answered with.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Errorf(format, args...)}
}

func (s *Server) status(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, asJSON bool) {
	code := s.status(err)
	if code == http.StatusInternalServerError {
		s.opts.Logger.Error("benchdash request failed", "path", r.URL.Path, "err", err)
	}
	if asJSON {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	http.Error(w, err.Error(), code)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, page string, data any) {
	var b strings.Builder
	if err := s.pages[page].ExecuteTemplate(&b, "layout", data); err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, b.String())
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("bad id %q", r.PathValue("id"))
	}
	return id, nil
}

func intParam(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("bad %s %q: want a non-negative integer", name, v)
	}
	if max > 0 && n > max {
		n = max
	}
	return n, nil
}

// page is what every template sees.
type page struct {
	Title    string
	JSON     string
	Filter   filter
	Machines []string
	Branches []string
	Units    []string
	AnyUnit  bool
	Hidden   map[string]string
}

type filter struct{ Machine, Branch, Unit string }

func (s *Server) filterOptions(r *http.Request, p *page, units bool) error {
	q := r.URL.Query()
	p.Filter = filter{Machine: q.Get("machine"), Branch: q.Get("branch"), Unit: q.Get("unit")}
	var err error
	if p.Machines, err = s.st.Distinct(r.Context(), "machine"); err != nil {
		return err
	}
	if p.Branches, err = s.st.Distinct(r.Context(), "branch"); err != nil {
		return err
	}
	if units {
		if p.Units, err = s.st.Distinct(r.Context(), "unit"); err != nil {
			return err
		}
	}
	return nil
}

// ---- runs list

type runsData struct {
	page
	Runs      []store.RunInfo
	Total     int
	Baselines []store.Baseline
	Prev      string
	Next      string
}

const runsPerPage = 50

func (s *Server) runsData(r *http.Request) (*runsData, error) {
	q := r.URL.Query()
	off, err := intParam(q, "offset", 0, 0)
	if err != nil {
		return nil, err
	}
	lim, err := intParam(q, "limit", runsPerPage, 1000)
	if err != nil {
		return nil, err
	}
	if lim == 0 {
		lim = runsPerPage
	}
	d := &runsData{page: page{Title: "Runs", JSON: "/api/runs?" + q.Encode()}}
	if err := s.filterOptions(r, &d.page, false); err != nil {
		return nil, err
	}
	d.Runs, d.Total, err = s.st.ListRuns(r.Context(), store.RunFilter{Branch: d.Filter.Branch, Machine: d.Filter.Machine, Limit: lim, Offset: off})
	if err != nil {
		return nil, err
	}
	if d.Baselines, err = s.st.Baselines(r.Context()); err != nil {
		return nil, err
	}
	link := func(o int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("offset", strconv.Itoa(o))
		return "/?" + v.Encode()
	}
	if off > 0 {
		d.Prev = link(max(0, off-lim))
	}
	if off+lim < d.Total {
		d.Next = link(off + lim)
	}
	return d, nil
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.runsData(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "runs", d)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	d, err := s.runsData(r)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	runs := d.Runs
	if runs == nil {
		runs = []store.RunInfo{}
	}
	bases := d.Baselines
	if bases == nil {
		bases = []store.Baseline{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "total": d.Total, "baselines": bases})
}

// ---- run page

type runData struct {
	page
	Run       *store.RunInfo
	Base      *store.RunInfo
	BaseLabel string
	NoBase    string
	Info      store.ComparisonInfo
	Rows      []store.DeltaRow
	Geomeans  []compare.Geomean
}

func (s *Server) runData(r *http.Request) (*runData, error) {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	run, err := s.st.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &runData{page: page{Title: fmt.Sprintf("Run #%d", id), JSON: fmt.Sprintf("/api/runs/%d?%s", id, r.URL.RawQuery)}, Run: run}
	against := r.URL.Query().Get("against")
	var baseID int64
	kind := store.KindAdhoc
	switch {
	case against == "" || against == "baseline":
		baseID, err = s.st.GetBaseline(ctx, run.Machine, store.DefaultBaseline)
		d.BaseLabel, kind = "the baseline of "+run.Machine, store.KindBaseline
		if errors.Is(err, store.ErrNotFound) || baseID == id {
			if baseID == id {
				d.NoBase = "This run is the baseline of its machine."
			} else {
				d.NoBase = "Machine " + run.Machine + " has no baseline yet (benchdash save marks one)."
			}
			baseID, err = 0, nil
			if against == "" {
				if p, perr := s.st.Previous(ctx, id); perr == nil {
					baseID, d.BaseLabel, kind = p, "the previous run", store.KindPrevious
				}
			}
		}
	case against == "previous":
		baseID, err = s.st.Previous(ctx, id)
		d.BaseLabel, kind = "the previous run", store.KindPrevious
		if errors.Is(err, store.ErrNotFound) {
			d.NoBase, baseID, err = "No earlier run on this machine and branch.", 0, nil
		}
	case strings.HasPrefix(against, "run:"):
		baseID, err = strconv.ParseInt(strings.TrimPrefix(against, "run:"), 10, 64)
		if err != nil {
			return nil, badRequest("bad against %q", against)
		}
		d.BaseLabel = fmt.Sprintf("run #%d", baseID)
	case strings.HasPrefix(against, "commit:"):
		baseID, err = s.st.RunByCommit(ctx, strings.TrimPrefix(against, "commit:"), run.Machine)
		d.BaseLabel = "commit " + strings.TrimPrefix(against, "commit:")
	default:
		return nil, badRequest("bad against %q: want baseline, previous, run:ID or commit:SHA", against)
	}
	if err != nil {
		return nil, err
	}
	if baseID == 0 {
		samples, err := s.st.Samples(ctx, id)
		if err != nil {
			return nil, err
		}
		res := compare.Compare(nil, samples, compare.Options{})
		for _, row := range res.Rows {
			d.Rows = append(d.Rows, store.DeltaRow{Row: row})
		}
		// Benchmark ids for the links.
		bs, err := s.st.Benchmarks(ctx)
		if err != nil {
			return nil, err
		}
		ids := map[[2]string]int64{}
		for _, b := range bs {
			ids[[2]string{b.Pkg, b.Name}] = b.ID
		}
		for i := range d.Rows {
			d.Rows[i].BenchID = ids[[2]string{d.Rows[i].Pkg, d.Rows[i].Name}]
		}
		return d, nil
	}
	if d.Base, err = s.st.GetRun(ctx, baseID); err != nil {
		return nil, err
	}
	if d.Info, d.Rows, err = s.st.Comparison(ctx, id, baseID, kind); err != nil {
		return nil, err
	}
	rows := make([]compare.Row, len(d.Rows))
	for i := range d.Rows {
		rows[i] = d.Rows[i].Row
	}
	d.Geomeans = compare.Geomeans(rows)
	return d, nil
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.runData(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "run", d)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	d, err := s.runData(r)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	out := map[string]any{"run": d.Run, "rows": jsonRows(d.Rows)}
	if d.Base != nil {
		out["base"] = d.Base
		out["against"] = d.BaseLabel
		out["comparison"] = d.Info
		out["geomeans"] = d.Geomeans
	} else {
		out["note"] = d.NoBase
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- benchmark history

type benchData struct {
	page
	Bench         *store.Benchmark
	HigherBetter  bool
	History       *store.HistoryResult
	Recent        []store.Point
	SVG           template.HTML
	MarkThreshold float64
}

func (s *Server) benchData(r *http.Request, withChart bool) (*benchData, error) {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	b, err := s.st.GetBenchmark(ctx, id)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	lim, err := intParam(q, "limit", 200, 5000)
	if err != nil {
		return nil, err
	}
	d := &benchData{page: page{Title: b.Name}, Bench: b, MarkThreshold: max(0, s.opts.MarkThreshold)}
	if err := s.filterOptions(r, &d.page, false); err != nil {
		return nil, err
	}
	if d.Filter.Unit == "" && len(b.Units) > 0 {
		d.Filter.Unit = b.Units[0]
	}
	d.Hidden = map[string]string{"unit": d.Filter.Unit}
	d.HigherBetter = compare.HigherIsBetter(d.Filter.Unit)
	d.JSON = fmt.Sprintf("/api/benchmarks/%d/history?%s", id, url.Values{"unit": {d.Filter.Unit}, "machine": {d.Filter.Machine}, "branch": {d.Filter.Branch}}.Encode())
	d.History, err = s.st.History(ctx, store.HistoryFilter{BenchID: id, Unit: d.Filter.Unit, Machine: d.Filter.Machine, Branch: d.Filter.Branch, Limit: lim, MinWorse: max(0, s.opts.MarkThreshold)})
	if err != nil {
		return nil, err
	}
	for i := len(d.History.Points) - 1; i >= 0 && len(d.Recent) < 50; i-- {
		d.Recent = append(d.Recent, d.History.Points[i])
	}
	if withChart {
		svg, err := renderChart(d.History, b.Name, d.Filter.Unit)
		if err != nil {
			return nil, err
		}
		if i := strings.Index(string(svg), "<svg"); i > 0 {
			svg = svg[i:]
		}
		d.SVG = template.HTML(svg) // drawn by vgsvg, which escapes all text
	}
	return d, nil
}

func (s *Server) benchPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.benchData(r, true)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "bench", d)
}

func (s *Server) chartSVG(w http.ResponseWriter, r *http.Request) {
	d, err := s.benchData(r, true)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write([]byte(d.SVG))
}

func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) {
	d, err := s.benchData(r, false)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"benchmark": d.Bench, "unit": d.Filter.Unit, "higher_is_better": d.HigherBetter,
		"points": jsonPoints(d.History.Points), "baselines": jsonPoints(d.History.Baselines)})
}

// ---- regressions

type regressionsData struct {
	page
	Kind string
	Rows []store.RegressionRow
}

func (s *Server) regressionsData(r *http.Request) (*regressionsData, error) {
	q := r.URL.Query()
	kind := q.Get("kind")
	switch kind {
	case "":
		kind = store.KindPrevious
	case store.KindPrevious, store.KindBaseline:
	default:
		return nil, badRequest("bad kind %q: want previous or baseline", kind)
	}
	lim, err := intParam(q, "limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	d := &regressionsData{page: page{Title: "Regressions", JSON: "/api/regressions?" + q.Encode(), AnyUnit: true, Hidden: map[string]string{"kind": kind}}, Kind: kind}
	if err := s.filterOptions(r, &d.page, true); err != nil {
		return nil, err
	}
	d.Rows, err = s.st.Regressions(r.Context(), store.RegressionFilter{Kind: kind, Machine: d.Filter.Machine, Branch: d.Filter.Branch, Unit: d.Filter.Unit, Limit: lim})
	return d, err
}

func (s *Server) regressionsPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.regressionsData(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "regressions", d)
}

func (s *Server) apiRegressions(w http.ResponseWriter, r *http.Request) {
	d, err := s.regressionsData(r)
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	rows := d.Rows
	if rows == nil {
		rows = []store.RegressionRow{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": d.Kind, "regressions": rows})
}

// ---- benchmarks and baselines

type benchmarksData struct {
	page
	Benchmarks []store.Benchmark
}

func (s *Server) benchmarksPage(w http.ResponseWriter, r *http.Request) {
	bs, err := s.st.Benchmarks(r.Context())
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "benchmarks", &benchmarksData{page: page{Title: "Benchmarks", JSON: "/api/benchmarks"}, Benchmarks: bs})
}

func (s *Server) apiBenchmarks(w http.ResponseWriter, r *http.Request) {
	bs, err := s.st.Benchmarks(r.Context())
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	if bs == nil {
		bs = []store.Benchmark{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"benchmarks": bs})
}

func (s *Server) apiBaselines(w http.ResponseWriter, r *http.Request) {
	bs, err := s.st.Baselines(r.Context())
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	if bs == nil {
		bs = []store.Baseline{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"baselines": bs})
}

// ---- upload

func (s *Server) apiIngest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := store.Overrides{Machine: q.Get("machine"), Branch: q.Get("branch"), Commit: q.Get("commit")}
	name := q.Get("name")
	if name == "" {
		name = "upload"
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, store.MaxFileSize))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body larger than %d bytes", store.MaxFileSize)})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading body: " + err.Error()})
		return
	}
	run, err := store.ParseBytes(data, name, o)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	res, err := s.st.Ingest(r.Context(), run)
	if errors.Is(err, store.ErrDuplicate) {
		writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "run_id": res.RunID})
		return
	}
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	if s.opts.ResultsDir != "" {
		if err := saveUpload(s.opts.ResultsDir, run, o, data); err != nil {
			s.opts.Logger.Error("saving upload to the results directory", "err", err)
		}
	}
	writeJSON(w, http.StatusCreated, res)
}

// saveUpload writes an accepted upload to dir, preceded by the overrides
// and the run's date as configuration lines, so that a rebuild finds it.
func saveUpload(dir string, run *store.Run, o store.Overrides, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var hdr strings.Builder
	for _, kv := range [][2]string{{"commit", o.Commit}, {"branch", o.Branch}, {"machine", o.Machine}} {
		if kv[1] != "" {
			fmt.Fprintf(&hdr, "%s: %s\n", kv[0], oneLine(kv[1]))
		}
	}
	if !strings.Contains(string(data), "\ndate:") && !strings.HasPrefix(string(data), "date:") {
		fmt.Fprintf(&hdr, "date: %s\n", run.Time.Format(time.RFC3339))
	}
	commit := run.Commit
	if commit == "" {
		commit = "upload"
	}
	name := fmt.Sprintf("%s-%s-run%d.txt", run.Time.Format("2006-01-02T150405Z"), safeName(commit), run.ID)
	return os.WriteFile(filepath.Join(dir, name), append([]byte(hdr.String()), data...), 0o644)
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 12 {
		b = b[:12]
	}
	return string(b)
}
