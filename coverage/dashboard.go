package coverage

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/mockops/mockops/internal/ui"
)

//go:embed templates/*.html
var dashboardFiles embed.FS

func newDashboardRenderer(prefix string, log *slog.Logger) (*ui.Renderer, error) {
	return ui.New(ui.Config{
		Home:   prefix + DashboardPath,
		Logger: log,
		Funcs: template.FuncMap{
			"ratio": ratioText,
			"pct":   func(p *float64) string { return ui.Percent(fraction(p)) },
			"age":   ageText,
			"stale": staleTone,
		},
		Nav: []ui.NavItem{{Label: "Coverage", Path: prefix + DashboardPath}},
	}, dashboardFiles, "templates/*.html")
}

var uiPage = ui.Page{Title: "Coverage", Current: DashboardPath}

// dashboardView is what templates/dashboard.html executes with.
type dashboardView struct {
	R      *Report
	Filter filterView
	// Built in Go (ui.Builder): thousands of cells through html/template's
	// per-action reflection would take tens of milliseconds.
	HeatmapSVG, HeatmapTable template.HTML
	DriftSVG, DriftTable     template.HTML
	History                  []DriftPoint
	API                      string // the JSON API's base path
	Scope                    string // "every workspace" or "workspace X"
}

type filterView struct {
	Workspace, From, To, Last string
	Lasts                     []option
}

type option struct {
	Value, Label string
	Selected     bool
}

// lastChoices are the windows the filter form offers; any other last is
// kept (and shown) as given.
var lastChoices = []option{{"", "Last 7 days (default)", false}, {"24h", "Last 24 hours", false}, {"7d", "Last 7 days", false}, {"30d", "Last 30 days", false}}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if !h.allowed(w, r, v.Get("workspace")) {
		return
	}
	p, errs := h.parse(v, false)
	if len(errs) > 0 {
		h.badParams(w, r, errs)
		return
	}
	rep, err := h.c.Report(r.Context(), p.query)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	hist, err := h.c.driftHistory(r.Context(), rep.Window, p.query.Workspace)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	view := buildDashboard(rep, hist, h.prefix+APIPath)
	// A datetime-local input only keeps "2006-01-02T15:04": a value with
	// a zone would be dropped by the browser, and the next submit with it.
	local := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04")
	}
	view.Filter = filterView{Workspace: p.query.Workspace, To: local(p.query.To), Last: p.last}
	if p.last == "" {
		view.Filter.From = local(p.query.From)
	}
	view.Filter.Lasts = make([]option, 0, len(lastChoices)+1)
	found := false
	for _, o := range lastChoices {
		o.Selected = o.Value == p.last
		found = found || o.Selected
		view.Filter.Lasts = append(view.Filter.Lasts, o)
	}
	if !found {
		view.Filter.Lasts = append(view.Filter.Lasts, option{Value: p.last, Label: "Last " + p.last, Selected: true})
	}
	page := uiPage
	page.Current = h.prefix + DashboardPath
	h.ui.Render(w, r, http.StatusOK, "dashboard", page, view)
}

// buildDashboard renders the charts and tables of rep that are built in
// Go; the rest is the template's.
func buildDashboard(rep *Report, hist []DriftPoint, api string) dashboardView {
	v := dashboardView{R: rep, History: hist, API: api, Scope: "every workspace"}
	if rep.Workspace != "" {
		v.Scope = "workspace " + rep.Workspace
	}
	v.HeatmapSVG = heatmapSVG(&rep.Heatmap, time.Duration(rep.Window.Bucket)*time.Second)
	v.HeatmapTable = heatmapTable(&rep.Heatmap, time.Duration(rep.Window.Bucket)*time.Second)
	v.DriftSVG = driftSVG(hist, rep.Drift.Budget)
	v.DriftTable = driftTable(hist)
	return v
}

// ageText renders a staleness age in seconds; nil (never checked) is "never".
func ageText(s *float64) string {
	if s == nil {
		return "never"
	}
	d := time.Duration(*s * float64(time.Second))
	if d >= 48*time.Hour {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
	}
	return ui.Duration(d)
}

// staleTone maps a staleness state to a badge tone; the state is always
// written out beside it.
func staleTone(s StalenessState) string {
	switch s {
	case StaleFresh:
		return "ok"
	case StaleAging:
		return "warn"
	case StaleByAge, StaleByContent:
		return "fail"
	}
	return "none"
}
