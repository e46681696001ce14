package coverage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/internal/ui"
	"github.com/mockops/mockops/store/access"
)

// APIPath is the path, under HandlerConfig.Prefix, of the JSON API; its
// routes are APIPath + "/heatmap", "/personas", "/endpoints",
// "/staleness", "/drift" and "/gate".
const APIPath = "/api/v2/coverage"

// DashboardPath is the path, under HandlerConfig.Prefix, of the HTML
// dashboard.
const DashboardPath = "/coverage"

// DefaultMaxBuckets is HandlerConfig.MaxBuckets when it is zero: 1000
// hourly columns, six weeks.
const DefaultMaxBuckets = 1000

// HandlerConfig configures NewHandler. The zero value serves the API and
// the dashboard at /api/v2/coverage and /coverage, read-only to everyone
// (access.ReadOnly: every route only reads).
type HandlerConfig struct {
	// Authorizer decides every request: access.Coverage, access.Read, in
	// the workspace of the query string's workspace ("" for every
	// workspace). Nil is access.ReadOnly, which allows reads.
	Authorizer access.Authorizer
	// Prefix is where the host mounts the handler (without stripping it),
	// without a trailing slash: "/admin" serves /admin/api/v2/coverage/...
	// and /admin/coverage. "" mounts at the root.
	Prefix string
	// MaxBuckets bounds the columns a query's window may span (a year of
	// hours would be a page nobody reads and a report nobody waits for);
	// 0 means DefaultMaxBuckets.
	MaxBuckets int
	// Logger receives denied requests and failures. Nil discards.
	Logger *slog.Logger
}

// Handler serves a Collector's reports as JSON and as an HTML dashboard.
// See NewHandler.
type Handler struct {
	c      *Collector
	cfg    HandlerConfig
	ui     *ui.Renderer
	prefix string
}

// NewHandler returns the HTTP API and the dashboard of c:
//
//	GET /api/v2/coverage/heatmap     scenario usage (Report.Heatmap)
//	GET /api/v2/coverage/personas    persona CI hits (Report.Personas)
//	GET /api/v2/coverage/endpoints   endpoint coverage (Report.Endpoints)
//	GET /api/v2/coverage/staleness   staleness (Report.Staleness)
//	GET /api/v2/coverage/drift       drift, and drift over time (DriftHistory)
//	GET /api/v2/coverage/gate        the CI gate's Verdict; ?format=junit for JUnit XML
//	GET /coverage                    the dashboard (HTML)
//
// Every route takes the filters workspace, from and to (RFC 3339, or
// "2006-01-02T15:04" and "2006-01-02" read as UTC), or last (a Go
// duration or a number of days, "7d") for a window ending at to or now.
// The gate also takes min_coverage, ci_only, max_missing_in_spec,
// max_drift (percentages) and max_staleness (a duration), the fields of
// Thresholds. An unknown or repeated parameter is an error, so a typo in a
// CI script fails loudly instead of loosening the gate.
//
// JSON answers are a Section: the Report's envelope (version, generated
// time, window, workspace) with the one section asked for. Errors are RFC
// 9457 problem+json (400 for bad parameters, with every problem in
// "errors"; 401 and 403 from the Authorizer; 404; 405); the dashboard
// answers errors with an HTML page unless the client prefers JSON.
//
// A failing gate is still a 200: the verdict's pass field (or the JUnit
// failures) says it failed, and a non-2xx status is kept for a gate that
// could not be judged.
//
// NewHandler panics on a wiring error (a nil collector, a Prefix that does
// not start with "/"), as http.ServeMux.Handle does: nothing a request
// sends can cause it.
func NewHandler(c *Collector, cfg HandlerConfig) http.Handler {
	h, err := newHandler(c, cfg)
	if err != nil {
		panic(err)
	}
	return h
}

func newHandler(c *Collector, cfg HandlerConfig) (*Handler, error) {
	if c == nil {
		return nil, errors.New("coverage: handler: nil collector")
	}
	prefix := strings.TrimRight(cfg.Prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("coverage: handler: Prefix %q does not start with /", cfg.Prefix)
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = access.ReadOnly
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := newDashboardRenderer(prefix, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Handler{c: c, cfg: cfg, ui: r, prefix: prefix}, nil
}

// Section is the answer of a JSON route: the envelope of a Report with
// the one section the route serves (the others are absent).
type Section struct {
	Version     string    `json:"version"` // ReportVersion
	GeneratedAt time.Time `json:"generated_at"`
	Window      Window    `json:"window"`
	Workspace   string    `json:"workspace"`

	Heatmap   *Heatmap   `json:"heatmap,omitempty"`
	Personas  *Personas  `json:"personas,omitempty"`
	Endpoints *Endpoints `json:"endpoints,omitempty"`
	Staleness *Staleness `json:"staleness,omitempty"`
	Drift     *Drift     `json:"drift,omitempty"`
	// DriftHistory is drift over the window, oldest first (drift route).
	DriftHistory []DriftPoint `json:"drift_history,omitempty"`
	Gate         *Verdict     `json:"gate,omitempty"`
}

// ServeHTTP routes r.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		h.notFound(w, r)
		return
	}
	var serve func(http.ResponseWriter, *http.Request)
	switch path {
	case DashboardPath:
		serve = h.dashboard
	case APIPath + "/heatmap", APIPath + "/personas", APIPath + "/endpoints",
		APIPath + "/staleness", APIPath + "/drift":
		serve = h.section
	case APIPath + "/gate":
		serve = h.gate
	default:
		h.notFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, http.StatusMethodNotAllowed, "Only GET and HEAD are served here: the coverage API only reads.")
		return
	}
	serve(w, r)
}

// isAPI reports whether r is for the JSON API (its errors are always
// problem+json; the dashboard's follow the Accept header).
func (h *Handler) isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, h.prefix+APIPath+"/") || r.URL.Path == h.prefix+APIPath
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, http.StatusNotFound, "There is nothing at this address.")
}

// fail answers an error: problem+json on the API, the error page (or
// problem+json when preferred) on the dashboard.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, detail string) {
	if h.isAPI(r) {
		problem.Write(w, problem.Details{Status: status, Detail: detail, Instance: r.URL.Path})
		return
	}
	h.ui.Error(w, r, status, detail)
}

// badParams answers 400 with every problem of the query string.
func (h *Handler) badParams(w http.ResponseWriter, r *http.Request, errs paramErrors) {
	if h.isAPI(r) || ui.WantsProblem(r) {
		problem.Write(w, problem.Details{Status: http.StatusBadRequest, Detail: errs.Error(), Instance: r.URL.Path}.With("errors", errs))
		return
	}
	h.ui.Error(w, r, http.StatusBadRequest, errs.Error())
}

// allowed asks the Authorizer whether the caller may read coverage in
// workspace, and answers 401 or 403 when not.
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, workspace string) bool {
	req := access.Request{Resource: access.Coverage, Action: access.Read, Workspace: workspace}
	status, err := access.Check(h.cfg.Authorizer, r, req)
	if status == 0 {
		return true
	}
	h.cfg.Logger.Info("coverage: handler: denied", "request", req.String(), "path", r.URL.Path, "err", err)
	msg := "You are not allowed to " + req.String() + "."
	if status == http.StatusUnauthorized {
		msg = "Sign in to read coverage."
	}
	h.fail(w, r, status, msg)
	return false
}

// internal answers a failure of the collector or its store; the text
// shown is fixed, since store errors can carry internals.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.cfg.Logger.Error("coverage: handler", "path", r.URL.Path, "err", err)
	h.fail(w, r, http.StatusInternalServerError, "The report could not be computed; the server's log says why.")
}

// query authorizes r and parses its filters (and, with thresholds, the
// gate's); it answers the error itself when it returns false.
func (h *Handler) query(w http.ResponseWriter, r *http.Request, gate bool) (Query, Thresholds, string, bool) {
	v := r.URL.Query()
	// Authorization first, on the raw workspace: a caller who may not
	// read learns nothing, not even which of its parameters are wrong.
	if !h.allowed(w, r, v.Get("workspace")) {
		return Query{}, Thresholds{}, "", false
	}
	p, errs := h.parse(v, gate)
	if len(errs) > 0 {
		h.badParams(w, r, errs)
		return Query{}, Thresholds{}, "", false
	}
	return p.query, p.thresholds, p.format, true
}

func (h *Handler) section(w http.ResponseWriter, r *http.Request) {
	q, _, _, ok := h.query(w, r, false)
	if !ok {
		return
	}
	rep, err := h.c.Report(r.Context(), q)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	s := envelope(rep)
	switch strings.TrimPrefix(r.URL.Path, h.prefix+APIPath+"/") {
	case "heatmap":
		s.Heatmap = &rep.Heatmap
	case "personas":
		s.Personas = &rep.Personas
	case "endpoints":
		s.Endpoints = &rep.Endpoints
	case "staleness":
		s.Staleness = &rep.Staleness
	case "drift":
		s.Drift = &rep.Drift
		if s.DriftHistory, err = h.c.driftHistory(r.Context(), rep.Window, q.Workspace); err != nil {
			h.internal(w, r, err)
			return
		}
	}
	h.writeJSON(w, r, s)
}

func (h *Handler) gate(w http.ResponseWriter, r *http.Request) {
	_, t, format, ok := h.query(w, r, true)
	if !ok {
		return
	}
	v, err := h.c.Gate(r.Context(), t)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if format == "junit" {
		var buf bytes.Buffer
		if err := v.JUnit(&buf); err != nil {
			h.internal(w, r, err)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/xml; charset=utf-8")
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(buf.Bytes())
		return
	}
	s := envelope(v.Report)
	s.Gate = v
	h.writeJSON(w, r, s)
}

func envelope(rep *Report) Section {
	return Section{Version: rep.Version, GeneratedAt: rep.GeneratedAt, Window: rep.Window, Workspace: rep.Workspace}
}

// writeJSON encodes v in full before writing, so an encoding failure is a
// 500 problem rather than half a document.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		h.internal(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(append(body, '\n'))
}
