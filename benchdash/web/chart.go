package web

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ringwire/ringwire/benchdash/compare"
	"github.com/ringwire/ringwire/benchdash/store"
)

// unitTicks labels a value axis in the unit's scaled form ("1.23µ").
type unitTicks struct{ unit string }

func (u unitTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = compare.FormatValue(ticks[i].Value, u.unit)
		}
	}
	return ticks
}

// Chart geometry, in points.
const (
	chartW      = 720
	chartH      = 340
	legendGap   = 12
	labelSpace  = 44 // below the x axis, for the rotated commit labels
	labelPitch  = 11 // the closest two commit labels may be
	markerR     = 3.5
	groupSpread = 0.6 // the share of a commit's slot its runs spread over
)

// chartPoint is a point of the history placed on the commit axis.
type chartPoint struct {
	store.Point
	X      float64
	Series int
}

// renderChart draws a benchmark's history as SVG: the x axis is the
// commits in history order (ax), each labelled with its short hash and
// linked to its newest run, runs of one commit side by side in its slot;
// per machine a line through the medians and a shaded band of their
// confidence intervals drawn by gonum/plot, the machine's baseline as a
// dashed line, regressions as red triangles, and the legend beside the
// plot. Over that it draws, for every point, a marker and its interval
// with an SVG <title> holding the run, commit, value and interval, linked
// to the run — readable without a script, and visible for a single run.
func renderChart(h *store.HistoryResult, ax *commitAxis, title, unit string) ([]byte, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Y.Tick.Marker = unitTicks{unit}
	p.X.Label.Text = "commit, oldest → newest"
	p.X.Label.Padding = vg.Points(labelSpace)
	p.Add(plotter.NewGrid())

	machines, pts := placePoints(h, ax)
	n := len(ax.Commits)
	p.X.Min, p.X.Max = -0.5, math.Max(0.5, float64(n)-0.5)
	ticks := make(plot.ConstantTicks, n)
	for i := range ticks {
		ticks[i] = plot.Tick{Value: float64(i)}
	}
	p.X.Tick.Marker = ticks

	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.Padding = vg.Points(3)
	var regs plotter.XYs
	for i, m := range machines {
		col := plotutil.Color(i)
		var line, band, lo plotter.XYs
		for _, cp := range pts {
			if cp.Series != i {
				continue
			}
			line = append(line, plotter.XY{X: cp.X, Y: cp.Center})
			band = append(band, plotter.XY{X: cp.X, Y: finiteOr(cp.Hi, cp.Center)})
			lo = append(lo, plotter.XY{X: cp.X, Y: finiteOr(cp.Lo, cp.Center)})
			if cp.Regression > 0 {
				regs = append(regs, plotter.XY{X: cp.X, Y: cp.Center})
			}
		}
		if len(line) > 0 {
			slices.Reverse(lo)
			poly, err := plotter.NewPolygon(append(band, lo...))
			if err != nil {
				return nil, fmt.Errorf("chart band: %w", err)
			}
			r, g, b, _ := col.RGBA()
			poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 60}
			poly.LineStyle.Width = 0
			l, err := plotter.NewLine(line)
			if err != nil {
				return nil, fmt.Errorf("chart line: %w", err)
			}
			l.Color = col
			p.Add(poly, l)
			leg.Add(m, l, poly)
		}
		for _, b := range h.Baselines {
			if b.Machine != m || math.IsNaN(b.Center) {
				continue
			}
			bl, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: b.Center}, {X: p.X.Max, Y: b.Center}})
			if err != nil {
				return nil, fmt.Errorf("chart baseline: %w", err)
			}
			bl.Color = col
			bl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(bl)
			leg.Add(fmt.Sprintf("baseline %s (run %d)", m, b.RunID), bl)
		}
	}
	if len(regs) > 0 {
		s, err := plotter.NewScatter(regs)
		if err != nil {
			return nil, fmt.Errorf("chart regressions: %w", err)
		}
		s.Shape = draw.TriangleGlyph{}
		s.Color = color.RGBA{R: 220, A: 255}
		s.Radius = vg.Points(5)
		p.Add(s)
		leg.Add("regression", s)
	}
	p.Y.Min, p.Y.Max = valueRange(pts, h.Baselines)

	// The legend goes right of the plot, or below it when its labels (long
	// machine names) would take more than a quarter of the width. gonum
	// measures text with its own fonts; a browser without them substitutes
	// wider ones, hence the margins.
	measure := draw.New(vgsvg.NewWith(vgsvg.UseWH(vg.Points(chartW), vg.Points(chartH))))
	legSize := leg.Rectangle(measure).Size()
	legW, legH := legSize.X*1.2+8, legSize.Y*1.1+4
	height := float64(chartH)
	below := legW > chartW/4
	if below {
		height += float64(legH.Points()) + legendGap
	}
	c := vgsvg.NewWith(vgsvg.UseWH(vg.Points(chartW), vg.Points(height)))
	dc := draw.New(c)
	var plotC, legC draw.Canvas
	if below {
		plotC = draw.Crop(dc, 0, 0, legH+legendGap, 0)
		// From legendGap/2 to legendGap/2+legH above the bottom edge.
		legC = draw.Crop(dc, 3*legendGap, 0, legendGap/2, legendGap/2+legH-vg.Points(height))
	} else {
		plotC = draw.Crop(dc, 0, -(legW + 2*legendGap), 0, 0)
		legC = draw.Crop(dc, plotC.Max.X+legendGap, 0, 0, -legendGap)
	}
	p.Draw(plotC)
	leg.Draw(legC)

	data := p.DataCanvas(plotC)
	tx, ty := p.Transforms(&data)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("writing chart: %w", err)
	}
	svg := buf.String()
	end := strings.LastIndex(svg, "</svg>")
	if end < 0 {
		return nil, fmt.Errorf("writing chart: no </svg> in gonum's output")
	}
	var o strings.Builder
	o.WriteString(svg[:end])
	// SVG's y grows downwards; gonum's canvas' upwards.
	sx := func(x float64) float64 { return float64(tx(x).Points()) }
	sy := func(y float64) float64 { return height - float64(ty(y).Points()) }
	writeOverlay(&o, pts, machines, ax, unit, sx, sy, height-float64(data.Min.Y.Points())+float64(p.X.Padding.Points())+4)
	o.WriteString(svg[end:])
	return []byte(o.String()), nil
}

// placePoints orders the machines and places every point on the commit
// axis: runs of one commit spread over its slot, oldest first.
func placePoints(h *store.HistoryResult, ax *commitAxis) ([]string, []chartPoint) {
	var machines []string
	series := map[string]int{}
	for _, pt := range h.Points {
		if _, ok := series[pt.Machine]; !ok {
			series[pt.Machine] = 0
			machines = append(machines, pt.Machine)
		}
	}
	for _, b := range h.Baselines {
		if _, ok := series[b.Machine]; !ok {
			series[b.Machine] = 0
			machines = append(machines, b.Machine)
		}
	}
	slices.Sort(machines)
	for i, m := range machines {
		series[m] = i
	}
	pts := make([]chartPoint, 0, len(h.Points))
	for _, pt := range h.Points {
		pts = append(pts, chartPoint{Point: pt, Series: series[pt.Machine]})
	}
	slices.SortStableFunc(pts, func(a, b chartPoint) int {
		return cmp.Or(cmp.Compare(ax.index[a.Commit], ax.index[b.Commit]), a.Time.Compare(b.Time), cmp.Compare(a.RunID, b.RunID))
	})
	for i := 0; i < len(pts); {
		j := i
		for j < len(pts) && pts[j].Commit == pts[i].Commit {
			j++
		}
		m := j - i
		step := 0.0
		if m > 1 {
			step = math.Min(groupSpread/float64(m-1), 0.2)
		}
		for k := i; k < j; k++ {
			pts[k].X = float64(ax.index[pts[k].Commit]) + (float64(k-i)-float64(m-1)/2)*step
		}
		i = j
	}
	return machines, pts
}

// valueRange is the y range that holds every median, every bounded
// interval and the baselines, with a margin.
func valueRange(pts []chartPoint, bases []store.Point) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	add := func(v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, p := range pts {
		add(p.Center)
		add(p.Lo)
		add(p.Hi)
	}
	for _, b := range bases {
		add(b.Center)
	}
	switch {
	case math.IsInf(lo, 1):
		return 0, 1
	case lo == hi:
		d := math.Max(math.Abs(lo)*0.1, 1e-9)
		return lo - d, hi + d
	}
	d := (hi - lo) * 0.08
	if lo >= 0 && lo-d < 0 {
		return 0, hi + d
	}
	return lo - d, hi + d
}

func hexColor(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}

// writeOverlay writes the points' markers, intervals and titles, and the
// commit labels (at labelY, below the x axis), as SVG in page coordinates.
func writeOverlay(o *strings.Builder, pts []chartPoint, machines []string, ax *commitAxis, unit string, sx, sy func(float64) float64, labelY float64) {
	esc := html.EscapeString
	o.WriteString(`<g class="points">` + "\n")
	for _, cp := range pts {
		x, y := sx(cp.X), sy(cp.Center)
		col := hexColor(plotutil.Color(cp.Series))
		fmt.Fprintf(o, `<a href="/runs/%d"><g class="point" data-run="%d" data-commit="%s"><title>%s</title>`, cp.RunID, cp.RunID, esc(cp.Commit), esc(pointTitle(cp.Point, machines[cp.Series], unit)))
		if lo, hi := cp.Lo, cp.Hi; !math.IsNaN(lo) && !math.IsInf(lo, 0) && !math.IsNaN(hi) && !math.IsInf(hi, 0) {
			fmt.Fprintf(o, `<path class="ci" d="M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f" stroke="%s" stroke-width="1.2" fill="none"/>`,
				x, sy(lo), sy(hi), x-3, sy(lo), x+3, x-3, sy(hi), x+3, col)
		}
		fmt.Fprintf(o, `<circle cx="%.1f" cy="%.1f" r="%g" fill="%s" stroke="#fff" stroke-width="1"/></g></a>`+"\n", x, y, markerR, col)
	}
	o.WriteString("</g>\n")
	if len(ax.Commits) == 0 {
		return
	}
	width := sx(float64(len(ax.Commits))-0.5) - sx(-0.5)
	every := max(1, int(math.Ceil(float64(len(ax.Commits))*labelPitch/math.Max(width, 1))))
	o.WriteString(`<g class="commit-labels" font-family="monospace" font-size="9">` + "\n")
	for i, c := range ax.Commits {
		if i%every != 0 && i != len(ax.Commits)-1 {
			continue
		}
		x := sx(float64(i)) + 3
		runs := make([]string, len(c.Runs))
		for k, r := range c.Runs {
			runs[k] = fmt.Sprintf("#%d", r)
		}
		where := "in the commit order"
		if !c.Known {
			where = "not in the commit order: placed by when it was first measured"
		}
		fmt.Fprintf(o, `<a href="/runs/%d" class="commit-link"><title>commit %s (%s), runs %s</title><text class="commit-label" data-commit="%s" x="%.1f" y="%.1f" text-anchor="end" transform="rotate(-45 %.1f %.1f)">%s</text></a>`+"\n",
			c.Runs[len(c.Runs)-1], esc(c.Commit), where, strings.Join(runs, ", "), esc(c.Commit), x, labelY, x, labelY, esc(shortHash(c.Commit)))
	}
	o.WriteString("</g>\n")
}

// pointTitle is a point's tooltip: run, commit, machine, time, the median
// and its interval.
func pointTitle(p store.Point, machine, unit string) string {
	ci := "interval unbounded (too few samples)"
	if !math.IsInf(p.Lo, 0) && !math.IsInf(p.Hi, 0) && !math.IsNaN(p.Lo) && !math.IsNaN(p.Hi) {
		ci = fmt.Sprintf("95%% CI %s to %s", compare.FormatValue(p.Lo, unit), compare.FormatValue(p.Hi, unit))
	}
	s := fmt.Sprintf("run #%d, commit %s, %s, %s: %s %s (%s, n=%d)", p.RunID, shortHash(p.Commit), machine, p.Time.Format("2006-01-02 15:04"),
		compare.FormatValue(p.Center, unit), unit, ci, p.N)
	if p.Baseline {
		s += ", baseline"
	}
	if p.Regression > 0 {
		s += fmt.Sprintf(", regression +%.1f%%", p.Regression)
	}
	return s
}

// shortHash is the 7-character abbreviation git shows.
func shortHash(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

func finiteOr(v, alt float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return alt
	}
	return v
}
