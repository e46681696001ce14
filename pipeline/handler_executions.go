package pipeline

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// maxPageLimit is the largest ?limit= of a listing, the store's cap.
const maxPageLimit = 1000

// executionStatuses are the statuses ?status= may name (skipped is a step
// status only).
var executionStatuses = map[store.Status]bool{
	store.StatusQueued: true, store.StatusRunning: true, store.StatusSucceeded: true,
	store.StatusFailed: true, store.StatusCancelled: true, store.StatusTimedOut: true,
}

// query returns r's query parameters, answering 400 for one not in known
// (a misspelt filter would otherwise silently list everything) or given
// twice.
func (h *handler) query(w http.ResponseWriter, r *http.Request, known ...string) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		problem.Error(w, http.StatusBadRequest, "malformed query string")
		return nil, false
	}
next:
	for k, vs := range q {
		for _, kn := range known {
			if k == kn {
				if len(vs) > 1 {
					problem.Error(w, http.StatusBadRequest, "query parameter "+strconv.Quote(k)+" is given more than once")
					return nil, false
				}
				continue next
			}
		}
		problem.Error(w, http.StatusBadRequest, "unknown query parameter "+strconv.Quote(k))
		return nil, false
	}
	return q, true
}

func (h *handler) listExecutions(w http.ResponseWriter, r *http.Request) {
	q, ok := h.query(w, r, "pipeline", "status", "limit", "cursor")
	if !ok {
		return
	}
	eq := store.ExecutionQuery{Pipeline: q.Get("pipeline"), Status: store.Status(q.Get("status")), Cursor: q.Get("cursor")}
	var bad string
	if eq.Status != "" && !executionStatuses[eq.Status] {
		bad = "status must be one of queued, running, succeeded, failed, cancelled, timed_out"
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			bad = "limit must be a whole number from 1 to " + strconv.Itoa(maxPageLimit)
		}
		eq.Limit = n
	}
	// The workspace concerned: the pipeline's when the listing is of one
	// scoped pipeline; otherwise the listing spans workspaces ("").
	req := access.Request{Resource: access.Executions, Action: access.Read, Name: eq.Pipeline}
	if eq.Pipeline != "" {
		p, err := h.e.Get(r.Context(), eq.Pipeline)
		switch {
		case err == nil:
			req.Workspace = p.Workspace
		case !errors.Is(err, store.ErrNotFound):
			h.fail(w, r, err)
			return
		}
	}
	if !h.allow(w, r, req) {
		return
	}
	if bad != "" {
		problem.Error(w, http.StatusBadRequest, bad)
		return
	}
	page, err := h.e.Executions(r.Context(), eq)
	switch {
	case errors.Is(err, store.ErrInvalidCursor):
		problem.Error(w, http.StatusBadRequest, "cursor is not one this API handed out")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	out := executionPageJSON{Executions: make([]executionJSON, len(page.Executions)), NextCursor: page.Next}
	for i, x := range page.Executions {
		out.Executions[i] = toExecutionJSON(x)
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

// namedExecution reads the execution of the request's {id} and authorizes
// action on it; when it answers (denied, missing, failed) it returns false.
func (h *handler) namedExecution(w http.ResponseWriter, r *http.Request, action access.Action) (store.Execution, bool) {
	id := r.PathValue("id")
	req := access.Request{Resource: access.Executions, Action: action, Name: id}
	x, err := h.e.storedExecution(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if h.allow(w, r, req) {
			problem.Error(w, http.StatusNotFound, "no execution "+id)
		}
		return x, false
	case err != nil:
		h.fail(w, r, err)
		return x, false
	}
	ws, err := h.e.executionWorkspace(r.Context(), x)
	if err != nil {
		h.fail(w, r, err)
		return x, false
	}
	req.Workspace = ws
	return x, h.allow(w, r, req)
}

func (h *handler) getExecution(w http.ResponseWriter, r *http.Request) {
	x, ok := h.namedExecution(w, r, access.Read)
	if !ok {
		return
	}
	h.writeJSON(w, r, http.StatusOK, toExecutionJSON(x))
}

// cancel answers 200 with the execution when it is finished (cancelled
// now, or earlier in some other state: cancelling is idempotent), 202
// when it is running and its owner has been asked to stop.
func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	x, ok := h.namedExecution(w, r, access.Operate)
	if !ok {
		return
	}
	x, err := h.e.Cancel(r.Context(), x.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem.Error(w, http.StatusNotFound, "no execution "+r.PathValue("id"))
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if !x.Status.Terminal() {
		status = http.StatusAccepted
	}
	h.writeJSON(w, r, status, toExecutionJSON(x))
}

// storedExecution reads one stored execution.
func (e *Engine) storedExecution(ctx context.Context, id string) (store.Execution, error) {
	return e.st.GetExecution(ctx, id)
}

// executionWorkspace is the workspace an execution belongs to for
// authorization: its pipeline's when that is scoped, otherwise (unscoped,
// or removed since) its event's.
func (e *Engine) executionWorkspace(ctx context.Context, x store.Execution) (string, error) {
	p, err := e.st.GetPipeline(ctx, x.Pipeline)
	switch {
	case err == nil && p.Workspace != "":
		return p.Workspace, nil
	case err == nil, errors.Is(err, store.ErrNotFound):
		return x.Event.Workspace, nil
	}
	return "", err
}
