package pipeline

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mockops/mockops/store"
)

// The answers of the admin API. They are types of their own, with stable
// snake_case members, so that the store's records (which carry no JSON
// tags) can change shape without changing the API. Times are RFC 3339 in
// UTC; a zero time is left out.

type pipelineJSON struct {
	Name      string     `json:"name"`
	Version   int64      `json:"version"`
	Workspace string     `json:"workspace"`
	Enabled   bool       `json:"enabled"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// Loaded says whether this engine runs the stored version; LoadError
	// says why not (the definition no longer validates against its step
	// types, for example).
	Loaded    bool   `json:"loaded"`
	LoadError string `json:"load_error,omitempty"`
	Source    string `json:"source,omitempty"`
}

type pipelineListJSON struct {
	Pipelines []pipelineJSON `json:"pipelines"`
}

type validationJSON struct {
	Valid       bool     `json:"valid"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Workspace   string   `json:"workspace"`
	Enabled     bool     `json:"enabled"`
	Format      string   `json:"format"`
	Steps       []string `json:"steps"` // ids in execution order
}

type triggerJSON struct {
	ExecutionID string `json:"execution_id"`
}

type executionJSON struct {
	ID              string          `json:"id"`
	Pipeline        string          `json:"pipeline"`
	Version         int64           `json:"version"`
	EventID         string          `json:"event_id"`
	Event           json.RawMessage `json:"event,omitempty"` // CloudEvents structured mode
	Status          store.Status    `json:"status"`
	Error           string          `json:"error,omitempty"`
	Attempt         int             `json:"attempt"`
	Owner           string          `json:"owner,omitempty"`
	LeaseUntil      *time.Time      `json:"lease_until,omitempty"`
	CancelRequested bool            `json:"cancel_requested"`
	CreatedAt       *time.Time      `json:"created_at,omitempty"`
	StartedAt       *time.Time      `json:"started_at,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
	Steps           []stepRunJSON   `json:"steps"`
}

type stepRunJSON struct {
	ID         string          `json:"id"`
	Uses       string          `json:"uses"`
	Status     store.Status    `json:"status"`
	Outcome    store.Status    `json:"outcome,omitempty"`
	Conclusion store.Status    `json:"conclusion,omitempty"`
	Attempts   int             `json:"attempts"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	With       json.RawMessage `json:"with,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
}

type executionPageJSON struct {
	Executions []executionJSON `json:"executions"`
	// NextCursor is passed back as ?cursor= for the next page; "" on the
	// last page.
	NextCursor string `json:"next_cursor"`
}

type statsJSON struct {
	Pipeline    string               `json:"pipeline"`
	Window      int                  `json:"window"` // newest executions read, at most
	ByStatus    map[store.Status]int `json:"by_status"`
	Finished    int                  `json:"finished"`
	SuccessRate *float64             `json:"success_rate"` // null when nothing finished
	P50Seconds  float64              `json:"p50_seconds"`
	P95Seconds  float64              `json:"p95_seconds"`
}

type decisionsJSON struct {
	Decisions []decisionJSON `json:"decisions"`
}

type decisionJSON struct {
	Pipeline string             `json:"pipeline"`
	Version  int64              `json:"version"`
	Matched  bool               `json:"matched"`
	Reason   string             `json:"reason,omitempty"`
	Error    string             `json:"error,omitempty"`
	Triggers []triggerDecision  `json:"triggers"`
	Steps    []stepDecisionJSON `json:"steps,omitempty"`
}

type triggerDecision struct {
	Trigger int    `json:"trigger"`
	Event   string `json:"event"`
	Matched bool   `json:"matched"`
	Reason  string `json:"reason,omitempty"`
	Error   string `json:"error,omitempty"`
}

type stepDecisionJSON struct {
	ID          string         `json:"id"`
	Uses        string         `json:"uses"`
	If          string         `json:"if,omitempty"`
	Run         bool           `json:"run"`
	IfError     string         `json:"if_error,omitempty"`
	With        map[string]any `json:"with,omitempty"`
	RenderError string         `json:"render_error,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func toPipelineJSON(p store.Pipeline, withSource bool, loadErr error, loaded bool) pipelineJSON {
	out := pipelineJSON{
		Name: p.Name, Version: p.Version, Workspace: p.Workspace, Enabled: p.Enabled,
		UpdatedAt: timePtr(p.UpdatedAt), Loaded: loaded, LoadError: errText(loadErr),
	}
	if withSource {
		out.Source = string(p.Source)
	}
	return out
}

func toExecutionJSON(x store.Execution) executionJSON {
	out := executionJSON{
		ID: x.ID, Pipeline: x.Pipeline, Version: x.Version, EventID: x.EventID, Status: x.Status,
		Error: x.Error, Attempt: x.Attempt, Owner: x.Owner, LeaseUntil: timePtr(x.LeaseUntil),
		CancelRequested: x.CancelRequested, CreatedAt: timePtr(x.CreatedAt),
		StartedAt: timePtr(x.StartedAt), FinishedAt: timePtr(x.FinishedAt),
		Steps: make([]stepRunJSON, len(x.Steps)),
	}
	// A stored event always validates; if one somehow does not, the
	// execution is still shown, without it.
	if b, err := x.Event.MarshalJSON(); err == nil {
		out.Event = b
	}
	for i, s := range x.Steps {
		out.Steps[i] = stepRunJSON{
			ID: s.ID, Uses: s.Uses, Status: s.Status, Outcome: s.Outcome, Conclusion: s.Conclusion,
			Attempts: s.Attempts, StartedAt: timePtr(s.StartedAt), FinishedAt: timePtr(s.FinishedAt),
			With: validRaw(s.With), Output: validRaw(s.Output), Error: s.Error,
		}
	}
	return out
}

// validRaw passes a stored JSON payload through, dropping one that is not
// JSON (the store refuses those, but an answer must never be broken JSON).
func validRaw(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}

func toStatsJSON(s PipelineStats) statsJSON {
	return statsJSON{
		Pipeline: s.Pipeline, Window: StatsWindow, ByStatus: s.ByStatus, Finished: s.Finished,
		SuccessRate: s.SuccessRate, P50Seconds: s.P50.Seconds(), P95Seconds: s.P95.Seconds(),
	}
}

func toDecisionJSON(d Decision) decisionJSON {
	out := decisionJSON{
		Pipeline: d.Pipeline, Version: d.Version, Matched: d.Matched, Reason: d.Reason,
		Error: errText(d.Err), Triggers: make([]triggerDecision, len(d.Triggers)),
	}
	for i, t := range d.Triggers {
		out.Triggers[i] = triggerDecision{Trigger: t.Trigger, Event: string(t.Event), Matched: t.Matched, Reason: t.Reason, Error: errText(t.Err)}
	}
	for _, s := range d.Steps {
		out.Steps = append(out.Steps, stepDecisionJSON{
			ID: s.ID, Uses: s.Uses, If: s.If, Run: s.Run, IfError: errText(s.IfErr),
			With: s.With, RenderError: errText(s.RenderErr),
		})
	}
	return out
}

// writeJSON answers v with status. v is one of the types above, which
// always marshal, except With maps of a dry run: if one does not, the
// answer is a 500 rather than half a document.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
