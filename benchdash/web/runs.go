package web

import (
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ringwire/ringwire/benchdash/store"
)

// runsData is what the runs list (GET /) shows, newest first, a page at a time;
// apiRuns (api.go) answers the same as JSON.
type runsData struct {
	page
	Runs []store.RunInfo
	// Gates holds, by run id, the gate's verdict on the B side of an
	// interleaved A/B session (`benchdash bench`), as the command judged
	// it: B against its session's A, at the session's threshold.
	Gates     map[int64]*gateCell
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
	if d.Gates, err = s.gates(r, d.Runs); err != nil {
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

// gateCell is the gate's verdict on one A/B session, for the runs list.
type gateCell struct {
	ARun, BRun  int64
	Pass        bool
	Threshold   float64
	Gated       int
	Noisy       int
	Regressions int
	Uncorrected int     // would have failed without the correction for the family
	Worst       float64 // the worst failing regression, in percent
}

// gates judges the B runs among runs against their sessions' A runs, with
// the same comparison, A/A check and gate as `benchdash bench`.
func (s *Server) gates(r *http.Request, runs []store.RunInfo) (map[int64]*gateCell, error) {
	out := map[int64]*gateCell{}
	for _, ri := range runs {
		session := ri.Labels["session"]
		if session == "" || ri.Labels["side"] != "B" {
			continue
		}
		aID, err := s.st.SessionRun(r.Context(), session, "A")
		if err != nil {
			return nil, err
		}
		if aID == 0 {
			continue
		}
		v, _, err := s.judgeSession(r.Context(), aID, &ri)
		if err != nil {
			return nil, err
		}
		c := &gateCell{ARun: aID, BRun: ri.ID, Pass: len(v.Regressions) == 0, Threshold: v.Threshold, Gated: v.Gated, Noisy: len(v.Noisy), Regressions: len(v.Regressions), Uncorrected: len(v.Uncorrected)}
		for _, row := range v.Regressions {
			c.Worst = max(c.Worst, math.Abs(row.DeltaPct))
		}
		out[ri.ID] = c
	}
	return out, nil
}
