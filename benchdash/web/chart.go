package web

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"

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

// renderChart draws a benchmark's history as SVG with gonum/plot: per
// machine a line through the medians, a shaded confidence band, the
// machine's baseline as a dashed line, and regressions as red triangles.
func renderChart(h *store.HistoryResult, title, unit string) ([]byte, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Y.Tick.Marker = unitTicks{unit}
	p.X.Tick.Marker = plot.TimeTicks{Format: "Jan 02\n15:04"}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	var machines []string
	by := map[string][]store.Point{}
	for _, pt := range h.Points {
		if _, ok := by[pt.Machine]; !ok {
			machines = append(machines, pt.Machine)
		}
		by[pt.Machine] = append(by[pt.Machine], pt)
	}
	for _, b := range h.Baselines {
		if _, ok := by[b.Machine]; !ok {
			machines = append(machines, b.Machine)
			by[b.Machine] = nil
		}
	}
	slices.Sort(machines)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, pt := range h.Points {
		x := float64(pt.Time.Unix())
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
	}
	var regs plotter.XYs
	for i, m := range machines {
		pts := by[m]
		col := plotutil.Color(i)
		if len(pts) > 0 {
			line := make(plotter.XYs, 0, len(pts))
			band := make(plotter.XYs, 0, 2*len(pts))
			for _, pt := range pts {
				x := float64(pt.Time.Unix())
				line = append(line, plotter.XY{X: x, Y: pt.Center})
				band = append(band, plotter.XY{X: x, Y: finiteOr(pt.Lo, pt.Center)})
				if pt.Regression > 0 {
					regs = append(regs, plotter.XY{X: x, Y: pt.Center})
				}
			}
			for j := len(pts) - 1; j >= 0; j-- {
				pt := pts[j]
				band = append(band, plotter.XY{X: float64(pt.Time.Unix()), Y: finiteOr(pt.Hi, pt.Center)})
			}
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return nil, fmt.Errorf("chart band: %w", err)
			}
			r, g, b, _ := col.RGBA()
			poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 60}
			poly.LineStyle.Width = 0
			l, s, err := plotter.NewLinePoints(line)
			if err != nil {
				return nil, fmt.Errorf("chart line: %w", err)
			}
			l.Color = col
			s.Color = col
			s.Shape = draw.CircleGlyph{}
			s.Radius = vg.Points(1.5)
			p.Add(poly, l, s)
			p.Legend.Add(m, l, poly)
		}
		for _, b := range h.Baselines {
			if b.Machine != m || math.IsNaN(b.Center) {
				continue
			}
			lo, hi := xmin, xmax
			if math.IsInf(lo, 0) || lo == hi {
				lo, hi = float64(b.Time.Unix())-3600, float64(b.Time.Unix())+3600
			}
			bl, err := plotter.NewLine(plotter.XYs{{X: lo, Y: b.Center}, {X: hi, Y: b.Center}})
			if err != nil {
				return nil, fmt.Errorf("chart baseline: %w", err)
			}
			bl.Color = col
			bl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(bl)
			p.Legend.Add(fmt.Sprintf("baseline %s (run %d)", m, b.RunID), bl)
		}
	}
	if len(regs) > 0 {
		s, err := plotter.NewScatter(regs)
		if err != nil {
			return nil, fmt.Errorf("chart regressions: %w", err)
		}
		s.Shape = draw.TriangleGlyph{}
		s.Color = color.RGBA{R: 220, A: 255}
		s.Radius = vg.Points(4)
		p.Add(s)
		p.Legend.Add("regression", s)
	}
	c := vgsvg.NewWith(vgsvg.UseWH(9*vg.Inch, 4*vg.Inch))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("writing chart: %w", err)
	}
	return buf.Bytes(), nil
}

func finiteOr(v, alt float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return alt
	}
	return v
}
