package events

import "encoding/json"

// The payloads of the seven platform events. Field names are the JSON keys
// pipelines read (event.data.schema_type in CEL, {{schema_type}} in
// MockForge templates), so they follow MockForge's snake_case spelling.
//
// Every field is in the JSON even at its zero value (false, 0, "", and []
// for a nil list), so a filter can test any of them: `if: event.data.breaking`
// is false on a non-breaking change rather than a "no such key" error. The
// exceptions are the optional strings, left out when empty because a
// platform may have no such thing: ScenarioPublication.Version,
// Promotion.PromotionID and EntityVersion, WorkspaceCreation.Description
// and CreatedBy, and PersonaPublication.Version. Test those with
// has(event.data.version) or event.data.?version.orValue("").

// SchemaChange is the payload of schema.changed: a contract a workspace
// mocks was changed.
type SchemaChange struct {
	SchemaType string   `json:"schema_type"` // "openapi", "protobuf", "graphql", "asyncapi", ...
	Path       string   `json:"spec_path"`   // where the contract lives, as the host names it
	Changes    []string `json:"changes"`     // human-readable change summary, one line each; nil is []
	Breaking   bool     `json:"breaking"`
}

// MarshalJSON writes a nil Changes as [], so a filter can call
// event.data.changes.size() on every schema.changed event.
func (p SchemaChange) MarshalJSON() ([]byte, error) {
	type plain SchemaChange // without this method
	if p.Changes == nil {
		p.Changes = []string{}
	}
	return json.Marshal(plain(p))
}

// ScenarioPublication is the payload of scenario.published.
type ScenarioPublication struct {
	ScenarioID   string `json:"scenario_id"`
	ScenarioName string `json:"scenario_name"`
	Version      string `json:"version,omitempty"`
}

// DriftThreshold is the payload of drift.threshold_exceeded: a service's
// mocks drifted from the real upstream by more than the budget allows.
// Percentages are in [0, 100].
type DriftThreshold struct {
	Service      string  `json:"service"`
	Endpoint     string  `json:"endpoint"`
	DriftPercent float64 `json:"drift_percent"`
	Budget       float64 `json:"budget"`
}

// Promotion is the payload of promotion.completed.
type Promotion struct {
	PromotionID     string `json:"promotion_id,omitempty"`
	EntityType      string `json:"entity_type"` // "scenario", "persona", "config"
	EntityID        string `json:"entity_id"`
	EntityVersion   string `json:"entity_version,omitempty"`
	FromEnvironment string `json:"from_environment"`
	ToEnvironment   string `json:"to_environment"`
}

// WorkspaceCreation is the payload of workspace.created. The new
// workspace's id is the event's Workspace.
type WorkspaceCreation struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	CreatedBy   string `json:"created_by,omitempty"`
}

// PersonaPublication is the payload of persona.published.
type PersonaPublication struct {
	PersonaID   string `json:"persona_id"`
	PersonaName string `json:"persona_name"`
	Version     string `json:"version,omitempty"`
}

// ConfigChange is the payload of config.changed.
type ConfigChange struct {
	Scope string   `json:"scope"` // "workspace", "org", "federation", ...
	Keys  []string `json:"keys"`  // the settings that changed; nil is []
}

// MarshalJSON writes a nil Keys as [], like SchemaChange.Changes.
func (p ConfigChange) MarshalJSON() ([]byte, error) {
	type plain ConfigChange // without this method
	if p.Keys == nil {
		p.Keys = []string{}
	}
	return json.Marshal(plain(p))
}

// SchemaChanged returns a schema.changed event whose subject is the
// contract's path.
func SchemaChanged(workspace string, p SchemaChange) (Event, error) {
	return newWithSubject(TypeSchemaChanged, workspace, p.Path, p)
}

// ScenarioPublished returns a scenario.published event whose subject is the
// scenario's id.
func ScenarioPublished(workspace string, p ScenarioPublication) (Event, error) {
	return newWithSubject(TypeScenarioPublished, workspace, p.ScenarioID, p)
}

// DriftThresholdExceeded returns a drift.threshold_exceeded event whose
// subject is the drifting endpoint.
func DriftThresholdExceeded(workspace string, p DriftThreshold) (Event, error) {
	return newWithSubject(TypeDriftThresholdExceeded, workspace, p.Endpoint, p)
}

// PromotionCompleted returns a promotion.completed event whose subject is
// the promoted entity's id.
func PromotionCompleted(workspace string, p Promotion) (Event, error) {
	return newWithSubject(TypePromotionCompleted, workspace, p.EntityID, p)
}

// WorkspaceCreated returns a workspace.created event for the new workspace.
func WorkspaceCreated(workspace string, p WorkspaceCreation) (Event, error) {
	return newWithSubject(TypeWorkspaceCreated, workspace, workspace, p)
}

// PersonaPublished returns a persona.published event whose subject is the
// persona's id.
func PersonaPublished(workspace string, p PersonaPublication) (Event, error) {
	return newWithSubject(TypePersonaPublished, workspace, p.PersonaID, p)
}

// ConfigChanged returns a config.changed event whose subject is the scope.
func ConfigChanged(workspace string, p ConfigChange) (Event, error) {
	return newWithSubject(TypeConfigChanged, workspace, p.Scope, p)
}

func newWithSubject(t Type, workspace, subject string, payload any) (Event, error) {
	e, err := New(t, workspace, payload)
	if err != nil {
		return Event{}, err
	}
	e.Subject = subject
	return e, nil
}
