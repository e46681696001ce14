package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/gjson"
)

// Type names what happened, in dotted form ("schema.changed"). The seven
// platform types have constants; hosts may define their own.
type Type string

// The platform event types. Each has a typed constructor that documents its
// payload (see SchemaChanged and its siblings).
const (
	TypeSchemaChanged          Type = "schema.changed"
	TypeScenarioPublished      Type = "scenario.published"
	TypeDriftThresholdExceeded Type = "drift.threshold_exceeded"
	TypePromotionCompleted     Type = "promotion.completed"
	TypeWorkspaceCreated       Type = "workspace.created"
	TypePersonaPublished       Type = "persona.published"
	TypeConfigChanged          Type = "config.changed"
)

// PlatformTypes lists the seven platform event types in a stable order.
func PlatformTypes() []Type {
	return []Type{
		TypeSchemaChanged, TypeScenarioPublished, TypeDriftThresholdExceeded,
		TypePromotionCompleted, TypeWorkspaceCreated, TypePersonaPublished, TypeConfigChanged,
	}
}

// DefaultSource is the CloudEvents source New gives an event. Hosts that
// raise events from several components set Source to tell them apart.
const DefaultSource = "mockops"

// Event is one thing that happened on the platform, shaped like a
// CloudEvents 1.0 event. Workspace and Org travel as the CloudEvents
// extension attributes "workspace" and "org"; Extensions holds any others.
//
// An Event is a value: copying it is cheap and the bus hands each subscriber
// its own copy of the header. Data and Extensions are shared, so handlers
// must treat them as read-only.
type Event struct {
	ID         string
	Type       Type
	Source     string
	Subject    string
	Workspace  string
	Org        string
	Time       time.Time
	Data       json.RawMessage // a JSON object, or empty for no payload
	Extensions map[string]string
}

// Sentinel errors returned (wrapped) by Validate and by JSON decoding.
var (
	// ErrInvalid is wrapped by every validation error.
	ErrInvalid = errors.New("events: invalid event")
)

// New returns a validated event of type t in workspace, with a unique,
// time-sortable ID, the current time and DefaultSource. data is marshalled
// to JSON and must encode as a JSON object; nil means no payload; a
// json.RawMessage or []byte is used as is (after the object check).
func New(t Type, workspace string, data any) (Event, error) {
	raw, err := encodeData(data)
	if err != nil {
		return Event{}, err
	}
	now := time.Now().UTC().Round(0) // strip the monotonic reading so events compare with ==
	e := Event{
		ID:        NewID(now),
		Type:      t,
		Source:    DefaultSource,
		Workspace: workspace,
		Time:      now,
		Data:      raw,
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

func encodeData(data any) (json.RawMessage, error) {
	var raw []byte
	switch d := data.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		raw = d
	case []byte:
		raw = d
	default:
		b, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("events: encode data: %w", err)
		}
		raw = b
	}
	if len(raw) == 0 {
		return nil, nil
	}
	if err := checkObject(raw); err != nil {
		return nil, err
	}
	return json.RawMessage(raw), nil
}

// checkObject reports whether raw is one well-formed JSON object.
func checkObject(raw []byte) error {
	if !json.Valid(raw) {
		return fmt.Errorf("%w: data is not valid JSON", ErrInvalid)
	}
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: data must be a JSON object", ErrInvalid)
	}
	return nil
}

// Validate reports the first problem that makes e unusable: a missing id,
// type or source, a payload that is not a JSON object, or a malformed
// extension attribute name.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: missing id", ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("%w: missing type", ErrInvalid)
	case e.Source == "":
		return fmt.Errorf("%w: missing source", ErrInvalid)
	}
	if len(e.Data) > 0 {
		if err := checkObject(e.Data); err != nil {
			return err
		}
	}
	for name := range e.Extensions {
		if err := checkExtensionName(name); err != nil {
			return err
		}
	}
	return nil
}

// checkExtensionName enforces the CloudEvents attribute naming rule
// (lower-case ASCII letters and digits) and keeps extensions from shadowing
// the attributes this package owns.
func checkExtensionName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty extension name", ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("%w: extension name %q: only lower-case letters and digits are allowed", ErrInvalid, name)
		}
	}
	if reservedAttribute(name) {
		return fmt.Errorf("%w: extension name %q is a reserved attribute", ErrInvalid, name)
	}
	return nil
}

// Get reads the payload at a gjson path ("spec_path", "changes.0",
// "user.name"). A missing path gives a Result whose Exists is false. Paths
// come from code or definitions, never from event data.
func (e Event) Get(path string) gjson.Result {
	return gjson.GetBytes(e.Data, path)
}

// Decode unmarshals the payload into v, typically one of the payload
// structs of this package.
func (e Event) Decode(v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("events: decode %s %s: no data", e.Type, e.ID)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("events: decode %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}
