package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// The routes under /api/v2/pipelines. Each decides authorization through
// h.allow before it reads a body whenever the workspace is known without
// it (see NewHandler).

func (h *handler) listPipelines(w http.ResponseWriter, r *http.Request) {
	q, ok := h.query(w, r, "workspace")
	if !ok {
		return
	}
	ws := q.Get("workspace")
	if !h.allow(w, r, access.Request{Resource: access.Pipelines, Action: access.Read, Workspace: ws}) {
		return
	}
	recs, err := h.e.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := pipelineListJSON{Pipelines: make([]pipelineJSON, 0, len(recs))}
	for _, p := range recs {
		if ws != "" && p.Workspace != ws {
			continue
		}
		loaded, lerr := h.e.runsVersion(p)
		out.Pipelines = append(out.Pipelines, toPipelineJSON(p, false, lerr, loaded))
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

// namedPipeline reads the pipeline of the request's {name} and authorizes
// action on it; when it answers (denied, missing, failed) it returns false.
func (h *handler) namedPipeline(w http.ResponseWriter, r *http.Request, action access.Action) (store.Pipeline, bool) {
	name := r.PathValue("name")
	req := access.Request{Resource: access.Pipelines, Action: action, Name: name}
	p, err := h.e.Get(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if h.allow(w, r, req) {
			problem.Error(w, http.StatusNotFound, "no pipeline "+name)
		}
		return p, false
	case err != nil:
		h.fail(w, r, err)
		return p, false
	}
	req.Workspace = p.Workspace
	return p, h.allow(w, r, req)
}

func (h *handler) getPipeline(w http.ResponseWriter, r *http.Request) {
	p, ok := h.namedPipeline(w, r, access.Read)
	if !ok {
		return
	}
	loaded, lerr := h.e.runsVersion(p)
	w.Header().Set("ETag", etag(p.Version))
	h.writeJSON(w, r, http.StatusOK, toPipelineJSON(p, true, lerr, loaded))
}

func (h *handler) createPipeline(w http.ResponseWriter, r *http.Request) {
	file, src, d, ok := h.definition(w, r, access.Write, defaultDefinitionFile, nil)
	if !ok {
		return
	}
	rec, err := h.e.PutSource(r.Context(), file, src, 0)
	switch {
	case errors.Is(err, store.ErrConflict):
		problem.Error(w, http.StatusConflict, "a pipeline named "+d.Name+" already exists; PUT /api/v2/pipelines/"+d.Name+" replaces it")
		return
	case err != nil && rec.Version == 0:
		h.definitionError(w, r, err)
		return
	}
	h.stored(w, r, http.StatusCreated, rec, err)
}

func (h *handler) putPipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ifMatch, err := parsePrecondition("If-Match", r.Header.Get("If-Match"))
	if err != nil {
		writeAPIError(w, err)
		return
	}
	ifNone, err := parsePrecondition("If-None-Match", r.Header.Get("If-None-Match"))
	if err == nil && ifNone.set && !ifNone.any {
		err = &problem.ClientError{Status: http.StatusBadRequest, Detail: "If-None-Match on PUT must be *"}
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	existing, gerr := h.e.Get(r.Context(), name)
	found := gerr == nil
	if gerr != nil && !errors.Is(gerr, store.ErrNotFound) {
		h.fail(w, r, gerr)
		return
	}
	// A stored pipeline's workspace is known: decide before reading the body.
	if found && !h.allow(w, r, access.Request{Resource: access.Pipelines, Action: access.Write, Workspace: existing.Workspace, Name: name}) {
		return
	}
	if found {
		if !h.preconditionsHold(w, true, existing.Version, ifMatch, ifNone) {
			return
		}
	}
	var authorized *string
	if found {
		authorized = &existing.Workspace
	}
	file, src, d, ok := h.definition(w, r, access.Write, name+".yaml", authorized)
	if !ok {
		return
	}
	if d.Name != name {
		(&problem.ClientError{Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("definition is named %s but the URL names %s", d.Name, name),
			Problems: []problem.Position{{File: d.namePos.File, Line: d.namePos.Line, Column: d.namePos.Col,
				Message: fmt.Sprintf("name %s does not match the URL's %s", d.Name, name)}},
		}).Write(w)
		return
	}
	if !found && !h.preconditionsHold(w, false, 0, ifMatch, ifNone) {
		return
	}
	version := store.AnyVersion
	switch {
	case ifMatch.set && ifMatch.any:
		version = existing.Version
	case ifMatch.set:
		version = ifMatch.version
	case ifNone.set:
		version = 0
	}
	rec, err := h.e.PutSource(r.Context(), file, src, version)
	switch {
	case errors.Is(err, store.ErrConflict) && version != store.AnyVersion:
		problem.Error(w, http.StatusPreconditionFailed, "pipeline "+name+" changed meanwhile: GET it again for its current ETag")
		return
	case errors.Is(err, store.ErrConflict):
		problem.Error(w, http.StatusConflict, "pipeline "+name+" changed meanwhile; retry")
		return
	case err != nil && rec.Version == 0:
		h.definitionError(w, r, err)
		return
	}
	status := http.StatusOK
	if !found {
		status = http.StatusCreated
	}
	h.stored(w, r, status, rec, err)
}

// preconditionsHold checks If-Match and If-None-Match against what is
// stored, answering 412 when one does not hold.
func (h *handler) preconditionsHold(w http.ResponseWriter, found bool, version int64, ifMatch, ifNone precondition) bool {
	switch {
	case ifMatch.set && !found:
		problem.Error(w, http.StatusPreconditionFailed, "If-Match: the pipeline does not exist")
	case ifMatch.set && !ifMatch.any && ifMatch.version != version:
		problem.Error(w, http.StatusPreconditionFailed, fmt.Sprintf("If-Match: the stored version is %s", etag(version)))
	case ifNone.set && found:
		problem.Error(w, http.StatusPreconditionFailed, "If-None-Match: the pipeline already exists")
	default:
		return true
	}
	return false
}

// stored answers a definition just stored. reloadErr is the error of the
// reload after storing: the definition is stored all the same and every
// engine picks it up on its next reload, so the request succeeded.
func (h *handler) stored(w http.ResponseWriter, r *http.Request, status int, rec store.Pipeline, reloadErr error) {
	if reloadErr != nil {
		h.log.WarnContext(r.Context(), "pipeline: admin API: stored a definition but could not reload", "pipeline", rec.Name, "err", reloadErr)
	}
	loaded, lerr := h.e.runsVersion(rec)
	w.Header().Set("ETag", etag(rec.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/v2/pipelines/"+url.PathEscape(rec.Name))
	}
	h.writeJSON(w, r, status, toPipelineJSON(rec, true, lerr, loaded))
}

func (h *handler) deletePipeline(w http.ResponseWriter, r *http.Request) {
	ifMatch, err := parsePrecondition("If-Match", r.Header.Get("If-Match"))
	if err != nil {
		writeAPIError(w, err)
		return
	}
	p, ok := h.namedPipeline(w, r, access.Write)
	if !ok {
		return
	}
	if !h.preconditionsHold(w, true, p.Version, ifMatch, precondition{}) {
		return
	}
	version := store.AnyVersion
	if ifMatch.set {
		version = p.Version
	}
	switch err := h.e.removeVersion(r.Context(), p.Name, version); {
	case errors.Is(err, store.ErrNotFound):
		problem.Error(w, http.StatusNotFound, "no pipeline "+p.Name)
	case errors.Is(err, store.ErrConflict):
		problem.Error(w, http.StatusPreconditionFailed, "pipeline "+p.Name+" changed meanwhile: GET it again for its current ETag")
	case err != nil:
		h.fail(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *handler) validatePipeline(w http.ResponseWriter, r *http.Request) {
	_, _, d, ok := h.definition(w, r, access.Read, defaultDefinitionFile, nil)
	if !ok {
		return
	}
	h.writeJSON(w, r, http.StatusOK, validationJSON{
		Valid: true, Name: d.Name, Description: d.Description, Workspace: d.Workspace,
		Enabled: d.Enabled, Format: string(d.Format), Steps: d.plan.Order(),
	})
}

// definition reads and validates the definition in the request body and
// authorizes action on its workspace. The workspace is first read from
// the YAML alone (cheap), so that a caller who may not act there costs no
// validation (CEL compilation) and sees no problem list; when validation
// finds another workspace (a format that spells it differently), that one
// is decided too. authorized is the workspace the caller was already
// authorized on (a PUT's stored pipeline), nil when none; the same
// workspace is not decided twice. When it answers it returns false.
func (h *handler) definition(w http.ResponseWriter, r *http.Request, action access.Action, fallbackFile string, authorized *string) (string, []byte, *Definition, bool) {
	body, ok := h.readBody(w, r)
	if !ok {
		return "", nil, nil, false
	}
	decide := func(req access.Request) bool {
		if authorized != nil && *authorized == req.Workspace {
			return true
		}
		if n := r.PathValue("name"); n != "" {
			req.Name = n
		}
		if h.allow(w, r, req) {
			authorized = &req.Workspace
			return true
		}
		return false
	}
	file, src, err := decodeDefinition(r.Header.Get("Content-Type"), body, fallbackFile)
	if err != nil {
		// Nothing is known of the workspace: decide the request unscoped
		// first, so that a caller who may do nothing learns nothing.
		if authorized == nil && !decide(access.Request{Resource: access.Pipelines, Action: action}) {
			return "", nil, nil, false
		}
		writeAPIError(w, err)
		return "", nil, nil, false
	}
	req := access.Request{Resource: access.Pipelines, Action: action}
	req.Name, req.Workspace = definitionHeader(src)
	if !decide(req) {
		return "", nil, nil, false
	}
	d, perr := h.e.validate(file, src)
	if d != nil && (d.Workspace != req.Workspace || d.Name != req.Name) {
		req.Name, req.Workspace = d.Name, d.Workspace
		if !decide(req) {
			return "", nil, nil, false
		}
	}
	if perr != nil {
		h.definitionError(w, r, perr)
		return "", nil, nil, false
	}
	return file, src, d, true
}

// definitionError answers a definition the engine refused: 422 with every
// positioned problem, or 500 when the failure was not the definition's.
func (h *handler) definitionError(w http.ResponseWriter, r *http.Request, err error) {
	if l, ok := errors.AsType[ErrorList](err); ok {
		(&problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: fmt.Sprintf("the definition has %d problem(s)", len(l)), Problems: positions(l)}).Write(w)
		return
	}
	if errors.Is(err, store.ErrInvalid) {
		problem.Error(w, http.StatusUnprocessableEntity, "the store refused the definition")
		return
	}
	h.fail(w, r, err)
}

func (h *handler) trigger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	req := access.Request{Resource: access.Pipelines, Action: access.Operate, Name: name}
	p, err := h.e.Get(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if h.allow(w, r, req) {
			problem.Error(w, http.StatusNotFound, "no pipeline "+name)
		}
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	// A scoped pipeline's executions are its workspace's: decide now. An
	// unscoped one's are the event's, known once the body is read.
	if p.Workspace != "" {
		req.Workspace = p.Workspace
		if !h.allow(w, r, req) {
			return
		}
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	ev, err := decodeEvent(r.Header.Get("Content-Type"), body)
	if err == nil && p.Workspace != "" {
		switch ev.Workspace {
		case "":
			ev.Workspace = p.Workspace
		case p.Workspace:
		default:
			err = &problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: "the event's workspace is not the pipeline's"}
		}
	}
	if p.Workspace == "" {
		req.Workspace = ev.Workspace
		if !h.allow(w, r, req) {
			return
		}
	}
	if err == nil {
		err = checkEvent(withPlaceholders(ev))
	}
	if err != nil {
		writeAPIError(w, err)
		return
	}
	id, err := h.e.Trigger(r.Context(), name, ev)
	switch {
	case err == nil:
		w.Header().Set("Location", "/api/v2/executions/"+url.PathEscape(id))
		h.writeJSON(w, r, http.StatusAccepted, triggerJSON{ExecutionID: id})
	case errors.Is(err, ErrNotLoaded):
		if _, gerr := h.e.Get(r.Context(), name); errors.Is(gerr, store.ErrNotFound) {
			problem.Error(w, http.StatusNotFound, "no pipeline "+name)
			return
		}
		problem.Error(w, http.StatusConflict, "pipeline "+name+" is stored but this engine cannot load it (see load_error on GET /api/v2/pipelines/"+name+")")
	case errors.Is(err, store.ErrConflict):
		problem.Error(w, http.StatusConflict, "pipeline "+name+" already has an execution for event "+ev.ID)
	case errors.Is(err, ErrCausationDepth):
		problem.Error(w, http.StatusUnprocessableEntity, "the event's causation chain is deeper than the engine's limit")
	case errors.Is(err, events.ErrInvalid), errors.Is(err, store.ErrInvalid):
		problem.Error(w, http.StatusUnprocessableEntity, "invalid event")
	case errors.Is(err, ErrStopped):
		problem.Error(w, http.StatusServiceUnavailable, "the engine is shutting down")
	default:
		h.fail(w, r, err)
	}
}

// withPlaceholders fills what Engine.Trigger fills, so that the rest of
// ev can be validated before anything is stored.
func withPlaceholders(ev events.Event) events.Event {
	if ev.ID == "" {
		ev.ID = "placeholder"
	}
	if ev.Source == "" {
		ev.Source = "placeholder"
	}
	if ev.Type == "" {
		ev.Type = "placeholder"
	}
	return ev
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	p, ok := h.namedPipeline(w, r, access.Read)
	if !ok {
		return
	}
	s, err := h.e.PipelineStats(r.Context(), p.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, toStatsJSON(s))
}

func (h *handler) testEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	ev, err := decodeEvent(r.Header.Get("Content-Type"), body)
	if err != nil {
		if h.allow(w, r, access.Request{Resource: access.Pipelines, Action: access.Read}) {
			writeAPIError(w, err)
		}
		return
	}
	if !h.allow(w, r, access.Request{Resource: access.Pipelines, Action: access.Read, Workspace: ev.Workspace}) {
		return
	}
	if ev.Type == "" {
		(&problem.ClientError{Status: http.StatusUnprocessableEntity, Detail: `the event needs a "type" to test`}).Write(w)
		return
	}
	now := h.e.now()
	if ev.ID == "" {
		ev.ID = events.NewID(now)
	}
	if ev.Source == "" {
		ev.Source = "mockops/pipeline/test"
	}
	if ev.Time.IsZero() {
		ev.Time = now.UTC()
	}
	if err := checkEvent(ev); err != nil {
		writeAPIError(w, err)
		return
	}
	ds, err := h.e.Test(r.Context(), ev)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := decisionsJSON{Decisions: make([]decisionJSON, 0, len(ds))}
	for _, d := range ds {
		if ev.Workspace != "" {
			// Only what the caller was authorized on: the event's
			// workspace and the unscoped pipelines.
			ws, ok := h.e.loadedWorkspace(d.Pipeline)
			if !ok || (ws != "" && ws != ev.Workspace) {
				continue
			}
		}
		out.Decisions = append(out.Decisions, toDecisionJSON(d))
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

// Engine accessors the handler needs, kept here so the engine's own files
// stay as they are.

// runsVersion says whether this engine runs the stored version of p, and if
// not, why (nil error when it simply has not reloaded yet).
func (e *Engine) runsVersion(p store.Pipeline) (bool, error) {
	s := e.snap.Load()
	if l, ok := s.byName[p.Name]; ok && l.rec.Version == p.Version {
		return true, nil
	}
	if err, ok := s.invalid[p.Name]; ok && errors.Is(err, errVersion(p.Version)) {
		return false, err
	}
	return false, nil
}

// loadedWorkspace returns the workspace of the loaded pipeline name.
func (e *Engine) loadedWorkspace(name string) (string, bool) {
	l, ok := e.snap.Load().byName[name]
	if !ok {
		return "", false
	}
	return l.rec.Workspace, true
}

// removeVersion is Remove guarded by version (store.AnyVersion: none).
func (e *Engine) removeVersion(ctx context.Context, name string, version int64) error {
	if version == store.AnyVersion {
		return e.Remove(ctx, name)
	}
	if err := e.st.DeletePipeline(ctx, name, version); err != nil {
		return fmt.Errorf("pipeline: remove %s: %w", name, err)
	}
	return e.reload(ctx)
}
