package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/ringwire/ringwire/benchdash/compare"
)

// templateFS holds one template per page, each rendered inside layout.html.
//
//go:embed templates/*.html
var templateFS embed.FS

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
	"inc":      func(i int) int { return i + 1 },
	"interval": formatInterval,
}

// formatInterval formats a median with its confidence interval:
// "1.234µ [1.201µ, 1.298µ]".
func formatInterval(s compare.Summary, unit string) string {
	switch {
	case s.N == 0:
		return "-"
	case math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) || math.IsNaN(s.Lo) || math.IsNaN(s.Hi):
		return compare.FormatValue(s.Center, unit) + " [unbounded: too few samples]"
	}
	return compare.FormatValue(s.Center, unit) + " [" + compare.FormatValue(s.Lo, unit) + ", " + compare.FormatValue(s.Hi, unit) + "]"
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
