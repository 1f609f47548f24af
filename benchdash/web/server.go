// Package web serves the benchdash dashboard: a runs list with the A/B
// gate's verdict, run pages with their comparison against an A/B session's
// side A or a baseline (grouped by unit, the gate's marks), per-benchmark
// history charts on a commit axis in history order (server-side SVG drawn
// with gonum.org/v1/plot, see CommitOrder), a regressions page, and
// JSON endpoints for everything the pages show, GET /api/verdict (the
// gate's verdict on a run as JSON or Markdown, JudgeRun) and POST /api/runs
// for uploading a benchmark results file (idempotent by content hash;
// guarded by Options.Token, else loopback only). Templates and styles are
// embedded; the pages work offline.
//
//	st, _ := store.Open(ctx, "bench/benchdash.db")
//	http.ListenAndServe("127.0.0.1:8080", web.New(st, web.Options{Commits: &web.GitHistory{Dir: "."}}))
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/ringwire/ringwire/benchdash/store"
)

//go:embed static
var staticFS embed.FS

// Options configure a Server. The zero value works.
type Options struct {
	// ResultsDir, when set, is where POST /api/runs saves each accepted
	// upload as a benchfmt file, so that "benchdash rebuild" and the next
	// serve find it. serve passes its -runs directory (bench/local/runs,
	// ignored by git): a run posted to a developer's dashboard must not
	// dirty the checkout it serves from; bench:save is what shares a run.
	ResultsDir string
	// Logger receives server errors; default slog.Default().
	Logger *slog.Logger
	// MarkThreshold is how much worse, in percent, a significant regression
	// must be to be marked on history charts (default 10; negative marks
	// every significant regression).
	MarkThreshold float64
	// Commits orders the history chart's x axis as the repository's history
	// does (`benchdash serve` passes a GitHistory of the directory it runs
	// in). Nil, or a commit it does not know, orders commits by when they
	// were first measured.
	Commits CommitOrder
	// Token, when set, is the write token: POST /api/runs must carry it
	// ("Authorization: Bearer <token>", compared in constant time) or is
	// answered 401 and stores nothing. Without a token the server is
	// read-only to the network: only loopback clients may post (403 for
	// the others). See guardWrite.
	Token string
}

// Server is the dashboard's http.Handler.
type Server struct {
	st    *store.Store
	opts  Options
	pages map[string]*template.Template
	mux   *http.ServeMux
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
	s.mux.HandleFunc("POST /api/runs", s.guardWrite(s.apiIngest))
	s.mux.HandleFunc("GET /api/verdict", s.apiVerdict)
	s.mux.HandleFunc("GET /api/runs/{id}", s.apiRun)
	s.mux.HandleFunc("GET /api/benchmarks", s.apiBenchmarks)
	s.mux.HandleFunc("GET /api/benchmarks/{id}/history", s.apiHistory)
	s.mux.HandleFunc("GET /api/regressions", s.apiRegressions)
	s.mux.HandleFunc("GET /api/baselines", s.apiBaselines)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }
