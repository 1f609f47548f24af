package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// runData is what a run page (GET /runs/{id}) shows: the run compared against
// its baseline, the previous run, or the run or commit named by ?against=;
// apiRun (api.go) answers the same as JSON.
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
