package expr

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/tidwall/gjson"

	"github.com/mockops/mockops/events"
)

// EventVars is the `event` variable of one event. Build it once per event
// with NewEventVars and share it between every expression evaluated for
// that event: the payload is decoded here and nowhere else. It is
// read-only after construction, so concurrent evaluations may share it.
type EventVars struct {
	val ref.Val
	m   map[string]any
}

// NewEventVars decodes ev's payload. JSON numbers written without a
// fraction or exponent become int64 (so `event.data.count + 1` is int
// arithmetic, as the author reads it), other numbers float64.
func NewEventVars(ev events.Event) (*EventVars, error) {
	data := map[string]any{}
	if raw := bytes.TrimSpace(ev.Data); len(raw) > 0 {
		// gjson walks the payload without reflection: this decode is on
		// the path of every event that reaches a CEL filter.
		if !gjson.ValidBytes(raw) {
			return nil, fmt.Errorf("expr: payload of event %s is not valid JSON", ev.ID)
		}
		r := gjson.ParseBytes(raw)
		if !r.IsObject() {
			return nil, fmt.Errorf("expr: payload of event %s is not a JSON object", ev.ID)
		}
		data = fromJSON(r).(map[string]any)
	}
	ext := make(map[string]any, len(ev.Extensions))
	for k, v := range ev.Extensions {
		ext[k] = v
	}
	m := map[string]any{
		"id":         ev.ID,
		"type":       string(ev.Type),
		"source":     ev.Source,
		"subject":    ev.Subject,
		"workspace":  ev.Workspace,
		"org":        ev.Org,
		"time":       ev.Time,
		"data":       data,
		"extensions": ext,
	}
	return &EventVars{val: types.DefaultTypeAdapter.NativeToValue(m), m: m}, nil
}

// Map returns the event as plain data (the value templates see).
// Callers must not modify it.
func (e *EventVars) Map() map[string]any { return e.m }

func fromJSON(r gjson.Result) any {
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.True:
		return true
	case gjson.False:
		return false
	case gjson.Null:
		return nil
	case gjson.Number:
		if !strings.ContainsAny(r.Raw, ".eE") {
			if i, err := strconv.ParseInt(r.Raw, 10, 64); err == nil {
				return i
			}
		}
		return r.Num
	}
	if r.IsArray() {
		out := []any{}
		r.ForEach(func(_, v gjson.Result) bool {
			out = append(out, fromJSON(v))
			return true
		})
		return out
	}
	out := map[string]any{}
	r.ForEach(func(k, v gjson.Result) bool {
		out[k.Str] = fromJSON(v)
		return true
	})
	return out
}

// Status is the state of an execution as the status functions see it.
type Status struct {
	Failed    bool // an earlier step failed (and did not continue on error)
	Cancelled bool // the execution was cancelled
}

// StepVars is what `steps.<id>` exposes about an earlier step.
type StepVars struct {
	Outputs    map[string]any
	Outcome    string // success, failure, cancelled, skipped
	Conclusion string // the outcome after continue_on_error
}

// Vars are the values one evaluation sees. Unset fields are empty maps, so
// a reference to them fails with "no such key" rather than a nil error.
type Vars struct {
	Event     *EventVars
	Steps     map[string]StepVars
	Pipeline  map[string]any
	Execution map[string]any
	Secrets   map[string]string
	Status    Status
}

func (v *Vars) activation() interpreter.Activation {
	if v == nil {
		v = &Vars{}
	}
	return activation{v}
}

// activation serves the variables and the late-bound status functions
// straight from Vars, without building a map per evaluation.
type activation struct{ v *Vars }

var (
	emptyMap  = types.DefaultTypeAdapter.NativeToValue(map[string]any{})
	trueFunc  = functions.LateBoundOp(func(string, ...ref.Val) ref.Val { return types.True })
	falseFunc = functions.LateBoundOp(func(string, ...ref.Val) ref.Val { return types.False })
)

func (a activation) ResolveName(name string) (any, bool) {
	switch name {
	case varEvent:
		if a.v.Event == nil {
			return emptyMap, true
		}
		return a.v.Event.val, true
	case varSteps:
		m := make(map[string]any, len(a.v.Steps))
		for id, s := range a.v.Steps {
			out := s.Outputs
			if out == nil {
				out = map[string]any{}
			}
			m[id] = map[string]any{"outputs": out, "outcome": s.Outcome, "conclusion": s.Conclusion}
		}
		return m, true
	case varPipeline:
		return orEmpty(a.v.Pipeline), true
	case varExecution:
		return orEmpty(a.v.Execution), true
	case varSecrets:
		if a.v.Secrets == nil {
			return map[string]string{}, true
		}
		return a.v.Secrets, true
	}
	return nil, false
}

func orEmpty(m map[string]any) any {
	if m == nil {
		return emptyMap
	}
	return m
}

func (activation) Parent() interpreter.Activation { return nil }

// ResolveFunction binds the status functions to this evaluation's Status.
func (a activation) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	var b bool
	switch name {
	case "success":
		b = !a.v.Status.Failed && !a.v.Status.Cancelled
	case "failure":
		b = a.v.Status.Failed
	case "cancelled":
		b = a.v.Status.Cancelled
	case "always":
		b = true
	default:
		return nil, false
	}
	if b {
		return trueFunc, true
	}
	return falseFunc, true
}
