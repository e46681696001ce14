package pipeline

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store/access"
)

// DefaultMaxBodyBytes is HandlerConfig.MaxBodyBytes when it is zero.
const DefaultMaxBodyBytes = 1 << 20

// HandlerConfig configures NewHandler. Its zero value serves every read
// and refuses every change (access.ReadOnly).
type HandlerConfig struct {
	// Authorizer decides every request, told the resource (access.Pipelines
	// or access.Executions), the action and the workspace concerned. Nil:
	// access.ReadOnly, so an API mounted without one shows data but
	// changes nothing.
	Authorizer access.Authorizer
	// MaxBodyBytes bounds a request body; a larger one is answered 413.
	// 0 means DefaultMaxBodyBytes. Definitions are further bounded by
	// MaxSourceSize.
	MaxBodyBytes int64
	// Logger receives server-side failures (answered 500) and the reasons
	// the Authorizer gave for denials, which are never shown to the
	// caller. Nil discards.
	Logger *slog.Logger
}

// handler serves the admin API over one engine. It holds no state of its
// own beyond its configuration: every answer comes from the engine.
type handler struct {
	e       *Engine
	authz   access.Authorizer
	maxBody int64
	log     *slog.Logger
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
}

// NewHandler returns the HTTP admin API of e:
//
//	GET    /api/v2/pipelines[?workspace=]            list definitions
//	POST   /api/v2/pipelines                         create one (409 if the name exists)
//	GET    /api/v2/pipelines/{name}                  one definition, with its source and ETag
//	PUT    /api/v2/pipelines/{name}                  create or replace (If-Match / If-None-Match)
//	DELETE /api/v2/pipelines/{name}                  remove (If-Match)
//	POST   /api/v2/pipelines/{name}/trigger          run by hand: 202 with the execution id
//	GET    /api/v2/pipelines/{name}/stats            success rate and p50/p95 of the newest runs
//	POST   /api/v2/pipelines/validate                parse without storing
//	POST   /api/v2/pipelines/test                    dry run of an event: the engine's decisions
//	GET    /api/v2/executions?pipeline=&status=&limit=&cursor=
//	GET    /api/v2/executions/{id}
//	POST   /api/v2/executions/{id}/cancel
//
// # Bodies
//
// Answers are JSON with snake_case members; every error is an RFC 9457
// problem (application/problem+json), unknown routes (404) and methods
// (405, with Allow) included. Bodies over MaxBodyBytes are answered 413.
//
// A definition is sent either as YAML (Content-Type application/yaml,
// application/x-yaml or text/yaml: the body is the definition) or as JSON
// (application/json, or no Content-Type): {"source": "<yaml>", "file":
// "<name used in diagnostics>"}; anything else is 415. A definition that
// does not validate is answered 422 with an "errors" member listing every
// problem as {"file", "line", "column", "message"}; validate answers 200
// with the parsed summary when it is valid.
//
// An event (trigger and test) is a JSON object {"id", "type", "source",
// "subject", "workspace", "org", "time", "data", "extensions"}, every
// member optional for trigger (Engine.Trigger fills id, source, type and
// time) and type required for test. A trigger of a pipeline scoped to a
// workspace gets that workspace when the event names none, and is
// refused (422) when it names another one.
//
// # Answers
//
//	pipeline    {name, version, workspace, enabled, updated_at, loaded,
//	             load_error, source}  (listings leave out source; loaded
//	             says whether this engine runs the stored version)
//	validate    {valid, name, description, workspace, enabled, format, steps}
//	trigger     {execution_id}, 202, Location: /api/v2/executions/{id}
//	execution   {id, pipeline, version, event_id, event (CloudEvents JSON),
//	             status, error, attempt, owner, lease_until,
//	             cancel_requested, created_at, started_at, finished_at,
//	             steps: [{id, uses, status, outcome, conclusion, attempts,
//	             started_at, finished_at, with, output, error}]}
//	executions  {executions: [execution...], next_cursor} ("" on the last
//	             page; newest first; limit 1 to 1000, 50 by default; a
//	             cursor this API did not hand out is 400)
//	cancel      the execution: 200 when it is finished, 202 when its
//	             owner has been asked to stop it
//	stats       {pipeline, window, by_status, finished, success_rate
//	             (null when nothing finished), p50_seconds, p95_seconds};
//	             404 once the pipeline is no longer stored
//	test        {decisions: [{pipeline, version, matched, reason, error,
//	             triggers: [{trigger, event, matched, reason, error}],
//	             steps: [{id, uses, if, run, if_error, with, render_error}]}]}
//
// Unknown query parameters, or one given twice, are 400: a misspelt
// filter must not silently list everything.
//
// # Versions
//
// GET and PUT answer an ETag, the stored version as a quoted decimal. PUT
// and DELETE honour If-Match (the version, or * for "must exist") and PUT
// honours If-None-Match: * (create only): a precondition that does not
// hold is 412, as RFC 9110 says; without a precondition PUT replaces
// whatever is stored. POST creates only, and a name already taken is 409.
//
// # Authorization
//
// Every request is decided by the Authorizer through access.Check, before
// the body is read whenever the workspace concerned is known without it:
// Read for GETs, validate and test, Operate for trigger and cancel, Write
// for creating, replacing and deleting definitions. The workspace is the
// pipeline's (both the stored and the new one when a PUT moves it); an
// execution's is its pipeline's, or the event's when the pipeline is
// unscoped or gone; a listing's is the workspace it filters on, "" when
// it spans every workspace. Creating a definition and validating or
// testing need the body to learn the workspace; they read it (bounded)
// first.
//
// A denial is 401 (the Authorizer's error wraps access.ErrUnauthenticated)
// or 403, with a detail that names the action and resource but never the
// workspace or the Authorizer's reason. Pipeline names are one namespace,
// so a caller may learn that a name is taken (a create answers 409 anyway);
// what a denied caller never sees is a definition, its workspace or its
// executions. A request for a name that does not exist is decided as
// unscoped (workspace "") and then answered 404. The decisions of test
// list only the pipelines of the event's workspace and the unscoped ones,
// unless the event names no workspace (then the request spans all).
//
// # Cross-origin requests
//
// Every request but GET, HEAD and OPTIONS passes Go's
// http.CrossOriginProtection first: one a browser sends from another
// origin (Sec-Fetch-Site cross-site, or an Origin whose host is not the
// request's) is 403 before it is authorized, since the browser may attach
// credentials the Authorizer accepts (basic authentication, cookies) and
// a form or a no-cors fetch needs no CORS preflight. Requests without
// those headers (API clients) pass.
func NewHandler(e *Engine, cfg HandlerConfig) http.Handler {
	if e == nil {
		panic("pipeline: NewHandler: nil engine") // wiring-time programmer error
	}
	h := &handler{e: e, authz: cfg.Authorizer, maxBody: cfg.MaxBodyBytes, log: cfg.Logger, mux: http.NewServeMux(),
		cop: http.NewCrossOriginProtection()}
	if h.authz == nil {
		h.authz = access.ReadOnly
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h.mux.HandleFunc("GET /api/v2/pipelines", h.listPipelines)
	h.mux.HandleFunc("POST /api/v2/pipelines", h.createPipeline)
	h.mux.HandleFunc("POST /api/v2/pipelines/validate", h.validatePipeline)
	h.mux.HandleFunc("POST /api/v2/pipelines/test", h.testEvent)
	h.mux.HandleFunc("GET /api/v2/pipelines/{name}", h.getPipeline)
	h.mux.HandleFunc("PUT /api/v2/pipelines/{name}", h.putPipeline)
	h.mux.HandleFunc("DELETE /api/v2/pipelines/{name}", h.deletePipeline)
	h.mux.HandleFunc("POST /api/v2/pipelines/{name}/trigger", h.trigger)
	h.mux.HandleFunc("GET /api/v2/pipelines/{name}/stats", h.stats)
	h.mux.HandleFunc("GET /api/v2/executions", h.listExecutions)
	h.mux.HandleFunc("GET /api/v2/executions/{id}", h.getExecution)
	h.mux.HandleFunc("POST /api/v2/executions/{id}/cancel", h.cancel)
	return h
}

// ServeHTTP routes r. What ServeMux would answer in plain text (no route,
// or a route without that method) is answered as a problem instead.
// A state-changing request a browser sends from another origin is refused
// first (see Cross-origin requests in NewHandler).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.cop.Check(r); err != nil {
		problem.Error(w, http.StatusForbidden, "cross-origin request refused: the admin API changes nothing for a page of another site")
		return
	}
	problem.ServeMux(h.mux, w, r, nil)
}

// allow runs the Authorizer on req and, when it denies, answers 401 or 403
// and returns false. The detail names what was refused, never the
// workspace or the Authorizer's reason (logged at debug level).
func (h *handler) allow(w http.ResponseWriter, r *http.Request, req access.Request) bool {
	status, err := access.Check(h.authz, r, req)
	if status == 0 {
		return true
	}
	h.log.DebugContext(r.Context(), "pipeline: admin API request denied", "request", req.String(), "status", status, "err", err)
	problem.Denied(w, status, string(req.Action), string(req.Resource))
	return false
}

// fail answers a server-side failure: 500, logged, its text not shown (a
// store error may name tables or hosts).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
		// The client went away: nothing to log, and nobody reads the answer.
		problem.Error(w, http.StatusServiceUnavailable, "request cancelled")
		return
	}
	h.log.ErrorContext(r.Context(), "pipeline: admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	problem.Error(w, http.StatusInternalServerError, "internal error")
}
