package federation

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Read}) {
		return
	}
	recs, err := h.reg.List(r.Context())
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	out := federationListJSON{Federations: make([]federationJSON, 0, len(recs))}
	for _, rec := range recs {
		f := h.federationOf(rec)
		f.Source = "" // the listing stays small; GET one for its source
		out.Federations = append(out.Federations, f)
	}
	writeJSON(w, http.StatusOK, out)
}

// federationOf describes a stored definition and how this replica serves it.
func (h *handler) federationOf(rec store.FederationRecord) federationJSON {
	out := federationJSON{Name: rec.Name, Version: rec.Version, UpdatedAt: timeOf(rec.UpdatedAt), Source: string(rec.Spec)}
	def, err := Parse(rec.Name+".yaml", rec.Spec)
	if err != nil {
		out.LoadError = err.Error()
		return out
	}
	out.Description = def.Description
	for _, sc := range def.Scenarios {
		out.Scenarios = append(out.Scenarios, sc.Name)
	}
	var serving *Federation
	if v, ok := h.reg.served(rec.Name); ok && v == rec.Version {
		if rt, ok := h.reg.Router(rec.Name); ok {
			out.Loaded = true
			out.ActiveScenario = rt.ActiveScenario()
			out.Realities = rt.Realities()
			serving = rt.Federation()
		}
	}
	if !out.Loaded {
		out.LoadError = "this replica does not serve this version (yet): see its logs"
	}
	for _, s := range def.Services {
		sj := serviceJSON{Name: s.Name, BasePath: s.BasePath, Host: s.Host, Workspace: s.WorkspaceName(),
			Reality: s.Reality, DependsOn: s.DependsOn, Upstream: redactedUpstream(s.Upstream)}
		if serving != nil {
			if cur, ok := serving.Service(s.Name); ok {
				sj.Serving = cur.Reality
			}
		}
		out.Services = append(out.Services, sj)
	}
	return out
}

// redactedUpstream hides the password of an upstream URL.
func redactedUpstream(raw string) string {
	if raw == "" {
		return ""
	}
	u, msg := parseUpstream(raw)
	if msg != "" || u == nil {
		return ""
	}
	return u.Redacted()
}

// definition reads the definition a request carries; on failure it
// answers and returns false.
func (h *handler) definition(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, ok := h.readBody(w, r)
	if !ok {
		return nil, false
	}
	src, err := decodeDefinition(r.Header.Get("Content-Type"), body)
	if err != nil {
		err.(*problem.ClientError).Write(w)
		return nil, false
	}
	return src, true
}

// parsed parses a definition sent to create or validate: the name it
// holds is the federation's. An invalid one has none: its create is
// authorized as unnamed, then answered with Parse's problems.
func parsed(src []byte) (name string, err error) {
	f, err := Parse("definition.yaml", src)
	if err != nil {
		return "", err
	}
	return f.Name, nil
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	src, ok := h.definition(w, r)
	if !ok {
		return
	}
	name, perr := parsed(src)
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Write, Name: name}) {
		return
	}
	if perr != nil {
		h.fail(w, r, fmt.Errorf("%w: %w", ErrInvalidDefinition, perr), false)
		return
	}
	rec, err := h.reg.Put(r.Context(), name, src, 0)
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	w.Header().Set("ETag", etag(rec.Version))
	w.Header().Set("Location", "/api/v2/federations/"+rec.Name)
	writeJSON(w, http.StatusCreated, h.federationOf(rec))
}

func (h *handler) validate(w http.ResponseWriter, r *http.Request) {
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Read}) {
		return
	}
	src, ok := h.definition(w, r)
	if !ok {
		return
	}
	name, perr := parsed(src)
	if perr != nil {
		h.fail(w, r, fmt.Errorf("%w: %w", ErrInvalidDefinition, perr), false)
		return
	}
	f, err := h.reg.Check(r.Context(), name, src)
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	out := struct {
		Valid    bool     `json:"valid"`
		Name     string   `json:"name"`
		Order    []string `json:"order"`
		Scenario []string `json:"scenarios"`
	}{Valid: true, Name: f.Name, Order: []string{}, Scenario: []string{}}
	for _, s := range f.Order() {
		out.Order = append(out.Order, s.Name)
	}
	for _, s := range f.Scenarios {
		out.Scenario = append(out.Scenario, s.Name)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Read, Name: name}) {
		return
	}
	rec, err := h.reg.Get(r.Context(), name)
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	w.Header().Set("ETag", etag(rec.Version))
	writeJSON(w, http.StatusOK, h.federationOf(rec))
}

func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Write, Name: name}) {
		return
	}
	version, mustExist, given, err := precondition(r, true)
	if err != nil {
		err.(*problem.ClientError).Write(w)
		return
	}
	src, ok := h.definition(w, r)
	if !ok {
		return
	}
	if mustExist {
		cur, err := h.reg.Get(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			problem.Error(w, http.StatusPreconditionFailed, "federation "+quote(name)+" does not exist")
			return
		}
		if err != nil {
			h.fail(w, r, err, false)
			return
		}
		version = cur.Version
	}
	rec, err := h.reg.Put(r.Context(), name, src, version)
	if err != nil {
		h.fail(w, r, err, given)
		return
	}
	w.Header().Set("ETag", etag(rec.Version))
	writeJSON(w, http.StatusOK, h.federationOf(rec))
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Write, Name: name}) {
		return
	}
	version, _, given, err := precondition(r, false)
	if err != nil {
		err.(*problem.ClientError).Write(w)
		return
	}
	if err := h.reg.Delete(r.Context(), name, version); err != nil {
		h.fail(w, r, err, given)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) route(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Read, Name: name}) {
		return
	}
	rt, ok := h.router(w, r)
	if !ok {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	var in routeRequest
	if err := decodeJSON(body, &in); err != nil {
		err.(*problem.ClientError).Write(w)
		return
	}
	if !strings.HasPrefix(in.Path, "/") {
		problem.Error(w, http.StatusBadRequest, `"path" must be an absolute request path such as "/orders/1"`)
		return
	}
	if in.Method == "" {
		in.Method = http.MethodGet
	}
	out := routeJSON{Federation: name}
	route, matched := rt.Lookup(in.Method, in.Host, in.Path)
	if matched {
		out = routeJSON{Matched: true, Federation: route.Federation, Service: route.Service, Workspace: route.Workspace,
			Reality: route.Reality, Prefix: route.Prefix, Host: route.Host, Path: route.Path, RawPath: route.RawPath}
		svc := route.c.svc
		switch route.Reality {
		case Blended:
			out.Strategy = "real_first"
			if svc.Blend != nil && svc.Blend.Strategy != "" {
				out.Strategy = svc.Blend.Strategy
			}
		case ChaosDriven:
			out.ChaosBase = "mock"
			if svc.Chaos != nil && svc.Chaos.Base != "" {
				out.ChaosBase = svc.Chaos.Base
			}
		}
		if needsUpstream(route.Reality, svc.Chaos) || route.Reality == Blended {
			out.Upstream = redactedUpstream(svc.Upstream)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) setReality(w http.ResponseWriter, r *http.Request) {
	name, svcName := r.PathValue("name"), r.PathValue("svc")
	rt, known := h.reg.Router(name)
	ws := ""
	var svc Service
	if known {
		svc, known = rt.Definition().Service(svcName)
		ws = svc.WorkspaceName()
	}
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Operate, Name: name, Workspace: ws}) {
		return
	}
	if rt == nil {
		h.router(w, r) // answers 404
		return
	}
	if !known {
		serviceOf(w, rt, svcName)
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	var in realityRequest
	if err := decodeJSON(body, &in); err != nil {
		err.(*problem.ClientError).Write(w)
		return
	}
	if in.Reality == nil {
		problem.Error(w, http.StatusBadRequest, `body needs a "reality" member: real, mock_v3, blended, chaos_driven, or "" to remove the switch`)
		return
	}
	if err := rt.SetReality(r.Context(), svc.Name, *in.Reality); err != nil {
		h.fail(w, r, err, false)
		return
	}
	out := realityJSON{Service: svc.Name, Reality: rt.Realities()[svc.Name]}
	if cur, ok := rt.Federation().Service(svc.Name); ok {
		out.Serving = cur.Reality
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) diffs(w http.ResponseWriter, r *http.Request) {
	name, svcName := r.PathValue("name"), r.PathValue("svc")
	rt, known := h.reg.Router(name)
	ws := ""
	if known {
		var svc Service
		if svc, known = rt.Definition().Service(svcName); known {
			ws = svc.WorkspaceName()
		}
	}
	if !h.allow(w, r, access.Request{Resource: access.Federations, Action: access.Read, Name: name, Workspace: ws}) {
		return
	}
	if rt == nil {
		h.router(w, r)
		return
	}
	if !known {
		serviceOf(w, rt, svcName)
		return
	}
	out := diffsJSON{Service: svcName, Diffs: []driftJSON{}}
	for _, d := range rt.RecentDiffs(svcName) {
		out.Diffs = append(out.Diffs, driftJSON{Time: d.Time.UTC(), Route: d.Route, Method: d.Method, Path: d.Path, Comparison: d.Comparison})
	}
	writeJSON(w, http.StatusOK, out)
}
