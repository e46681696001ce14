package federation

import (
	"html/template"
	"strconv"
	"strings"

	"github.com/mockops/mockops/internal/ui"
)

// realityStyle is how the graph draws a reality level. Each level has its
// own border pattern and symbol besides its colour, and the node spells
// the level out, so colour is never the only signal.
type realityStyle struct {
	fill, stroke, dash, symbol, pattern string
}

var realityStyles = map[RealityLevel]realityStyle{
	Real:        {"#e6f4ea", "#0a5c26", "", "●", "solid border"},
	MockV3:      {"#e8f0fe", "#174ea6", "6 3", "◇", "dashed border"},
	Blended:     {"#fef7e0", "#6b4100", "10 3 2 3", "◐", "dash-dot border"},
	ChaosDriven: {"#fce8e6", "#a50e0e", "2 2", "⚡", "dotted border"},
}

func styleOf(l RealityLevel) realityStyle {
	if s, ok := realityStyles[l]; ok {
		return s
	}
	return realityStyle{"#f1f3f4", "#3c4043", "", "•", "solid border"}
}

// The graph's geometry, in SVG user units.
const (
	nodeW, nodeH = 230, 74
	gapX, gapY   = 70, 18
	pad          = 8
)

// graphHTML draws the services as an SVG graph: one column per
// dependency depth (a service right of what it depends on), an arrow from
// each service to each of its dependencies. The svg is one image
// (role="img") named by its title and described in full by its desc; each
// node and edge has its own <title> for pointer users. The table beside it
// holds the same facts, with links, for everyone else.
func graphHTML(federation string, services []serviceView) template.HTML {
	depth := make(map[string]int, len(services))
	for _, s := range services { // dependency order: dependencies first
		d := 0
		for _, dep := range s.DependsOn {
			if dd, ok := depth[dep]; ok && dd+1 > d {
				d = dd + 1
			}
		}
		depth[s.Name] = d
	}
	type pos struct{ x, y int }
	at := make(map[string]pos, len(services))
	rows := map[int]int{}
	cols, maxRows := 0, 0
	for _, s := range services {
		d := depth[s.Name]
		at[s.Name] = pos{pad + d*(nodeW+gapX), pad + rows[d]*(nodeH+gapY)}
		rows[d]++
		cols = max(cols, d+1)
		maxRows = max(maxRows, rows[d])
	}
	width := 2*pad + cols*nodeW + max(cols-1, 0)*gapX
	height := 2*pad + maxRows*nodeH + max(maxRows-1, 0)*gapY
	const id = "graph" // one graph per page

	var b ui.Builder
	b.Grow(1024 + 700*len(services))
	b.Raw(`<figure class="graph" style="margin:0 0 1rem;overflow-x:auto">`)
	b.Raw(`<svg xmlns="http://www.w3.org/2000/svg" role="img"`)
	b.Attr("aria-labelledby", id+"-title "+id+"-desc")
	b.Attr("viewBox", "0 0 "+strconv.Itoa(width)+" "+strconv.Itoa(height))
	b.Attr("width", strconv.Itoa(width))
	b.Attr("style", "max-width:100%;height:auto;font:13px system-ui,sans-serif")
	b.Raw(`><title`)
	b.Attr("id", id+"-title")
	b.Raw(`>Services of federation `)
	b.Text(federation)
	b.Raw(` and their dependencies</title><desc`)
	b.Attr("id", id+"-desc")
	b.Raw(`>`)
	b.Text(graphDescription(services))
	b.Raw(`</desc>`)
	b.Raw(`<defs><marker id="` + id + `-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#3c4043"/></marker></defs>`)
	for _, s := range services {
		from := at[s.Name]
		for _, dep := range s.DependsOn {
			to, ok := at[dep]
			if !ok {
				continue
			}
			b.Raw(`<g class="edge"`)
			b.Attr("data-from", s.Name)
			b.Attr("data-to", dep)
			b.Raw(`><title>`)
			b.Text(s.Name + " depends on " + dep)
			b.Raw(`</title><path fill="none" stroke="#3c4043" stroke-width="1.5"`)
			x1, y1 := from.x, from.y+nodeH/2
			x2, y2 := to.x+nodeW, to.y+nodeH/2
			mid := (x1 + x2) / 2
			b.Attr("d", "M"+itoa(x1)+","+itoa(y1)+" C"+itoa(mid)+","+itoa(y1)+" "+itoa(mid)+","+itoa(y2)+" "+itoa(x2)+","+itoa(y2))
			b.Raw(` marker-end="url(#` + id + `-arrow)"/></g>`)
		}
	}
	for _, s := range services {
		p, st := at[s.Name], styleOf(s.Serving)
		b.Raw(`<g class="node"`)
		b.Attr("data-service", s.Name)
		b.Attr("data-reality", string(s.Serving))
		b.Raw(`><title>`)
		b.Text(nodeTitle(s))
		b.Raw(`</title><rect rx="6"`)
		b.Attr("x", itoa(p.x))
		b.Attr("y", itoa(p.y))
		b.Attr("width", itoa(nodeW))
		b.Attr("height", itoa(nodeH))
		b.Attr("fill", st.fill)
		b.Attr("stroke", st.stroke)
		sw := "1.5"
		if s.Overridden {
			sw = "4" // a switched or scenario-overridden service stands out by its weight
		}
		b.Attr("stroke-width", sw)
		if st.dash != "" {
			b.Attr("stroke-dasharray", st.dash)
		}
		b.Raw(`/>`)
		text := func(dy int, weight, s string) {
			b.Raw(`<text fill="#1a1a1a"`)
			b.Attr("x", itoa(p.x+10))
			b.Attr("y", itoa(p.y+dy))
			if weight != "" {
				b.Attr("font-weight", weight)
			}
			b.Raw(`>`)
			b.Text(s)
			b.Raw(`</text>`)
		}
		text(20, "700", s.Name+"  "+s.BasePath)
		line := st.symbol + " " + string(s.Serving)
		if s.Overridden {
			line += " (" + s.Cause() + ")"
		}
		text(42, "", line)
		if s.Serving != s.Defined {
			text(62, "", "defined: "+string(s.Defined))
		} else {
			text(62, "", "workspace "+s.Workspace)
		}
		b.Raw(`</g>`)
	}
	b.Raw(`</svg><figcaption>`)
	legend(&b)
	b.Raw(`</figcaption></figure>`)
	return b.HTML()
}

// legend explains the graph's signals in words.
func legend(b *ui.Builder) {
	b.Raw(`<h3 id="legend">Legend</h3><ul class="legend" aria-labelledby="legend" style="list-style:none;padding:0;margin:.25rem 0;display:flex;flex-wrap:wrap;gap:.25rem 1.25rem">`)
	for _, l := range []RealityLevel{Real, MockV3, Blended, ChaosDriven} {
		st := styleOf(l)
		b.Raw(`<li><svg aria-hidden="true" width="28" height="16" style="vertical-align:middle"><rect x="2" y="2" width="24" height="12" rx="3"`)
		b.Attr("fill", st.fill)
		b.Attr("stroke", st.stroke)
		b.Raw(` stroke-width="2"`)
		if st.dash != "" {
			b.Attr("stroke-dasharray", st.dash)
		}
		b.Raw(`/></svg> <span aria-hidden="true">`)
		b.Text(st.symbol)
		b.Raw(`</span> <code>`)
		b.Text(string(l))
		b.Raw(`</code>: `)
		b.Text(st.pattern)
		b.Raw(`</li>`)
	}
	b.Raw(`<li>thick border: reality switched by hand or by the active scenario</li><li>arrow: depends on</li></ul>`)
}

// nodeTitle is a service's facts in one sentence.
func nodeTitle(s serviceView) string {
	var t strings.Builder
	t.WriteString(s.Name + " at " + s.BasePath + ": served " + string(s.Serving))
	if s.Overridden {
		t.WriteString(" (" + s.Cause() + "; defined " + string(s.Defined) + ")")
	}
	if len(s.DependsOn) > 0 {
		t.WriteString("; depends on " + strings.Join(s.DependsOn, ", "))
	}
	return t.String()
}

// graphDescription is the whole graph in words, for screen readers.
func graphDescription(services []serviceView) string {
	var t strings.Builder
	t.WriteString(strconv.Itoa(len(services)) + " services. ")
	for _, s := range services {
		t.WriteString(nodeTitle(s) + ". ")
	}
	return strings.TrimSpace(t.String())
}

func itoa(i int) string { return strconv.Itoa(i) }
