package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/mockops/mockops/events"
)

// EmitConfig is the `with:` block of the emit step type.
type EmitConfig struct {
	// Type is the event type to publish ("sdk.regenerated", or one of the
	// platform types).
	Type string `json:"type" step:"required"`
	// Data is the payload; empty means no payload.
	Data map[string]any `json:"data"`
	// Subject is the CloudEvents subject; empty leaves it unset.
	Subject string `json:"subject"`
	// Workspace defaults to the triggering event's workspace.
	Workspace string `json:"workspace"`
}

// ErrNoPublisher is returned (wrapped, permanent) by steps that publish
// events when Input.Publisher is nil.
var ErrNoPublisher = errors.New("steps: no publisher in the step input")

// RegisterEmit registers the emit step type: it publishes one event through
// Input.Publisher, marked as caused by the triggering event (causationid
// and depth, see events.Event.CausedBy) so that pipelines chain and the
// engine can refuse chains that are too deep.
//
// The triggering event's org and W3C traceparent extension are carried
// over. Outputs:
//
//	event_id   the published event's id
//	type       its type
//	workspace  its workspace
//	depth      its causation depth (the trigger's depth + 1)
//
// A retried attempt publishes a new event with a new id: subscribers that
// must not see a duplicate deduplicate on causationid and type.
func RegisterEmit(r *Registry) error {
	return Register(r, "emit", func(cfg EmitConfig) (Step, error) {
		if cfg.Type == "" {
			return nil, Permanent(errors.New("steps: emit: empty event type"))
		}
		return StepFunc(func(ctx context.Context, in Input) (Output, error) {
			return emit(ctx, in, cfg)
		}), nil
	})
}

func emit(ctx context.Context, in Input, cfg EmitConfig) (Output, error) {
	ws := cfg.Workspace
	if ws == "" {
		ws = in.Event.Workspace
	}
	var data any
	if len(cfg.Data) > 0 {
		data = cfg.Data
	}
	ev, err := events.New(events.Type(cfg.Type), ws, data)
	if err != nil {
		return Output{}, Permanent(fmt.Errorf("steps: emit %s: %w", cfg.Type, err))
	}
	ev.Subject = cfg.Subject
	ev.Org = in.Event.Org
	ev, err = publishCaused(ctx, in, ev)
	if err != nil {
		return Output{}, fmt.Errorf("steps: emit %s: %w", cfg.Type, err)
	}
	return Output{Outputs: map[string]any{
		"event_id":  ev.ID,
		"type":      cfg.Type,
		"workspace": ws,
		"depth":     ev.Depth(),
	}}, nil
}

// publishCaused publishes ev as caused by in.Event (when the step was
// triggered by one) and returns it as published.
func publishCaused(ctx context.Context, in Input, ev events.Event) (events.Event, error) {
	if in.Publisher == nil {
		return events.Event{}, Permanent(ErrNoPublisher)
	}
	if tp, ok := in.Event.Extensions["traceparent"]; ok && ev.Extensions["traceparent"] == "" {
		ext := make(map[string]string, len(ev.Extensions)+1)
		for k, v := range ev.Extensions {
			ext[k] = v
		}
		ext["traceparent"] = tp
		ev.Extensions = ext
	}
	if in.Event.ID != "" {
		ev = ev.CausedBy(in.Event)
	}
	if err := in.Publisher.Publish(ctx, ev); err != nil {
		return events.Event{}, fmt.Errorf("publish: %w", err)
	}
	return ev, nil
}
