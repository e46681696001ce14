package pipeline

import (
	"context"

	"github.com/mockops/mockops/events"
)

// Decision is what the engine would do with an event for one loaded
// pipeline: the dry run hosts show instead of chaining Index, Match and
// Render themselves.
type Decision struct {
	Pipeline string
	Version  int64
	// Matched: an execution would be created. Otherwise Reason says why
	// not (a trigger per line, or the engine's own reason such as the
	// causation limit), or Err says a filter failed to evaluate.
	Matched  bool
	Reason   string
	Err      error
	Triggers []TriggerResult
	// Steps are the steps an execution would run, in Plan.Order, when
	// Matched. Each is judged as if every step before it succeeded.
	Steps []StepDecision
}

// StepDecision is one step of a matched Decision.
type StepDecision struct {
	ID   string
	Uses string
	If   string // the condition's source ("" = success())
	// Run is the result of `if:` assuming earlier steps succeeded; IfErr
	// is set when the condition failed to evaluate.
	Run   bool
	IfErr error
	// With is the rendered config with secrets redacted; RenderErr is set
	// (redacted) when it does not render without a real run, such as when
	// it reads steps.<id>.outputs.
	With      map[string]any
	RenderErr error
}

// Test says, for every loaded pipeline in name order, whether ev would
// start an execution and why not, without creating anything. Disabled
// pipelines are listed as not matched. Secrets are fetched to render
// steps, and appear only redacted.
func (e *Engine) Test(ctx context.Context, ev events.Event) ([]Decision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := e.snap.Load()
	evv := NewEventVars(ev)
	tooDeep := e.tooDeep(ev)
	out := make([]Decision, 0, len(s.names))
	for _, name := range s.names {
		l := s.byName[name]
		p := l.def.plan
		d := Decision{Pipeline: name, Version: l.rec.Version, Triggers: p.Match(ctx, evv)}
		matched, ferr := Matches(d.Triggers)
		switch {
		case matched && tooDeep:
			d.Reason = "event causation depth exceeds the engine's limit"
			d.Err = ErrCausationDepth
		case matched:
			d.Matched = true
			d.Steps = e.dryRunSteps(ctx, p, evv)
		case ferr != nil:
			d.Err = ferr
		default:
			d.Reason = reasons(d.Triggers)
		}
		out = append(out, d)
	}
	return out, nil
}

func reasons(rs []TriggerResult) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += "; "
		}
		s += r.Reason
	}
	return s
}

func (e *Engine) dryRunSteps(ctx context.Context, p *Plan, evv *EventVars) []StepDecision {
	states := map[string]StepState{}
	out := make([]StepDecision, 0, len(p.order))
	for _, id := range p.order {
		s := p.byID[id]
		rc := RenderContext{Event: evv, Steps: states, Execution: "dry-run", Attempt: 1, Secrets: e.cfg.Secrets}
		sd := StepDecision{ID: id, Uses: s.uses, If: s.If()}
		sd.Run, sd.IfErr = p.ShouldRun(ctx, id, rc)
		r, err := p.Render(ctx, id, rc)
		if err != nil {
			sd.RenderErr = err
		} else {
			sd.With = r.Redacted()
		}
		states[id] = StepState{Outputs: map[string]any{}, Outcome: "success", Conclusion: "success"}
		out = append(out, sd)
	}
	return out
}

// tooDeep reports whether ev's causation chain is past the limit.
func (e *Engine) tooDeep(ev events.Event) bool {
	if e.cfg.MaxDepth < 0 {
		return ev.Depth() > 0
	}
	return ev.Depth() > e.cfg.MaxDepth
}
