package federation

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// stateOf authorizes a shared-state request and returns the federation's
// State, answering 404 for an unknown federation.
func (h *handler) stateOf(w http.ResponseWriter, r *http.Request, action access.Action) (*State, bool) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.State, Action: action, Name: name}) {
		return nil, false
	}
	rt, ok := h.router(w, r)
	if !ok {
		return nil, false
	}
	if rt.State() == nil { // a Registry's Routers always have the store
		problem.Error(w, http.StatusNotImplemented, "federation "+quote(name)+" has no shared state")
		return nil, false
	}
	return rt.State(), true
}

func (h *handler) listState(w http.ResponseWriter, r *http.Request) {
	st, ok := h.stateOf(w, r, access.Read)
	if !ok {
		return
	}
	entries, err := st.List(r.Context(), r.URL.Query().Get("prefix"))
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	out := stateListJSON{Entries: make([]stateEntryJSON, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, stateEntryOf(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) getState(w http.ResponseWriter, r *http.Request) {
	st, ok := h.stateOf(w, r, access.Read)
	if !ok {
		return
	}
	e, err := st.Get(r.Context(), r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusOK, stateEntryOf(e))
}

// putState writes the body, one JSON value, to the key: unconditionally,
// or as a compare-and-swap on If-Match's version (If-None-Match: * to
// create only).
func (h *handler) putState(w http.ResponseWriter, r *http.Request) {
	st, ok := h.stateOf(w, r, access.Operate)
	if !ok {
		return
	}
	version, mustExist, given, err := precondition(r, true)
	if err != nil {
		err.(*problem.ClientError).Write(w)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			problem.Error(w, http.StatusUnsupportedMediaType, "a state value is sent as application/json")
			return
		}
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	var probe json.RawMessage
	if err := decodeJSON(body, &probe); err != nil {
		err.(*problem.ClientError).Write(w)
		return
	}
	key := r.PathValue("key")
	if mustExist {
		cur, err := st.Get(r.Context(), key)
		if errors.Is(err, store.ErrNotFound) {
			problem.Error(w, http.StatusPreconditionFailed, "state "+quote(key)+" does not exist")
			return
		}
		if err != nil {
			h.fail(w, r, err, false)
			return
		}
		version = cur.Version
	}
	var e store.StateEntry
	if version == store.AnyVersion {
		e, err = st.Put(r.Context(), key, body)
	} else {
		e, err = st.CompareAndSwap(r.Context(), key, body, version)
	}
	if err != nil {
		h.fail(w, r, err, given)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusOK, stateEntryOf(e))
}

func (h *handler) deleteState(w http.ResponseWriter, r *http.Request) {
	st, ok := h.stateOf(w, r, access.Operate)
	if !ok {
		return
	}
	version, _, given, err := precondition(r, false)
	if err != nil {
		err.(*problem.ClientError).Write(w)
		return
	}
	if err := st.Delete(r.Context(), r.PathValue("key"), version); err != nil {
		h.fail(w, r, err, given)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
