package federation

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store"
)

// The answers of the admin API: types of their own with stable snake_case
// members, so that the Go types (which carry no JSON tags) can change
// shape without changing the API. Times are RFC 3339 in UTC.

type federationJSON struct {
	Name        string     `json:"name"`
	Version     int64      `json:"version"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
	Description string     `json:"description,omitempty"`
	// Loaded says whether this replica serves the stored version;
	// LoadError says why not.
	Loaded         bool                    `json:"loaded"`
	LoadError      string                  `json:"load_error,omitempty"`
	ActiveScenario string                  `json:"active_scenario"`
	Realities      map[string]RealityLevel `json:"realities,omitempty"` // reality switches in effect
	Services       []serviceJSON           `json:"services,omitempty"`
	Scenarios      []string                `json:"scenarios,omitempty"`
	Source         string                  `json:"source,omitempty"`
}

type serviceJSON struct {
	Name      string       `json:"name"`
	BasePath  string       `json:"base_path"`
	Host      string       `json:"host,omitempty"`
	Workspace string       `json:"workspace"`
	Reality   RealityLevel `json:"reality"`           // as defined
	Serving   RealityLevel `json:"serving,omitempty"` // as served now (scenario and switches applied)
	Upstream  string       `json:"upstream,omitempty"`
	DependsOn []string     `json:"depends_on,omitempty"`
}

type federationListJSON struct {
	Federations []federationJSON `json:"federations"`
}

type routeRequest struct {
	Method string `json:"method"`
	Host   string `json:"host"`
	Path   string `json:"path"`
}

type routeJSON struct {
	Matched    bool         `json:"matched"`
	Federation string       `json:"federation"`
	Service    string       `json:"service,omitempty"`
	Workspace  string       `json:"workspace,omitempty"`
	Reality    RealityLevel `json:"reality,omitempty"`
	Strategy   string       `json:"strategy,omitempty"`   // blended: the strategy
	ChaosBase  string       `json:"chaos_base,omitempty"` // chaos_driven: mock or real
	Prefix     string       `json:"prefix,omitempty"`
	Host       string       `json:"host,omitempty"`
	Path       string       `json:"path,omitempty"`     // the decoded path the service sees
	RawPath    string       `json:"raw_path,omitempty"` // the path forwarded
	Upstream   string       `json:"upstream,omitempty"`
}

type realityRequest struct {
	Reality *RealityLevel `json:"reality"`
}

type realityJSON struct {
	Service string       `json:"service"`
	Reality RealityLevel `json:"reality"` // the switch; "" when none
	Serving RealityLevel `json:"serving"`
}

type driftJSON struct {
	Time       time.Time   `json:"time"`
	Route      string      `json:"route"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Comparison *Comparison `json:"comparison"`
}

type diffsJSON struct {
	Service string      `json:"service"`
	Diffs   []driftJSON `json:"diffs"`
}

type scenarioJSON struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Services    []string `json:"services"`
}

type scenariosJSON struct {
	Active    string         `json:"active"`
	Scenarios []scenarioJSON `json:"scenarios"`
}

type activeJSON struct {
	Scenario string `json:"scenario"` // "" when none
}

type stateEntryJSON struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	Version   int64           `json:"version"`
	UpdatedAt *time.Time      `json:"updated_at,omitempty"`
}

type stateListJSON struct {
	Entries []stateEntryJSON `json:"entries"`
}

func stateEntryOf(e store.StateEntry) stateEntryJSON {
	return stateEntryJSON{Key: e.Key, Value: e.Value, Version: e.Version, UpdatedAt: timeOf(e.UpdatedAt)}
}

func timeOf(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // our own answer types always marshal
		problem.Error(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
