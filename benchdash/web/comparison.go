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
	// Session is set when Run and Base are sides B and A of one A/B
	// session: the pairing and the gate's verdict.
	Session *sessionInfo
	// SideOf names the session this run is side A of, and its side B run
	// (0 when not found), when this run is an A side.
	SideOf  string
	SideB   int64
	Groups  []unitGroup // the rows shown, by unit
	Changed bool        // ?changed=1: only the changed rows
	Shown   int
	// ChangedURL and AllURL are this page with and without ?changed=1.
	ChangedURL, AllURL string
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
	q := r.URL.Query()
	against := q.Get("against")
	switch q.Get("changed") {
	case "", "0":
	case "1":
		d.Changed = true
	default:
		return nil, badRequest("bad changed %q: want 1 or 0", q.Get("changed"))
	}
	if err := s.sideOf(r, d); err != nil {
		return nil, err
	}
	var baseID int64
	kind := store.KindAdhoc
	sessionA := int64(0)
	if session := run.Labels["session"]; session != "" && run.Labels["side"] == "B" && (against == "" || against == "session") {
		if sessionA, err = s.st.SessionRun(ctx, session, "A"); err != nil {
			return nil, err
		}
	}
	switch {
	case sessionA != 0:
		baseID, d.BaseLabel = sessionA, "side A of its A/B session"
	case against == "session":
		d.NoBase = "This run is not side B of an A/B session whose side A is stored."
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
		return nil, badRequest("bad against %q: want session, baseline, previous, run:ID or commit:SHA", against)
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
		d.group(r)
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
	if isSession(d.Base, d.Run) {
		if d.Session, err = s.session(ctx, d.Base, d.Run); err != nil {
			return nil, err
		}
		d.BaseLabel = "side A of its A/B session"
	}
	d.group(r)
	return d, nil
}

// sideOf notes, for side A of a session, the session's side B run.
func (s *Server) sideOf(r *http.Request, d *runData) error {
	session := d.Run.Labels["session"]
	if session == "" || d.Run.Labels["side"] != "A" {
		return nil
	}
	d.SideOf = session
	var err error
	d.SideB, err = s.st.SessionRun(r.Context(), session, "B")
	return err
}

// unitGroup is the rows of one unit on a comparison page.
type unitGroup struct {
	Unit         string
	HigherBetter bool
	Rows         []cmpRow
	Hidden       int // unchanged rows left out by ?changed=1
	Geomean      *compare.Geomean
}

// cmpRow is a row of a comparison page with the A/B gate's marks.
type cmpRow struct {
	store.DeltaRow
	// Fails is the gate's row when the A/B gate fails on this row (its Q
	// the p-value corrected for the session's family of comparisons).
	Fails *compare.Row
	// Uncorrected is the gate's row when it would have failed without that
	// correction: printed, not failing.
	Uncorrected *compare.Row
	// Noisy is set when the session's A/A check found the benchmark too
	// noisy here to gate.
	Noisy *compare.Noisy
}

// changed reports whether a row is shown by ?changed=1: a significant
// change, a benchmark measured on one side only, or one the A/A check
// found too noisy here.
func (c cmpRow) changed() bool {
	return c.Change != compare.Unchanged || c.Old.N == 0 || c.New.N == 0 || c.Fails != nil || c.Uncorrected != nil || c.Noisy != nil
}

// group fills d.Groups from d.Rows (sorted by unit), with the session's
// marks and the ?changed=1 filter, and the links that toggle it.
func (d *runData) group(r *http.Request) {
	q := r.URL.Query()
	q.Set("changed", "1")
	d.ChangedURL = "?" + q.Encode()
	q.Del("changed")
	d.AllURL = "?" + q.Encode()
	var g *unitGroup
	for _, row := range d.Rows {
		if g == nil || g.Unit != row.Unit {
			d.Groups = append(d.Groups, unitGroup{Unit: row.Unit, HigherBetter: compare.HigherIsBetter(row.Unit)})
			g = &d.Groups[len(d.Groups)-1]
			for i := range d.Geomeans {
				if d.Geomeans[i].Unit == row.Unit {
					g.Geomean = &d.Geomeans[i]
				}
			}
		}
		c := cmpRow{DeltaRow: row}
		if d.Session != nil {
			c.Fails, c.Uncorrected, c.Noisy = d.Session.fail[row.Key], d.Session.uncorrected[row.Key], d.Session.noisy[row.Key]
		}
		if d.Changed && d.Base != nil && !c.changed() {
			g.Hidden++
			continue
		}
		g.Rows = append(g.Rows, c)
		d.Shown++
	}
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.runData(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "run", d)
}
