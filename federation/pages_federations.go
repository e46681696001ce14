package federation

import (
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mockops/mockops/internal/ui"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// fedRow is one federation of the list.
type fedRow struct {
	Name, URL, Description string
	Services, Scenarios    int
	Active                 string
	Version                int64
	UpdatedAt              time.Time
	Problem                string // why this replica does not serve it; "" when it does
}

func (p *Pages) list(w http.ResponseWriter, r *http.Request) {
	if !p.allowed(w, r, access.Request{Resource: access.Federations, Action: access.Read}) {
		return
	}
	recs, err := p.reg.List(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	rows := make([]fedRow, 0, len(recs))
	for _, rec := range recs {
		row := fedRow{Name: rec.Name, URL: p.fedPath(rec.Name), Version: rec.Version, UpdatedAt: rec.UpdatedAt}
		v, served := p.reg.served(rec.Name)
		rt, ok := p.reg.Router(rec.Name)
		if !served || !ok || v != rec.Version {
			row.Problem = "this replica does not serve this version (yet): see its logs"
			if def, err := Parse(rec.Name+".yaml", rec.Spec); err == nil {
				row.Services, row.Scenarios, row.Description = len(def.Services), len(def.Scenarios), def.Description
			}
		} else {
			def := rt.Definition()
			row.Services, row.Scenarios, row.Description = len(def.Services), len(def.Scenarios), def.Description
			row.Active = rt.ActiveScenario()
		}
		rows = append(rows, row)
	}
	p.r.Render(w, r, http.StatusOK, "federations", p.page("Federations", r), struct{ Rows []fedRow }{rows})
}

// page is the layout's part of a page in the federations' section.
func (p *Pages) page(title string, r *http.Request) ui.Page {
	return ui.Page{Title: title, Current: p.prefix + "/federations", Flash: flash(r)}
}

// serviceView is one service as the pages show it: how it is defined and
// how the router serves it now, and why.
type serviceView struct {
	Name, URL, Description  string
	BasePath, Host          string
	Workspace, Upstream     string
	Defined, Serving        RealityLevel
	Switched                RealityLevel // the reality switch in effect, "" if none
	Scenario                string       // the active scenario when it overrides this service
	DependsOn, Dependents   []string
	Diffs                   int
	Protocol                Protocol
	Strategy, ChaosBase     string
	StripPrefix, Overridden bool
}

// Cause says in words why the service is served at its reality.
func (s serviceView) Cause() string {
	switch {
	case s.Switched != "":
		return "switched by hand"
	case s.Scenario != "":
		return "scenario " + s.Scenario
	}
	return "definition"
}

// services describes every service of rt in dependency order.
func (p *Pages) services(rt *Router) []serviceView {
	def, cur := rt.Definition(), rt.Federation()
	switched, active := rt.Realities(), rt.ActiveScenario()
	var overrides map[string]bool
	for _, sc := range def.Scenarios {
		if sc.Name == active {
			overrides = make(map[string]bool, len(sc.Services))
			for _, o := range sc.Services {
				overrides[o.Service] = true
			}
		}
	}
	dependents := map[string][]string{}
	for _, s := range def.Services {
		for _, d := range s.DependsOn {
			dependents[d] = append(dependents[d], s.Name)
		}
	}
	order := def.Order()
	out := make([]serviceView, 0, len(order))
	for _, s := range order {
		v := serviceView{Name: s.Name, URL: p.fedPath(def.Name, "services", s.Name), Description: s.Description,
			BasePath: s.BasePath, Host: s.Host, Workspace: s.WorkspaceName(), Upstream: redactedUpstream(s.Upstream),
			Defined: s.Reality, Serving: s.Reality, Switched: switched[s.Name], DependsOn: s.DependsOn,
			Dependents: dependents[s.Name], Diffs: len(rt.RecentDiffs(s.Name)), Protocol: s.Protocol, StripPrefix: s.StripPrefix}
		if overrides[s.Name] {
			v.Scenario = active
		}
		served := s
		if c, ok := cur.Service(s.Name); ok {
			served = c
			v.Serving = c.Reality
		}
		v.Overridden = v.Serving != v.Defined || v.Switched != "" || v.Scenario != ""
		switch served.Reality {
		case Blended:
			v.Strategy = "real_first"
			if served.Blend != nil && served.Blend.Strategy != "" {
				v.Strategy = served.Blend.Strategy
			}
		case ChaosDriven:
			v.ChaosBase = "mock"
			if served.Chaos != nil && served.Chaos.Base != "" {
				v.ChaosBase = served.Chaos.Base
			}
		}
		out = append(out, v)
	}
	return out
}

// scenarioView is one scenario of a federation, with what it overrides.
type scenarioView struct {
	Name, Description string
	Overrides         []string // "payments: chaos_driven"
	Active            bool
	ActivateURL       string
}

type federationData struct {
	Name, Description string
	Version           int64
	UpdatedAt         time.Time
	Active            string
	Services          []serviceView
	Scenarios         []scenarioView
	Graph             template.HTML
	CanOperate        bool
	DeactivateURL     string
	RouteURL          string
	StateURL          string
	CanState          bool
}

func (p *Pages) federation(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !p.allowed(w, r, access.Request{Resource: access.Federations, Action: access.Read, Name: name}) {
		return
	}
	rt, ok := p.router(w, r)
	if !ok {
		return
	}
	rec, err := p.reg.Get(r.Context(), name)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	def := rt.Definition()
	d := federationData{Name: def.Name, Description: def.Description, Version: rec.Version, UpdatedAt: rec.UpdatedAt,
		Active: rt.ActiveScenario(), Services: p.services(rt),
		DeactivateURL: p.fedPath(name, "scenarios", "deactivate"), RouteURL: p.fedPath(name, "route"),
		StateURL: p.fedPath(name, "state"),
		CanState: p.may(r, access.Request{Resource: access.State, Action: access.Read, Name: name})}
	d.Graph = graphHTML(def.Name, d.Services)
	if p.may(r, access.Request{Resource: access.Scenarios, Action: access.Read, Name: name}) {
		d.CanOperate = p.may(r, access.Request{Resource: access.Scenarios, Action: access.Operate, Name: name})
		for _, sc := range def.Scenarios {
			v := scenarioView{Name: sc.Name, Description: sc.Description, Active: sc.Name == d.Active,
				ActivateURL: p.fedPath(name, "scenarios", sc.Name, "activate")}
			for _, o := range sc.Services {
				v.Overrides = append(v.Overrides, overrideText(o))
			}
			d.Scenarios = append(d.Scenarios, v)
		}
	}
	p.r.Render(w, r, http.StatusOK, "federation", p.page("Federation "+def.Name, r), d)
}

// overrideText says what a scenario does to one service, in words.
func overrideText(o Override) string {
	var parts []string
	if o.Reality != "" {
		parts = append(parts, string(o.Reality))
	}
	if o.Chaos != nil {
		parts = append(parts, "chaos on "+cmpOr(o.Chaos.Base, "mock"))
	}
	if o.Blend != nil && o.Blend.Strategy != "" {
		parts = append(parts, "blend "+o.Blend.Strategy)
	}
	if len(parts) == 0 {
		parts = append(parts, "its own settings")
	}
	return o.Service + ": " + strings.Join(parts, ", ")
}

func cmpOr(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// diffView is one recent mock/real difference of a service.
type diffView struct {
	Time         time.Time
	Method, Path string
	Differences  []Difference
	Skipped      string
	Truncated    bool
}

type serviceData struct {
	Federation, FederationURL string
	Service                   serviceView
	Diffs                     []diffView
	Levels                    []string
	CanSwitch                 bool
	SwitchURL                 string
	DepURLs                   map[string]string
}

// maxDiffText bounds each mock or real value shown beside a difference.
const maxDiffText = 200

func (p *Pages) service(w http.ResponseWriter, r *http.Request) {
	name, svcName := r.PathValue("name"), r.PathValue("svc")
	rt, svc, ok := p.serviceOf(w, r, access.Read)
	if !ok {
		return
	}
	d := serviceData{Federation: name, FederationURL: p.fedPath(name), Levels: realityLevels,
		SwitchURL: p.fedPath(name, "services", svcName, "reality"), DepURLs: map[string]string{},
		CanSwitch: p.may(r, access.Request{Resource: access.Federations, Action: access.Operate, Name: name, Workspace: svc.WorkspaceName()})}
	for _, v := range p.services(rt) {
		d.DepURLs[v.Name] = v.URL
		if v.Name == svc.Name {
			d.Service = v
		}
	}
	diffs := rt.RecentDiffs(svc.Name)
	for _, x := range slices.Backward(diffs) { // newest first
		dv := diffView{Time: x.Time, Method: x.Method, Path: x.Path}
		if x.Comparison != nil {
			dv.Skipped, dv.Truncated = x.Comparison.Skipped, x.Comparison.Truncated
			for _, df := range x.Comparison.Differences {
				df.Mock, df.Real = clipText(df.Mock), clipText(df.Real)
				dv.Differences = append(dv.Differences, df)
			}
		}
		d.Diffs = append(d.Diffs, dv)
	}
	p.r.Render(w, r, http.StatusOK, "service", p.page("Service "+svc.Name+" of "+name, r), d)
}

func clipText(s string) string {
	if len(s) <= maxDiffText {
		return s
	}
	cut := maxDiffText
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// serviceOf authorizes action on the service in the path, in its
// workspace, and returns it; it answers 403/404 itself. An unknown
// federation or service is decided unscoped first, so a denied caller
// learns nothing of which exist.
func (p *Pages) serviceOf(w http.ResponseWriter, r *http.Request, action access.Action) (*Router, Service, bool) {
	name, svcName := r.PathValue("name"), r.PathValue("svc")
	rt, known := p.reg.Router(name)
	var svc Service
	if known {
		svc, known = rt.Definition().Service(svcName)
	}
	ws := ""
	if known {
		ws = svc.WorkspaceName()
	}
	if !p.allowed(w, r, access.Request{Resource: access.Federations, Action: action, Name: name, Workspace: ws}) {
		return nil, Service{}, false
	}
	if rt == nil {
		p.router(w, r)
		return nil, Service{}, false
	}
	if !known {
		p.r.Error(w, r, http.StatusNotFound, "This federation has no such service.")
		return nil, Service{}, false
	}
	return rt, svc, true
}

// routeData is the route dry run form and, once asked, its answer.
type routeData struct {
	Federation, FederationURL, Action string
	Path, Method, Host                string
	Methods                           []string
	Asked, Matched                    bool
	Message                           string
	Route                             Route
	Service                           serviceView
}

var dryRunMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

func (p *Pages) route(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !p.allowed(w, r, access.Request{Resource: access.Federations, Action: access.Read, Name: name}) {
		return
	}
	rt, ok := p.router(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := routeData{Federation: name, FederationURL: p.fedPath(name), Action: p.fedPath(name, "route"),
		Path: q.Get("path"), Method: cmpOr(q.Get("method"), http.MethodGet), Host: q.Get("host"), Methods: dryRunMethods}
	status := http.StatusOK
	if q.Has("path") {
		d.Asked = true
		switch {
		case !strings.HasPrefix(d.Path, "/"):
			d.Message = `The path must be an absolute request path such as "/orders/1".`
			status = http.StatusBadRequest
		case !slices.Contains(dryRunMethods, d.Method):
			d.Message = "Pick one of the methods offered."
			status = http.StatusBadRequest
		default:
			d.Route, d.Matched = rt.Lookup(d.Method, d.Host, d.Path)
			if d.Matched {
				for _, v := range p.services(rt) {
					if v.Name == d.Route.Service {
						d.Service = v
					}
				}
			}
		}
	}
	p.r.Render(w, r, status, "route", p.page("Route dry run of "+name, r), d)
}

// stateRow is one shared state entry of the list.
type stateRow struct {
	Key, URL  string
	Version   int64
	UpdatedAt time.Time
	Size      int
}

func (p *Pages) stateOf(w http.ResponseWriter, r *http.Request) (*State, bool) {
	name := r.PathValue("name")
	if !p.allowed(w, r, access.Request{Resource: access.State, Action: access.Read, Name: name}) {
		return nil, false
	}
	rt, ok := p.router(w, r)
	if !ok {
		return nil, false
	}
	if rt.State() == nil { // a Registry's Routers always have the store
		p.r.Error(w, r, http.StatusNotImplemented, "This federation has no shared state.")
		return nil, false
	}
	return rt.State(), true
}

// maxStateRows bounds the state list: a prefix narrows a larger space.
const maxStateRows = 500

func (p *Pages) stateList(w http.ResponseWriter, r *http.Request) {
	st, ok := p.stateOf(w, r)
	if !ok {
		return
	}
	name, prefix := r.PathValue("name"), r.URL.Query().Get("prefix")
	entries, err := st.List(r.Context(), prefix)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := struct {
		Federation, FederationURL, Action, Prefix string
		Rows                                      []stateRow
		More                                      int
	}{Federation: name, FederationURL: p.fedPath(name), Action: p.fedPath(name, "state"), Prefix: prefix}
	if len(entries) > maxStateRows {
		d.More = len(entries) - maxStateRows
		entries = entries[:maxStateRows]
	}
	for _, e := range entries {
		d.Rows = append(d.Rows, stateRow{Key: e.Key, URL: p.statePath(name, e.Key), Version: e.Version, UpdatedAt: e.UpdatedAt, Size: len(e.Value)})
	}
	p.r.Render(w, r, http.StatusOK, "state", p.page("Shared state of "+name, r), d)
}

func (p *Pages) stateEntry(w http.ResponseWriter, r *http.Request) {
	st, ok := p.stateOf(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	e, err := st.Get(r.Context(), r.PathValue("key"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := struct {
		Federation, FederationURL, ListURL string
		Entry                              store.StateEntry
	}{name, p.fedPath(name), p.fedPath(name, "state"), e}
	p.r.Render(w, r, http.StatusOK, "entry", p.page("State "+e.Key+" of "+name, r), d)
}
