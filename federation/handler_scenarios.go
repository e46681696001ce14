package federation

import (
	"net/http"

	"github.com/mockops/mockops/store/access"
)

func (h *handler) scenarios(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Scenarios, Action: access.Read, Name: name}) {
		return
	}
	rt, ok := h.router(w, r)
	if !ok {
		return
	}
	out := scenariosJSON{Active: rt.ActiveScenario(), Scenarios: []scenarioJSON{}}
	for _, sc := range rt.Definition().Scenarios {
		sj := scenarioJSON{Name: sc.Name, Description: sc.Description, Services: []string{}}
		for _, o := range sc.Services {
			sj.Services = append(sj.Services, o.Service)
		}
		out.Scenarios = append(out.Scenarios, sj)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) activeScenario(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Scenarios, Action: access.Read, Name: name}) {
		return
	}
	rt, ok := h.router(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, activeJSON{Scenario: rt.ActiveScenario()})
}

// activate switches the federation into a scenario. A failure of the
// host's activator is a 500 whose text is logged, not shown: every
// workspace was switched back by then.
func (h *handler) activate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Scenarios, Action: access.Operate, Name: name}) {
		return
	}
	rt, ok := h.router(w, r)
	if !ok {
		return
	}
	if err := rt.ActivateScenario(r.Context(), r.PathValue("scenario")); err != nil {
		h.fail(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, activeJSON{Scenario: rt.ActiveScenario()})
}

func (h *handler) deactivate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !h.allow(w, r, access.Request{Resource: access.Scenarios, Action: access.Operate, Name: name}) {
		return
	}
	rt, ok := h.router(w, r)
	if !ok {
		return
	}
	if err := rt.DeactivateScenario(r.Context()); err != nil {
		h.fail(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, activeJSON{Scenario: rt.ActiveScenario()})
}
