package pipeline

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mockops/mockops/internal/ui"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

//go:embed pages/*.html
var pageFiles embed.FS

// PagesConfig configures NewPages. The zero value serves read-only pages
// under /ui.
type PagesConfig struct {
	// Authorizer decides every page and action (see NewPages). Nil:
	// access.ReadOnly, so the pages show everything and change nothing.
	Authorizer access.Authorizer
	// Prefix is the path the host mounts the pages at, without a trailing
	// slash. "": "/ui".
	Prefix string
	// TrustedOrigins are other origins (scheme://host[:port]) whose forms
	// may post to the pages, for a UI served behind another host name.
	TrustedOrigins []string
	// Links are more items for the main navigation, after the pipeline
	// pages' own: the host's other admin pages (federations, coverage), so
	// the packages' pages read as one site.
	Links []PageLink
	// Logger receives denied requests and failures. Nil discards.
	Logger *slog.Logger
}

// PageLink is one item of the pages' main navigation.
type PageLink struct {
	Label string
	Path  string // absolute, with the host's mount prefix
}

// Pages is the admin UI of an Engine: server-rendered HTML that works
// without JavaScript. See NewPages.
type Pages struct {
	e      *Engine
	cfg    PagesConfig
	r      *ui.Renderer
	h      http.Handler
	prefix string
}

// NewPages returns the HTML pages of e, mounted at cfg.Prefix:
//
//	GET  /ui/pipelines                    the pipelines: enabled, triggers, last run, success rate, p95
//	GET  /ui/pipelines/new                the editor for a new definition; POST saves it
//	GET  /ui/pipelines/{name}             one pipeline: source (problems in place), stats, recent runs
//	GET  /ui/pipelines/{name}/edit        the editor; POST validates, and saves when valid
//	POST /ui/pipelines/{name}/run         run it by hand, then see the execution
//	GET  /ui/test                         the dry run of an event; POST shows the engine's decisions
//	GET  /ui/executions                   executions filtered by pipeline, status, workspace, time, event
//	GET  /ui/executions/{id}              one execution as a step timeline
//	POST /ui/executions/{id}/cancel       cancel it
//	POST /ui/executions/{id}/rerun        run its event again (a copy with a new id, see below)
//
// Every page and action asks cfg.Authorizer through access.Check, with the
// requests the JSON API (NewHandler) makes: pages read (access.Read)
// pipelines or executions; running a pipeline by hand operates on it
// (access.Operate on Pipelines); cancelling and re-running operate on the
// execution (access.Operate on Executions); saving writes pipelines
// (access.Write) in the workspace of the new definition and of the one it
// replaces. An execution's workspace is its pipeline's when that is
// scoped, else its event's. Lists are checked for the workspace filtered
// on (a scoped pipeline's when the executions of one are listed), and each
// row in its own workspace, so a caller sees only the rows it may read; a
// pipeline's runs are shown only to who may read those executions. Forms
// a caller may not use are not offered. A pipeline run by hand gets the
// event the pipeline's workspace when it is scoped (another one is 422).
//
// Actions are POSTs answered with a redirect (POST-redirect-GET), and every
// POST passes Go's http.CrossOriginProtection, so a form on another site
// cannot act for a signed-in operator. Errors are HTML pages with the
// right status, or RFC 9457 problem+json for a client whose Accept prefers
// JSON.
//
// Executions are unique per (pipeline, event), so a re-run cannot reuse
// the event: it triggers the pipeline with a copy of the event under a new
// id and time, keeping its data, workspace and causation, with the
// extension "rerunof" naming the execution it repeats.
func NewPages(e *Engine, cfg PagesConfig) (*Pages, error) {
	if e == nil {
		return nil, errors.New("pipeline: pages: nil engine")
	}
	prefix, ok := ui.MountPrefix(cfg.Prefix)
	if !ok {
		return nil, errors.New("pipeline: pages: Prefix must start with /")
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = access.ReadOnly
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nav := ui.NavWith([]ui.NavItem{
		{Label: "Pipelines", Path: prefix + "/pipelines"},
		{Label: "Executions", Path: prefix + "/executions"},
		{Label: "Test an event", Path: prefix + "/test"},
	}, cfg.Links)
	r, err := ui.New(ui.Config{
		Home:   prefix + "/pipelines",
		Logger: cfg.Logger,
		Funcs:  template.FuncMap{"execTable": execTableHTML, "timeline": timelineHTML},
		Nav:    nav,
	}, pageFiles, "pages/*.html")
	if err != nil {
		return nil, err // a broken embedded template: fails every build's tests
	}
	p := &Pages{e: e, cfg: cfg, r: r, prefix: prefix}
	mux := r.NewMux(prefix, prefix+"/pipelines")
	route := mux.HandleFunc
	route("GET /pipelines", p.pipelines)
	route("GET /pipelines/new", p.editNew)
	route("POST /pipelines/new", p.saveNew)
	route("GET /pipelines/{name}", p.pipeline)
	route("GET /pipelines/{name}/edit", p.edit)
	route("POST /pipelines/{name}/edit", p.save)
	route("POST /pipelines/{name}/run", p.run)
	route("GET /test", p.testForm)
	route("POST /test", p.test)
	route("GET /executions", p.executions)
	route("GET /executions/{id}", p.executionPage)
	route("POST /executions/{id}/cancel", p.cancel)
	route("POST /executions/{id}/rerun", p.rerun)
	if p.h, err = mux.Handler(cfg.TrustedOrigins...); err != nil {
		return nil, err
	}
	return p, nil
}

// ServeHTTP serves the pages.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

// allowed asks the authorizer whether the caller may do action on res in
// each of workspaces (deduplicated; none means unscoped), and answers the
// error page when not.
func (p *Pages) allowed(w http.ResponseWriter, r *http.Request, res access.Resource, action access.Action, name string, workspaces ...string) bool {
	if len(workspaces) == 0 {
		workspaces = []string{""}
	}
	for i, ws := range workspaces {
		if slices.Contains(workspaces[:i], ws) {
			continue
		}
		req := access.Request{Resource: res, Action: action, Workspace: ws, Name: name}
		status, err := access.Check(p.cfg.Authorizer, r, req)
		if status == 0 {
			continue
		}
		p.cfg.Logger.Info("pipeline: pages: denied", "request", req.String(), "path", r.URL.Path, "err", err)
		// The page names what was refused but not the workspace, as the
		// JSON API's denials: it is that of something the caller may not
		// read.
		shown := req
		shown.Workspace = ""
		p.r.Denied(w, r, status, shown.String())
		return false
	}
	return true
}

// may reports, without answering, whether the caller may read res in ws:
// lists use it to leave out rows the caller may not see.
func (p *Pages) may(r *http.Request, res access.Resource, action access.Action, ws string) bool {
	status, _ := access.Check(p.cfg.Authorizer, r, access.Request{Resource: res, Action: action, Workspace: ws})
	return status == 0
}

// fail answers an engine or store error with the status it means. The
// text shown is fixed per kind: engine errors can carry internals.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on the server; the log says what."
	switch {
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "There is no such pipeline or execution."
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, "Someone changed this meanwhile, or it already exists. Reload and try again."
	case errors.Is(err, store.ErrInvalidCursor):
		status, msg = http.StatusBadRequest, "The page link is not valid any more; start from the first page."
	case errors.Is(err, ErrNotLoaded):
		status, msg = http.StatusConflict, "This pipeline is not loaded (it does not validate against this engine's step types)."
	case errors.Is(err, ErrCausationDepth):
		status, msg = http.StatusUnprocessableEntity, "The event's causation chain is deeper than the engine allows."
	case errors.Is(err, ErrStopped):
		status, msg = http.StatusServiceUnavailable, "The engine is shutting down."
	}
	if status >= 500 {
		p.cfg.Logger.Error("pipeline: pages", "path", r.URL.Path, "err", err)
	}
	p.r.Error(w, r, status, msg)
}

// maxForm bounds a form's body: a definition or an event pasted by hand.
const maxForm = 1 << 20

// form parses a POSTed form within maxForm, answering 400/413 itself.
func (p *Pages) form(w http.ResponseWriter, r *http.Request) bool {
	return p.r.ParseForm(w, r, maxForm)
}

// flashes are the messages a redirect may ask for (?done=...): a fixed
// set, so a link cannot make the page say anything else.
var flashes = map[string]string{
	"saved":     "Saved. The engine has loaded the new version.",
	"created":   "Created. The engine has loaded the pipeline.",
	"triggered": "Triggered: the execution is queued and runs when an engine claims it.",
	"cancelled": "Cancellation requested.",
	"rerun":     "Re-run started with a copy of the original event.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

func (p *Pages) path(parts ...string) string { return p.prefix + strings.Join(parts, "") }

// pathTo is the page of an execution or a pipeline: id escaped as one path
// segment (pipeline names cannot need it; stored execution ids might).
func (p *Pages) pathTo(kind, id string, rest ...string) string {
	return p.prefix + "/" + kind + "/" + url.PathEscape(id) + strings.Join(rest, "")
}
