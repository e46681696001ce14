package federation

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
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
	// Links are more items for the main navigation, after the federation
	// pages' own: the host's other admin pages (pipelines, coverage), so
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

// Pages is the admin UI of a Registry's federations: server-rendered HTML
// that works without JavaScript. See NewPages.
type Pages struct {
	reg    *Registry
	cfg    PagesConfig
	r      *ui.Renderer
	h      http.Handler
	prefix string
}

// NewPages returns the HTML pages of the federations of reg, mounted at
// cfg.Prefix:
//
//	GET  /ui/federations                                        the federations: services, active scenario, version
//	GET  /ui/federations/{name}                                 one federation: its services (graph and table), scenarios
//	GET  /ui/federations/{name}/services/{svc}                  one service: realities, dependencies, recent differences
//	POST /ui/federations/{name}/services/{svc}/reality          switch its reality ("" removes the switch)
//	GET  /ui/federations/{name}/route?path=&method=&host=       the route dry run: which service, at which reality
//	GET  /ui/federations/{name}/scenarios/{scenario}/activate   confirm the activation; POST activates
//	GET  /ui/federations/{name}/scenarios/deactivate            confirm the deactivation; POST deactivates
//	GET  /ui/federations/{name}/state?prefix=                   shared state entries
//	GET  /ui/federations/{name}/state/{key...}                  one entry's value
//
// Every page and action asks cfg.Authorizer through access.Check, with
// the requests of the JSON API (NewHandler): pages read (access.Read)
// access.Federations, access.Scenarios or access.State, named by the
// federation; a service's page and its reality switch are in the
// service's workspace; switching a reality and activating or deactivating
// a scenario operate (access.Operate). Forms are only offered to callers
// who may send them.
//
// Activating or deactivating a scenario switches every workspace of the
// federation, so it takes two steps: a confirmation page, whose form must
// carry its ticked "confirm" checkbox; a POST without it changes nothing.
//
// Actions are POSTs answered with a redirect (POST-redirect-GET), and every
// POST passes Go's http.CrossOriginProtection, so a form on another site
// cannot act for a signed-in operator. Errors are HTML pages with the
// right status, or RFC 9457 problem+json for a client whose Accept prefers
// JSON.
func NewPages(reg *Registry, cfg PagesConfig) (*Pages, error) {
	if reg == nil {
		return nil, errors.New("federation: pages: nil registry")
	}
	prefix, ok := ui.MountPrefix(cfg.Prefix)
	if !ok {
		return nil, errors.New("federation: pages: Prefix must start with /")
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = access.ReadOnly
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nav := ui.NavWith([]ui.NavItem{{Label: "Federations", Path: prefix + "/federations"}}, cfg.Links)
	r, err := ui.New(ui.Config{
		Home:   prefix + "/federations",
		Logger: cfg.Logger,
		Funcs:  template.FuncMap{"graph": graphHTML},
		Nav:    nav,
	}, pageFiles, "pages/*.html")
	if err != nil {
		return nil, err // a broken embedded template: fails every build's tests
	}
	p := &Pages{reg: reg, cfg: cfg, r: r, prefix: prefix}
	mux := r.NewMux(prefix, prefix+"/federations")
	route := mux.HandleFunc
	route("GET /federations", p.list)
	route("GET /federations/{name}", p.federation)
	route("GET /federations/{name}/services/{svc}", p.service)
	route("POST /federations/{name}/services/{svc}/reality", p.setReality)
	route("GET /federations/{name}/route", p.route)
	route("GET /federations/{name}/scenarios/{scenario}/activate", p.confirmActivate)
	route("POST /federations/{name}/scenarios/{scenario}/activate", p.activate)
	route("GET /federations/{name}/scenarios/deactivate", p.confirmDeactivate)
	route("POST /federations/{name}/scenarios/deactivate", p.deactivate)
	route("GET /federations/{name}/state", p.stateList)
	route("GET /federations/{name}/state/{key...}", p.stateEntry)
	if p.h, err = mux.Handler(cfg.TrustedOrigins...); err != nil {
		return nil, err
	}
	return p, nil
}

// ServeHTTP serves the pages.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

// allowed asks the authorizer whether the caller may make req, and answers
// the error page when not. The Authorizer's reason goes to the log only.
func (p *Pages) allowed(w http.ResponseWriter, r *http.Request, req access.Request) bool {
	status, err := access.Check(p.cfg.Authorizer, r, req)
	if status == 0 {
		return true
	}
	p.cfg.Logger.Info("federation: pages: denied", "request", req.String(), "path", r.URL.Path, "err", err)
	// The page names what was refused but not the workspace, as the JSON
	// APIs' denials: it may be one the caller may not read.
	shown := req
	shown.Workspace = ""
	p.r.Denied(w, r, status, shown.String())
	return false
}

// may reports, without answering, whether the caller may make req: pages
// use it to offer only the forms the caller may send.
func (p *Pages) may(r *http.Request, req access.Request) bool {
	status, _ := access.Check(p.cfg.Authorizer, r, req)
	return status == 0
}

// router returns the Router of the federation in the path, answering 404
// when the Registry does not serve it.
func (p *Pages) router(w http.ResponseWriter, r *http.Request) (*Router, bool) {
	rt, ok := p.reg.Router(r.PathValue("name"))
	if !ok {
		p.r.Error(w, r, http.StatusNotFound, "There is no such federation (or this replica does not serve it).")
		return nil, false
	}
	return rt, true
}

// fail answers a Router, Registry or store error with the status it means.
// The text shown is fixed per kind, except a validation's own messages:
// errors of the host's activator or of the database can carry internals.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on the server; the log says what."
	var list ErrorList
	switch {
	case errors.As(err, &list):
		status, msg = http.StatusUnprocessableEntity, "The federation would not be valid so: "+list.Error()
	case errors.Is(err, ErrUnknownScenario):
		status, msg = http.StatusNotFound, "This federation has no such scenario."
	case errors.Is(err, ErrUnknownService):
		status, msg = http.StatusNotFound, "This federation has no such service."
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "There is no such entry."
	case errors.Is(err, ErrScenarioActive):
		status, msg = http.StatusConflict, "A scenario is active; deactivate it first."
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, "Someone changed this meanwhile. Reload and try again."
	case errors.Is(err, store.ErrInvalid):
		status, msg = http.StatusBadRequest, "The request is not valid for the store (a key or a prefix it refuses)."
	}
	if status >= 500 {
		p.cfg.Logger.Error("federation: pages", "path", r.URL.Path, "err", err)
	}
	p.r.Error(w, r, status, msg)
}

// maxForm bounds a form's body: the pages' forms hold a few short fields.
const maxForm = 64 << 10

// form parses a POSTed form within maxForm, answering 400/413 itself.
func (p *Pages) form(w http.ResponseWriter, r *http.Request) bool {
	return p.r.ParseForm(w, r, maxForm)
}

// flashes are the messages a redirect may ask for (?done=...): a fixed
// set, so a link cannot make the page say anything else.
var flashes = map[string]string{
	"reality":     "Reality switched: the router serves the service so from now on.",
	"unswitched":  "Switch removed: the service is served as its definition (and the active scenario) say.",
	"activated":   "Scenario activated: every workspace was switched and the router serves the scenario.",
	"deactivated": "Scenario deactivated: the federation is served as defined.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

// fedPath is the page of federation name, with more path segments after
// it (each escaped as one segment).
func (p *Pages) fedPath(name string, rest ...string) string {
	var b strings.Builder
	b.WriteString(p.prefix + "/federations/" + url.PathEscape(name))
	for _, s := range rest {
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String()
}

// statePath is the page of a shared state key: its segments are kept
// (a key may hold slashes), each one escaped.
func (p *Pages) statePath(name, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return p.fedPath(name, "state") + "/" + strings.Join(segs, "/")
}
