package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// encodeEvent stores an execution's event in CloudEvents JSON, which any
// CloudEvents SDK (or a SQL JSON function) can read. An execution without
// an event (a manual run) stores NULL.
func encodeEvent(e events.Event) (any, error) {
	if isZeroEvent(e) {
		return nil, nil
	}
	b, err := e.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	return string(b), nil
}

func decodeEvent(b []byte) (events.Event, error) {
	var e events.Event
	if len(b) == 0 {
		return e, nil
	}
	if err := e.UnmarshalJSON(b); err != nil {
		return events.Event{}, fmt.Errorf("stored event: %w", err)
	}
	return e, nil
}

func isZeroEvent(e events.Event) bool {
	return e.ID == "" && e.Type == "" && e.Source == "" && e.Subject == "" && e.Workspace == "" &&
		e.Org == "" && e.Time.IsZero() && len(e.Data) == 0 && len(e.Extensions) == 0
}

// stepJSON is the stored form of a store.StepRun: snake_case keys, unset
// fields left out, so the column reads well in a SQL console.
type stepJSON struct {
	ID         string          `json:"id"`
	Uses       string          `json:"uses,omitempty"`
	Status     store.Status    `json:"status,omitempty"`
	Outcome    store.Status    `json:"outcome,omitempty"`
	Conclusion store.Status    `json:"conclusion,omitempty"`
	Attempts   int             `json:"attempts,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	With       json.RawMessage `json:"with,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// encodeSteps returns the steps as a JSON array, or nil (NULL) for none.
func encodeSteps(steps []store.StepRun) (any, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	out := make([]stepJSON, len(steps))
	for i, st := range steps {
		out[i] = stepJSON{
			ID: st.ID, Uses: st.Uses, Status: st.Status, Outcome: st.Outcome, Conclusion: st.Conclusion,
			Attempts: st.Attempts, StartedAt: optTime(st.StartedAt), FinishedAt: optTime(st.FinishedAt),
			With: st.With, Output: st.Output, Error: st.Error,
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Payloads are stored as their authors wrote them, not with <, > and &
	// turned into \u escapes.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("steps: %w", err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

func decodeSteps(b []byte) ([]store.StepRun, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var in []stepJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("stored steps: %w", err)
	}
	out := make([]store.StepRun, len(in))
	for i, st := range in {
		out[i] = store.StepRun{
			ID: st.ID, Uses: st.Uses, Status: st.Status, Outcome: st.Outcome, Conclusion: st.Conclusion,
			Attempts: st.Attempts, With: st.With, Output: st.Output, Error: st.Error,
		}
		if st.StartedAt != nil {
			out[i].StartedAt = normTime(*st.StartedAt)
		}
		if st.FinishedAt != nil {
			out[i].FinishedAt = normTime(*st.FinishedAt)
		}
	}
	return out, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = normTime(t)
	return &t
}
