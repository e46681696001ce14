package coverage

import (
	"html/template"
	"math"
	"strconv"
	"time"

	"github.com/mockops/mockops/internal/ui"
)

// The heatmap's shades, lightest (no request) to darkest, and the text
// colour readable on each (contrast of 4.5:1 or more). Colour is never the
// only signal: the legend names each shade's range, each cell's title its
// count, wide cells print it, and the table beside the chart holds every
// number.
var (
	heatFill = [5]string{"#ffffff", "#dce8fb", "#9fbff2", "#2f6bd0", "#153f86"}
	heatInk  = [5]string{"#1a1a1a", "#1a1a1a", "#1a1a1a", "#ffffff", "#ffffff"}
)

// heatLevels returns the upper bound of shades 1..4 for counts up to max:
// a count n > 0 takes the first shade whose bound is >= n.
func heatLevels(max int64) [5]int64 {
	var hi [5]int64
	for k := 1; k <= 4; k++ {
		hi[k] = max * int64(k) / 4
	}
	return hi
}

func heatLevel(n int64, hi *[5]int64) int {
	if n <= 0 {
		return 0
	}
	for k := 1; k < 4; k++ {
		if n <= hi[k] {
			return k
		}
	}
	return 4
}

// columnLabels names each bucket for titles and table headers.
func columnLabels(buckets []time.Time, bucket time.Duration) []string {
	layout := "2006-01-02 15:04Z"
	if bucket >= 24*time.Hour && bucket%(24*time.Hour) == 0 {
		layout = "2006-01-02"
	}
	out := make([]string, len(buckets))
	for i, b := range buckets {
		out[i] = b.UTC().Format(layout)
	}
	return out
}

func rowLabel(r *HeatmapRow) string {
	s := r.Scenario
	if r.Workspace != "" {
		s += " · " + r.Workspace
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// heatmapSVG draws the scenario x bucket heatmap as an accessible SVG:
// role="img" named by its title and description, one <rect> per cell with
// a <title> naming the scenario, the bucket and the count.
func heatmapSVG(hm *Heatmap, bucket time.Duration) template.HTML {
	cols, rows := len(hm.Buckets), len(hm.Rows)
	var b ui.Builder
	b.Grow(4096 + rows*cols*(140+2*32) + rows*128) // a cell is about 140 bytes and its title
	cw := 7
	switch {
	case cols <= 48:
		cw = 28
	case cols <= 96:
		cw = 12
	}
	const ch, labelW, top, legendH = 22, 220, 30, 48
	width := labelW + cols*cw + 8
	if width < 480 {
		width = 480
	}
	height := top + rows*ch + legendH
	var max int64
	for i := range hm.Rows {
		for _, n := range hm.Rows[i].Counts {
			if n > max {
				max = n
			}
		}
	}
	hi := heatLevels(max)
	labels := columnLabels(hm.Buckets, bucket)
	cellWH := `" width="` + strconv.Itoa(cw-1) + `" height="` + strconv.Itoa(ch-2) + `" fill="`

	b.Raw(`<svg class="heatmap" role="img" aria-labelledby="hm-title hm-desc" xmlns="http://www.w3.org/2000/svg" style="max-width:100%;height:auto" font-family="system-ui, sans-serif" font-size="12"`)
	svgSize(&b, width, height)
	b.Raw(`><title id="hm-title">Scenario usage per `)
	b.Text(bucketWord(bucket))
	b.Raw(`</title><desc id="hm-desc">`)
	if rows == 0 {
		b.Raw(`No scenario was used in this window.`)
	} else {
		b.Text(strconv.Itoa(rows) + " scenarios by " + strconv.Itoa(cols) + " columns from " + labels[0] + "; " + itoa(hm.Total) + " requests in all, at most " + itoa(max) + " in one cell. The table after the chart holds every number.")
	}
	b.Raw(`</desc>`)
	// Column labels: day starts for hourly buckets over many columns,
	// else every few columns, as room allows.
	every := (72 + cw - 1) / cw
	for i := range cols {
		hourly := bucket == time.Hour && cols > 48
		if hourly && hm.Buckets[i].UTC().Hour() != 0 || !hourly && i%every != 0 {
			continue
		}
		txt := labels[i]
		if hourly {
			txt = hm.Buckets[i].UTC().Format("01-02")
		} else if len(txt) > 11 && bucket < 24*time.Hour {
			txt = txt[5:16] // "01-02 15:04"
		}
		b.Raw(`<text fill="#1a1a1a" font-size="11"`)
		b.Attr("x", strconv.Itoa(labelW+i*cw))
		b.Raw(` y="20">`)
		b.Text(txt)
		b.Raw(`</text>`)
	}
	if rows == 0 {
		b.Raw(`<text fill="#1a1a1a" x="8" y="` + strconv.Itoa(top+16) + `">No scenario traffic in this window.</text>`)
	}
	for ri := range hm.Rows {
		r := &hm.Rows[ri]
		y := top + ri*ch
		label := rowLabel(r)
		short := label
		if rs := []rune(short); len(rs) > 32 {
			short = string(rs[:31]) + "…"
		}
		b.Raw(`<g class="hm-row" stroke="#8a9099" stroke-width="0.5"`)
		b.Attr("data-scenario", r.Scenario)
		b.Attr("data-workspace", r.Workspace)
		b.Raw(`><text fill="#1a1a1a" stroke="none" x="4"`)
		b.Attr("y", strconv.Itoa(y+15))
		b.Raw(`>`)
		b.Text(short)
		b.Raw(`</text>`)
		ys := strconv.Itoa(y)
		for ci, n := range r.Counts {
			lv := heatLevel(n, &hi)
			x := labelW + ci*cw
			// Written piece by piece: concatenating would build (and
			// copy) a temporary string per cell.
			b.Raw(`<rect class="hm-cell" x="`)
			b.Raw(strconv.Itoa(x))
			b.Raw(`" y="`)
			b.Raw(ys)
			b.Raw(cellWH)
			b.Raw(heatFill[lv])
			b.Raw(`" data-count="`)
			b.Raw(itoa(n))
			b.Raw(`"><title>`)
			b.Text(label)
			b.Raw(`, `)
			b.Text(labels[ci])
			b.Raw(`: `)
			b.Raw(itoa(n))
			if n == 1 {
				b.Raw(` request</title></rect>`)
			} else {
				b.Raw(` requests</title></rect>`)
			}
			if cw >= 28 && n > 0 {
				b.Raw(`<text aria-hidden="true" stroke="none" font-size="11" text-anchor="middle" fill="` + heatInk[lv] + `" x="` + strconv.Itoa(x+cw/2) + `" y="` + strconv.Itoa(y+14) + `">` + itoa(n) + `</text>`)
			}
		}
		b.Raw(`</g>`)
	}
	// The legend: each shade with the counts it stands for, in words.
	ly := top + rows*ch + 14
	b.Raw(`<g class="hm-legend"><text fill="#1a1a1a" x="4" y="` + strconv.Itoa(ly+12) + `">Requests per cell:</text>`)
	x := labelW
	prev := int64(0)
	for k := 0; k <= 4; k++ {
		var txt string
		switch {
		case k == 0:
			txt = "0"
		case hi[k] <= prev:
			continue // an empty range for small maxima
		case hi[k] == prev+1:
			txt = itoa(hi[k])
		default:
			txt = itoa(prev+1) + "–" + itoa(hi[k])
		}
		if k > 0 {
			prev = hi[k]
		}
		b.Raw(`<rect x="` + strconv.Itoa(x) + `" y="` + strconv.Itoa(ly) + `" width="16" height="16" stroke="#8a9099" stroke-width="0.5" fill="` + heatFill[k] + `"></rect><text fill="#1a1a1a" x="` + strconv.Itoa(x+20) + `" y="` + strconv.Itoa(ly+12) + `">` + txt + `</text>`)
		x += 28 + 8*len(txt)
	}
	b.Raw(`</g></svg>`)
	return b.HTML()
}

// svgSize writes a chart's natural size and its viewBox: drawn at its
// size, and shrunk (never enlarged) to fit a narrow page.
func svgSize(b *ui.Builder, width, height int) {
	w, h := strconv.Itoa(width), strconv.Itoa(height)
	b.Raw(` width="` + w + `" height="` + h + `" viewBox="0 0 ` + w + ` ` + h + `"`)
}

func bucketWord(bucket time.Duration) string {
	switch bucket {
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return bucket.String()
}

// heatmapTable is the heatmap's table alternative: the same numbers, one
// row per scenario, one column per bucket.
func heatmapTable(hm *Heatmap, bucket time.Duration) template.HTML {
	labels := columnLabels(hm.Buckets, bucket)
	var b ui.Builder
	b.Grow(1024 + len(hm.Rows)*(len(hm.Buckets)*16+128) + len(hm.Buckets)*80)
	b.Raw(`<div class="table-wrap" role="region" aria-labelledby="hm-caption" tabindex="0"><table class="heatmap-table" id="heatmap-table"><caption id="hm-caption">Requests per scenario and `)
	b.Text(bucketWord(bucket))
	b.Raw(` (the heatmap's numbers)</caption><thead><tr><th scope="col">Scenario</th><th scope="col">Workspace</th><th scope="col">Team</th><th scope="col">Share</th><th scope="col">Total</th>`)
	for i, l := range labels {
		b.Raw(`<th scope="col"><time datetime="`)
		b.Raw(ui.ISO(hm.Buckets[i]))
		b.Raw(`">`)
		b.Text(l)
		b.Raw(`</time></th>`)
	}
	b.Raw(`</tr></thead><tbody>`)
	if len(hm.Rows) == 0 {
		b.Raw(`<tr><td colspan="` + strconv.Itoa(5+len(labels)) + `">No scenario traffic in this window.</td></tr>`)
	}
	for ri := range hm.Rows {
		r := &hm.Rows[ri]
		var total int64
		for _, n := range r.Counts {
			total += n
		}
		b.Raw(`<tr`)
		b.Attr("data-scenario", r.Scenario)
		b.Raw(`><th scope="row">`)
		b.Text(r.Scenario)
		if r.Overflow {
			b.Raw(` <span class="muted">(past the cap)</span>`)
		}
		b.Raw(`</th><td>`)
		b.Text(r.Workspace)
		b.Raw(`</td><td>`)
		b.Text(r.Team)
		b.Raw(`</td><td>`)
		b.Text(ratioText(r.Share))
		b.Raw(`</td><td>` + itoa(total) + `</td>`)
		for _, n := range r.Counts {
			b.Raw(`<td>`)
			b.Raw(itoa(n))
			b.Raw(`</td>`)
		}
		b.Raw(`</tr>`)
	}
	b.Raw(`</tbody></table></div>`)
	return b.HTML()
}

// ratioText renders a ratio with its terms: "3/4 (75.0%)", "0/0 (—)".
func ratioText(r Ratio) string {
	return itoa(r.Numerator) + "/" + itoa(r.Denominator) + " (" + ui.Percent(fraction(r.Percent)) + ")"
}

// fraction turns a percentage into the ratio ui.Percent takes.
func fraction(p *float64) *float64 {
	if p == nil {
		return nil
	}
	f := *p / 100
	return &f
}

// driftSVG draws drift over time as bars of drifting branches (percent),
// with the budget as a dashed line; a slice with no comparison has no bar
// but a marker saying so.
func driftSVG(hist []DriftPoint, budget float64) template.HTML {
	const left, top, plotH, bw, bottom = 48, 12, 120, 22, 34
	width := left + len(hist)*bw + 12
	if width < 320 {
		width = 320
	}
	height := top + plotH + bottom
	scale := budget
	for _, p := range hist {
		if p.Branches.Percent != nil && *p.Branches.Percent > scale {
			scale = *p.Branches.Percent
		}
	}
	scale = math.Min(100, math.Max(10, math.Ceil(scale*1.1/10)*10))
	yOf := func(pct float64) int { return top + plotH - int(math.Round(pct/scale*plotH)) }
	var b ui.Builder
	b.Raw(`<svg class="drift-chart" role="img" aria-labelledby="dr-title dr-desc" xmlns="http://www.w3.org/2000/svg" style="max-width:100%;height:auto" font-family="system-ui, sans-serif" font-size="11"`)
	svgSize(&b, width, height)
	b.Raw(`><title id="dr-title">Drift over time: drifting branches in percent of compared branches</title><desc id="dr-desc">`)
	b.Text(strconv.Itoa(len(hist)) + " periods; the table after the chart holds every number.")
	if budget > 0 {
		b.Text(" The dashed line is the budget, " + strconv.FormatFloat(budget, 'f', -1, 64) + "%.")
	}
	b.Raw(`</desc>`)
	// Axis: 0 and the top of the scale, in words.
	b.Raw(`<line x1="` + strconv.Itoa(left) + `" x2="` + strconv.Itoa(width-8) + `" y1="` + strconv.Itoa(top+plotH) + `" y2="` + strconv.Itoa(top+plotH) + `" stroke="#4a4f55"></line>`)
	b.Raw(`<text fill="#1a1a1a" x="4" y="` + strconv.Itoa(top+plotH) + `">0%</text><text fill="#1a1a1a" x="4" y="` + strconv.Itoa(top+10) + `">` + strconv.FormatFloat(scale, 'f', -1, 64) + `%</text>`)
	for i, p := range hist {
		x := left + i*bw
		title := ui.When(p.From) + " to " + ui.When(p.To) + ": "
		if p.Branches.Percent == nil {
			b.Raw(`<g class="dr-point" data-empty="true"><text fill="#4a4f55" text-anchor="middle" x="` + strconv.Itoa(x+bw/2) + `" y="` + strconv.Itoa(top+plotH-4) + `">–<title>`)
			b.Text(title + "no comparison")
			b.Raw(`</title></text></g>`)
			continue
		}
		pct := *p.Branches.Percent
		y := yOf(pct)
		h := top + plotH - y
		if h < 1 {
			h = 1 // 0% still shows a sliver: measured, not missing
		}
		fill := "#2f6bd0"
		if budget > 0 && pct > budget {
			fill = "#a50e0e"
		}
		b.Raw(`<rect class="dr-bar" x="` + strconv.Itoa(x+3) + `" y="` + strconv.Itoa(top+plotH-h) + `" width="` + strconv.Itoa(bw-6) + `" height="` + strconv.Itoa(h) + `" fill="` + fill + `"><title>`)
		b.Text(title + "drifting branches " + ratioText(p.Branches) + ", drifted requests " + ratioText(p.Requests))
		b.Raw(`</title></rect>`)
	}
	if budget > 0 && budget <= scale {
		y := strconv.Itoa(yOf(budget))
		b.Raw(`<line x1="` + strconv.Itoa(left) + `" x2="` + strconv.Itoa(width-8) + `" y1="` + y + `" y2="` + y + `" stroke="#6b4100" stroke-dasharray="4 3"></line>`)
	}
	if len(hist) > 0 {
		ly := strconv.Itoa(top + plotH + 16)
		b.Raw(`<text fill="#1a1a1a" x="` + strconv.Itoa(left) + `" y="` + ly + `">`)
		b.Text(ui.When(hist[0].From))
		b.Raw(`</text><text fill="#1a1a1a" text-anchor="end" x="` + strconv.Itoa(width-8) + `" y="` + strconv.Itoa(top+plotH+30) + `">`)
		b.Text(ui.When(hist[len(hist)-1].To))
		b.Raw(`</text>`)
	}
	b.Raw(`</svg>`)
	return b.HTML()
}

// driftTable is the drift chart's table alternative.
func driftTable(hist []DriftPoint) template.HTML {
	var b ui.Builder
	b.Raw(`<div class="table-wrap"><table id="drift-table"><caption>Drift over time (the chart's numbers)</caption><thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Drifting branches / compared</th><th scope="col">Drifted requests / compared</th></tr></thead><tbody>`)
	for _, p := range hist {
		b.Raw(`<tr><td><time datetime="` + ui.ISO(p.From) + `">`)
		b.Text(ui.When(p.From))
		b.Raw(`</time></td><td><time datetime="` + ui.ISO(p.To) + `">`)
		b.Text(ui.When(p.To))
		b.Raw(`</time></td><td>`)
		b.Text(ratioText(p.Branches))
		b.Raw(`</td><td>`)
		b.Text(ratioText(p.Requests))
		b.Raw(`</td></tr>`)
	}
	b.Raw(`</tbody></table></div>`)
	return b.HTML()
}
