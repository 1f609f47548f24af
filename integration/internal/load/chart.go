package load

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart size of one scenario's panel, in points.
const (
	chartPanelW = 330
	chartPanelH = 300
)

// transportColors are fixed per transport, so that a line keeps its
// colour from one chart to the next.
var transportColors = map[string]color.RGBA{
	"shm":       {0xd6, 0x27, 0x28, 0xff},
	"socket":    {0xff, 0x7f, 0x0e, 0xff},
	"json":      {0x1f, 0x77, 0xb4, 0xff},
	"grpc":      {0x2c, 0xa0, 0x2c, 0xff},
	"node":      {0x94, 0x67, 0xbd, 0xff},
	"eventfd":   {0x7f, 0x7f, 0x7f, 0xff},
	"cacheline": {0xbc, 0xbd, 0x22, 0xff},
}

// chartPoint is one cell on the chart: its achieved rate and median.
type chartPoint struct{ rate, p50 float64 }

// WriteChart draws results as an SVG of latency against rate: a panel
// per scenario, in the order of results, a line per transport through
// its cells, the achieved rate (calls/s) on x and the median round trip
// (µs) on y, both logarithmic. A cell is placed at its achieved rate,
// the closed loop ("max") too, so the line ends where the transport
// gives out; a saturated cell, or one without a median, has no point
// (its latency is only the queue's growth). It fails if no cell has a
// point.
func WriteChart(w io.Writer, results []*Result) error {
	plots, err := chartPlots(results)
	if err != nil {
		return err
	}
	width := vg.Points(float64(chartPanelW * len(plots[0])))
	height := vg.Points(chartPanelH)
	c := vgsvg.NewWith(vgsvg.UseWH(width, height))
	drawPanels(plots, c)
	_, err = c.WriteTo(w)
	return err
}

// chartPlots builds WriteChart's panels, a row of one.
func chartPlots(results []*Result) ([][]*plot.Plot, error) {
	var scenarios, transports []string
	points := map[[2]string][]chartPoint{}
	for _, r := range results {
		s, t := r.Cell.Scenario.Name, r.Cell.Transport
		qs, _ := Latencies(r.Sample.Latency, r.Saturated())
		if !qs[0].OK || r.Sample.Throughput() <= 0 || qs[0].V <= 0 {
			continue
		}
		if !slices.Contains(scenarios, s) {
			scenarios = append(scenarios, s)
		}
		if !slices.Contains(transports, t) {
			transports = append(transports, t)
		}
		k := [2]string{s, t}
		points[k] = append(points[k], chartPoint{r.Sample.Throughput(), float64(qs[0].V.Nanoseconds()) / 1e3})
	}
	if len(scenarios) == 0 {
		return nil, errors.New("chart: no cell has a median latency to draw")
	}
	plots := make([][]*plot.Plot, 1)
	for _, s := range scenarios {
		p := plot.New()
		p.Title.Text = s
		p.X.Label.Text = "achieved calls/s"
		p.Y.Label.Text = "p50 round trip (µs)"
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Legend.TextStyle.Font.Size = vg.Points(8)
		for _, t := range transports {
			pts := points[[2]string{s, t}]
			if len(pts) == 0 {
				continue
			}
			slices.SortFunc(pts, func(a, b chartPoint) int {
				switch {
				case a.rate < b.rate:
					return -1
				case a.rate > b.rate:
					return 1
				}
				return 0
			})
			xys := make(plotter.XYs, len(pts))
			for i, pt := range pts {
				xys[i] = plotter.XY{X: pt.rate, Y: pt.p50}
			}
			l, sc, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, fmt.Errorf("chart: %s %s: %w", s, t, err)
			}
			c, ok := transportColors[t]
			if !ok {
				c = color.RGBA{0, 0, 0, 0xff}
			}
			l.Color, sc.Color = c, c
			l.Width = vg.Points(1.5)
			sc.Shape = draw.CircleGlyph{}
			if isFloorTransport(t) {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(l, sc)
			p.Legend.Add(TransportLabel(t), l, sc)
		}
		// Whole decades around the points, so that the log axes have
		// ticks even for a single cell, and a decade of headroom over
		// the lines for the legend.
		p.X.Min, p.X.Max = decadeBelow(p.X.Min), decadeAbove(p.X.Max)
		p.Y.Min, p.Y.Max = decadeBelow(p.Y.Min), 10*decadeAbove(p.Y.Max)
		plots[0] = append(plots[0], p)
	}
	return plots, nil
}

// drawPanels draws a row of plots side by side on c.
func drawPanels(plots [][]*plot.Plot, c vg.CanvasSizer) {
	scenarios := plots[0]
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(scenarios), PadX: vg.Points(6), PadTop: vg.Points(4), PadBottom: vg.Points(4)}
	canvases := plot.Align(plots, tiles, dc)
	for j, p := range plots[0] {
		p.Draw(canvases[0][j])
	}
}

// decadeBelow is the largest power of ten at most v (v > 0).
func decadeBelow(v float64) float64 { return math.Pow(10, math.Floor(math.Log10(v))) }

// decadeAbove is the smallest power of ten above v (v > 0).
func decadeAbove(v float64) float64 { return math.Pow(10, math.Floor(math.Log10(v))+1) }
