package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/ringwire/ringwire/benchdash/store"
)

// runsData is what the runs list (GET /) shows, newest first, a page at a time;
// apiRuns (api.go) answers the same as JSON.
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
