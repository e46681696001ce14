package federation

import (
	"net/http"
	"slices"

	"github.com/mockops/mockops/store/access"
)

// setReality switches one service's reality (form field "reality"; ""
// removes the switch), then shows the service again.
func (p *Pages) setReality(w http.ResponseWriter, r *http.Request) {
	rt, svc, ok := p.serviceOf(w, r, access.Operate)
	if !ok || !p.form(w, r) {
		return
	}
	level := RealityLevel(r.PostForm.Get("reality"))
	if level != "" && !slices.Contains(realityLevels, string(level)) {
		p.r.Error(w, r, http.StatusBadRequest, "Pick one of the reality levels offered.")
		return
	}
	if err := rt.SetReality(r.Context(), svc.Name, level); err != nil {
		p.fail(w, r, err)
		return
	}
	done := "reality"
	if level == "" {
		done = "unswitched"
	}
	http.Redirect(w, r, p.fedPath(r.PathValue("name"), "services", svc.Name)+"?done="+done, http.StatusSeeOther)
}

// confirmData is the confirmation step of a scenario change.
type confirmData struct {
	Federation, FederationURL string
	Scenario                  string // the one to activate, or the active one to leave
	Activate                  bool
	Action                    string
	Active                    string // the scenario active now
	Overrides                 []string
	Workspaces                []string
	Message                   string
}

// scenarioOf authorizes action on the federation's scenarios and returns
// its Router; it answers 403/404 itself.
func (p *Pages) scenarioOf(w http.ResponseWriter, r *http.Request, action access.Action) (*Router, bool) {
	if !p.allowed(w, r, access.Request{Resource: access.Scenarios, Action: action, Name: r.PathValue("name")}) {
		return nil, false
	}
	return p.router(w, r)
}

// confirmation describes what activating scenario (or, "" with activate
// false, leaving the active one) would change.
func (p *Pages) confirmation(rt *Router, scenario string, activate bool) (confirmData, bool) {
	def := rt.Definition()
	name := def.Name
	d := confirmData{Federation: name, FederationURL: p.fedPath(name), Activate: activate, Active: rt.ActiveScenario(),
		Workspaces: workspaces(def)}
	if activate {
		d.Action = p.fedPath(name, "scenarios", scenario, "activate")
	} else {
		d.Action = p.fedPath(name, "scenarios", "deactivate")
		scenario = d.Active
	}
	d.Scenario = scenario
	if scenario == "" {
		return d, true
	}
	for _, sc := range def.Scenarios {
		if sc.Name == scenario {
			for _, o := range sc.Services {
				d.Overrides = append(d.Overrides, overrideText(o))
			}
			return d, true
		}
	}
	return d, false
}

func (p *Pages) confirmActivate(w http.ResponseWriter, r *http.Request) {
	rt, ok := p.scenarioOf(w, r, access.Operate)
	if !ok {
		return
	}
	d, known := p.confirmation(rt, r.PathValue("scenario"), true)
	if !known {
		p.r.Error(w, r, http.StatusNotFound, "This federation has no such scenario.")
		return
	}
	p.r.Render(w, r, http.StatusOK, "confirm", p.page("Activate scenario "+d.Scenario, r), d)
}

func (p *Pages) confirmDeactivate(w http.ResponseWriter, r *http.Request) {
	rt, ok := p.scenarioOf(w, r, access.Operate)
	if !ok {
		return
	}
	d, _ := p.confirmation(rt, "", false)
	p.r.Render(w, r, http.StatusOK, "confirm", p.page("Deactivate the scenario of "+d.Federation, r), d)
}

// confirmed reports whether the form's confirm box was ticked; when not,
// it shows the confirmation again, with a 422 status, and nothing changes.
func (p *Pages) confirmed(w http.ResponseWriter, r *http.Request, d confirmData, title string) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	d.Message = "Tick the box to confirm: nothing was changed."
	p.r.Render(w, r, http.StatusUnprocessableEntity, "confirm", p.page(title, r), d)
	return false
}

func (p *Pages) activate(w http.ResponseWriter, r *http.Request) {
	rt, ok := p.scenarioOf(w, r, access.Operate)
	if !ok || !p.form(w, r) {
		return
	}
	scenario := r.PathValue("scenario")
	d, known := p.confirmation(rt, scenario, true)
	if !known {
		p.r.Error(w, r, http.StatusNotFound, "This federation has no such scenario.")
		return
	}
	if !p.confirmed(w, r, d, "Activate scenario "+scenario) {
		return
	}
	if err := rt.ActivateScenario(r.Context(), scenario); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, p.fedPath(d.Federation)+"?done=activated", http.StatusSeeOther)
}

func (p *Pages) deactivate(w http.ResponseWriter, r *http.Request) {
	rt, ok := p.scenarioOf(w, r, access.Operate)
	if !ok || !p.form(w, r) {
		return
	}
	d, _ := p.confirmation(rt, "", false)
	if !p.confirmed(w, r, d, "Deactivate the scenario of "+d.Federation) {
		return
	}
	if err := rt.DeactivateScenario(r.Context()); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, p.fedPath(d.Federation)+"?done=deactivated", http.StatusSeeOther)
}
