package web

import (
	"net/http"
	"slices"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// regressionsData is what the regressions page (GET /regressions) shows;
// apiRegressions (api.go) answers the same as JSON.
type regressionsData struct {
	page
	Kind string
	Rows []store.RegressionRow
	// Groups are Rows by unit, so that a count (allocs/op) going from 1 to
	// 2 is not ranked among times: each unit's rows worst first, units in
	// table order (times first).
	Groups []regGroup
}

// regGroup is one unit's rows on the regressions page.
type regGroup struct {
	Unit         string
	HigherBetter bool
	Count        bool
	Rows         []regRow
}

// regRow is a regression with both sides' medians and intervals.
type regRow struct {
	store.RegressionRow
	Rank     int // in the whole list, worst first
	Old, New compare.Summary
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
	if err != nil {
		return nil, err
	}
	sums, err := s.st.RegressionIntervals(r.Context(), d.Rows)
	if err != nil {
		return nil, err
	}
	byUnit := map[string]int{}
	for i, row := range d.Rows {
		g, ok := byUnit[row.Unit]
		if !ok {
			g = len(d.Groups)
			byUnit[row.Unit] = g
			d.Groups = append(d.Groups, regGroup{Unit: row.Unit, HigherBetter: compare.HigherIsBetter(row.Unit), Count: compare.IsCount(row.Unit)})
		}
		d.Groups[g].Rows = append(d.Groups[g].Rows, regRow{RegressionRow: row, Rank: i + 1, Old: sums[i][0], New: sums[i][1]})
	}
	slices.SortStableFunc(d.Groups, func(a, b regGroup) int {
		return compare.CompareKeys(compare.Key{Unit: a.Unit}, compare.Key{Unit: b.Unit})
	})
	return d, nil
}

func (s *Server) regressionsPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.regressionsData(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "regressions", d)
}
