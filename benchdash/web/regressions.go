package web

import (
	"net/http"

	"github.com/ringwire/ringwire/benchdash/store"
)

// regressionsData is what the regressions page (GET /regressions) shows;
// apiRegressions (api.go) answers the same as JSON.
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
