package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// benchData is what a benchmark's history page (GET /bench/{id}) and its chart
// show; apiHistory (api.go) answers the same as JSON.
type benchData struct {
	page
	Bench         *store.Benchmark
	HigherBetter  bool
	History       *store.HistoryResult
	Recent        []store.Point
	SVG           template.HTML
	MarkThreshold float64
	// Axis is the chart's x axis: the points' commits in history order.
	Axis *commitAxis
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
	d.Axis = newCommitAxis(ctx, s.opts.Commits, d.History.Points)
	if withChart {
		svg, err := renderChart(d.History, d.Axis, b.Name, d.Filter.Unit)
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
