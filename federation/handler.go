package federation

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// DefaultMaxBodyBytes is HandlerConfig.MaxBodyBytes when it is zero.
const DefaultMaxBodyBytes = 1 << 20

// HandlerConfig configures NewHandler. Its zero value serves every read
// and refuses every change (access.ReadOnly).
type HandlerConfig struct {
	// Authorizer decides every request, told the resource
	// (access.Federations, access.Scenarios or access.State), the action
	// and, where one service is concerned, its workspace. Nil:
	// access.ReadOnly.
	Authorizer access.Authorizer
	// MaxBodyBytes bounds a request body; a larger one is answered 413.
	// 0 means DefaultMaxBodyBytes. Definitions are further bounded by
	// MaxSourceSize.
	MaxBodyBytes int64
	// Logger receives server-side failures (answered 500 without their
	// text) and the Authorizer's reasons for denials. Nil discards.
	Logger *slog.Logger
}

// handler serves the admin API over one Registry; every answer comes from
// the Registry and its Routers' Go API.
type handler struct {
	reg     *Registry
	authz   access.Authorizer
	maxBody int64
	log     *slog.Logger
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
}

// NewHandler returns the HTTP admin API of the federations of reg:
//
//	GET    /api/v2/federations                               list definitions
//	POST   /api/v2/federations                               create one (409 if the name exists)
//	POST   /api/v2/federations/validate                      parse and check without storing
//	GET    /api/v2/federations/{name}                        one definition, its source and ETag
//	PUT    /api/v2/federations/{name}                        create or replace (If-Match / If-None-Match)
//	DELETE /api/v2/federations/{name}                        remove (If-Match; 409 while a scenario is active)
//	POST   /api/v2/federations/{name}/route                  dry run {"method","host","path"}
//	PUT    /api/v2/federations/{name}/services/{svc}/reality switch {"reality": "real"}; "" removes the switch
//	GET    /api/v2/federations/{name}/services/{svc}/diffs   recent mock/real differences
//	GET    /api/v2/federations/{name}/scenarios              the scenarios and the active one
//	GET    /api/v2/federations/{name}/scenarios/active       the active scenario
//	POST   /api/v2/federations/{name}/scenarios/{scenario}/activate
//	POST   /api/v2/federations/{name}/scenarios/deactivate
//	GET    /api/v2/federations/{name}/state[?prefix=]        shared state entries
//	GET    /api/v2/federations/{name}/state/{key...}         one entry, ETag = its version
//	PUT    /api/v2/federations/{name}/state/{key...}         write a JSON value; If-Match: compare-and-swap
//	DELETE /api/v2/federations/{name}/state/{key...}         remove (If-Match)
//
// # Bodies
//
// Answers are JSON with snake_case members; every error is an RFC 9457
// problem, unknown routes (404) and methods (405) included. Bodies over
// MaxBodyBytes are answered 413; JSON bodies with unknown members or
// trailing data are 400 with the position.
//
// A definition is sent as YAML (Content-Type application/yaml,
// application/x-yaml or text/yaml) or as JSON (application/json, or no
// Content-Type): {"source": "<yaml>"}; anything else is 415. A definition
// that does not validate is 422 with an "errors" member listing every
// problem as {"file", "line", "column", "message"}.
//
// # Versions
//
// Definitions and state entries answer an ETag, the stored version as a
// quoted decimal. PUT and DELETE honour If-Match (the version, or * for
// "must exist") and PUT honours If-None-Match: * (create only); a
// precondition that does not hold is 412. Without one, PUT replaces
// whatever is stored: a state PUT with If-Match is the compare-and-swap.
//
// # Authorization
//
// Every request is decided by the Authorizer through access.Check before
// its body is read (a create reads it first to learn the name): Read for
// GETs, validate and the route dry run; Operate for reality switches,
// scenario activation and state writes; Write for definitions. The
// resource is access.Federations (definitions, route, reality, diffs),
// access.Scenarios or access.State; the Workspace is the service's for
// the requests about one service (reality, diffs), "" otherwise. A
// denial is 401 or 403 and never shows the Authorizer's reason. A
// federation the Registry does not serve is 404, after the decision.
//
// A POST, PUT or DELETE that a browser sends from another origin
// (Sec-Fetch-Site cross-site or same-site, or an Origin whose host is not
// the request's) is refused with 403 before it is decided, as
// http.CrossOriginProtection does: a form on another site cannot act with
// an operator's cookies. Clients that are not browsers send neither
// header and are not concerned.
func NewHandler(reg *Registry, cfg HandlerConfig) http.Handler {
	if reg == nil {
		panic("federation: NewHandler: nil registry") // wiring-time programmer error
	}
	h := &handler{reg: reg, authz: cfg.Authorizer, maxBody: cfg.MaxBodyBytes, log: cfg.Logger, mux: http.NewServeMux(),
		cop: http.NewCrossOriginProtection()}
	if h.authz == nil {
		h.authz = access.ReadOnly
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	const base = "/api/v2/federations"
	h.mux.HandleFunc("GET "+base, h.list)
	h.mux.HandleFunc("POST "+base, h.create)
	h.mux.HandleFunc("POST "+base+"/validate", h.validate)
	h.mux.HandleFunc("GET "+base+"/{name}", h.get)
	h.mux.HandleFunc("PUT "+base+"/{name}", h.put)
	h.mux.HandleFunc("DELETE "+base+"/{name}", h.delete)
	h.mux.HandleFunc("POST "+base+"/{name}/route", h.route)
	h.mux.HandleFunc("PUT "+base+"/{name}/services/{svc}/reality", h.setReality)
	h.mux.HandleFunc("GET "+base+"/{name}/services/{svc}/diffs", h.diffs)
	h.mux.HandleFunc("GET "+base+"/{name}/scenarios", h.scenarios)
	h.mux.HandleFunc("GET "+base+"/{name}/scenarios/active", h.activeScenario)
	h.mux.HandleFunc("POST "+base+"/{name}/scenarios/{scenario}/activate", h.activate)
	h.mux.HandleFunc("POST "+base+"/{name}/scenarios/deactivate", h.deactivate)
	h.mux.HandleFunc("GET "+base+"/{name}/state", h.listState)
	h.mux.HandleFunc("GET "+base+"/{name}/state/{key...}", h.getState)
	h.mux.HandleFunc("PUT "+base+"/{name}/state/{key...}", h.putState)
	h.mux.HandleFunc("DELETE "+base+"/{name}/state/{key...}", h.deleteState)
	return h
}

// ServeHTTP routes r. What ServeMux would answer in plain text (no route,
// or a route without that method) is answered as a problem instead. An
// unsafe request a browser marks as sent from another origin is refused
// first (403): the bodyless POSTs (scenario activation) are what a form
// on another site can send with the operator's cookies.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.cop.Check(r); err != nil {
		problem.Error(w, http.StatusForbidden, "cross-origin request refused: the admin API takes changes from its own origin or from non-browser clients")
		return
	}
	problem.ServeMux(h.mux, w, r, clip)
}

// allow runs the Authorizer on req; when it denies, it answers 401 or 403
// and returns false. The Authorizer's reason is logged, never shown.
func (h *handler) allow(w http.ResponseWriter, r *http.Request, req access.Request) bool {
	status, err := access.Check(h.authz, r, req)
	if status == 0 {
		return true
	}
	h.log.DebugContext(r.Context(), "federation: admin API request denied", "request", req.String(), "status", status, "error", err)
	problem.Denied(w, status, string(req.Action), string(req.Resource))
	return false
}

// router returns the Router of the federation in the path, answering 404
// when the Registry does not serve it.
func (h *handler) router(w http.ResponseWriter, r *http.Request) (*Router, bool) {
	name := r.PathValue("name")
	rt, ok := h.reg.Router(name)
	if !ok {
		problem.Write(w, problem.New(http.StatusNotFound, "no federation "+quote(name)).With("federation", clip(name)))
		return nil, false
	}
	return rt, true
}

// service returns the service svc of rt's definition and its workspace,
// answering 404 when there is none.
func serviceOf(w http.ResponseWriter, rt *Router, svc string) (Service, bool) {
	s, ok := rt.Definition().Service(svc)
	if !ok {
		problem.Write(w, problem.New(http.StatusNotFound, "no service "+quote(svc)+" in federation "+quote(rt.Definition().Name)).With("service", clip(svc)))
		return Service{}, false
	}
	return s, true
}

// fail answers err: client errors with their status and detail, anything
// else as a 500 whose text is logged, not shown (it may carry a host's
// or a database's words).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error, precondition bool) {
	var list ErrorList
	switch {
	case errors.As(err, &list):
		problem.Write(w, problem.New(http.StatusUnprocessableEntity, "the definition is not valid").With("errors", positionsOf(list)))
	case errors.Is(err, ErrInvalidDefinition):
		problem.Error(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, ErrScenarioActive):
		problem.Error(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrConflict) && precondition:
		problem.Error(w, http.StatusPreconditionFailed, "the stored version does not match the precondition")
	case errors.Is(err, store.ErrConflict):
		problem.Error(w, http.StatusConflict, "the record changed meanwhile or already exists")
	case errors.Is(err, store.ErrNotFound) && precondition:
		// If-Match on what does not exist does not hold (RFC 9110 13.1.1).
		problem.Error(w, http.StatusPreconditionFailed, "nothing is stored there to match the precondition")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrUnknownScenario), errors.Is(err, ErrUnknownService):
		problem.Error(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrInvalid):
		problem.Error(w, http.StatusBadRequest, err.Error())
	default:
		h.log.ErrorContext(r.Context(), "federation: admin API request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		problem.Error(w, http.StatusInternalServerError, "internal error")
	}
}
