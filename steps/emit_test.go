package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/steps"
)

// captureBus is a real in-memory bus with one subscriber that records
// every event; received drains the bus and returns them in order.
func captureBus(t *testing.T) (bus *events.MemoryBus, received func() []events.Event) {
	t.Helper()
	bus = events.NewMemoryBus(events.MemoryConfig{})
	var mu sync.Mutex
	var got []events.Event
	if _, err := bus.Subscribe(context.Background(), events.Filter{}, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	return bus, func() []events.Event {
		t.Helper()
		if err := bus.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// runStep builds the registered step type name from with and runs it.
func runStep(t *testing.T, r *steps.Registry, name string, with map[string]any, in steps.Input) (steps.Output, error) {
	t.Helper()
	typ, ok := r.Lookup(name)
	if !ok {
		t.Fatalf("Lookup(%q) found nothing", name)
	}
	in.With = with
	s, err := typ.New(with)
	if err != nil {
		return steps.Output{}, err
	}
	return s.Run(context.Background(), in)
}

func triggerEvent(t *testing.T) events.Event {
	t.Helper()
	ev, err := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: "specs/payments.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	ev.Org = "acme"
	ev.Extensions = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	return ev.CausedBy(events.Event{ID: "root", Extensions: map[string]string{events.ExtDepth: "1"}})
}

func TestEmit(t *testing.T) {
	trigger := triggerEvent(t)
	tests := []struct {
		name string
		with map[string]any
		want events.Event // ID, Time and Source are not compared
	}{
		{
			name: "defaults from the trigger",
			with: map[string]any{"type": "sdk.regenerated"},
			want: events.Event{Type: "sdk.regenerated", Workspace: "payments", Org: "acme"},
		},
		{
			name: "data, subject and workspace",
			with: map[string]any{"type": "custom.done", "subject": "s1", "workspace": "billing", "data": map[string]any{"n": int64(2), "ok": true}},
			want: events.Event{Type: "custom.done", Workspace: "billing", Org: "acme", Subject: "s1", Data: json.RawMessage(`{"n":2,"ok":true}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := steps.NewRegistry()
			if err := steps.RegisterEmit(r); err != nil {
				t.Fatal(err)
			}
			bus, received := captureBus(t)
			out, err := runStep(t, r, "emit", tt.with, steps.Input{Event: trigger, Publisher: bus})
			if err != nil {
				t.Fatalf("Run = %v; want success", err)
			}
			got := received()
			if len(got) != 1 {
				t.Fatalf("published %d events; want 1", len(got))
			}
			ev := got[0]
			want := tt.want
			want.Extensions = map[string]string{
				events.ExtCausationID: trigger.ID,
				events.ExtDepth:       "3",
				"traceparent":         trigger.Extensions["traceparent"],
			}
			if diff := cmp.Diff(want, ev, cmpopts.IgnoreFields(events.Event{}, "ID", "Time", "Source")); diff != "" {
				t.Errorf("published event mismatch (-want +got):\n%s", diff)
			}
			wantOut := map[string]any{"event_id": ev.ID, "type": string(want.Type), "workspace": want.Workspace, "depth": 3}
			if diff := cmp.Diff(wantOut, out.Outputs); diff != "" {
				t.Errorf("outputs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmitFailures(t *testing.T) {
	r := steps.NewRegistry()
	if err := steps.RegisterEmit(r); err != nil {
		t.Fatal(err)
	}
	trigger := triggerEvent(t)

	_, err := runStep(t, r, "emit", map[string]any{"type": "x.y"}, steps.Input{Event: trigger})
	if !errors.Is(err, steps.ErrNoPublisher) || !steps.IsPermanent(err) {
		t.Errorf("Run(no publisher) = %v; want permanent ErrNoPublisher", err)
	}

	closed := events.NewMemoryBus(events.MemoryConfig{})
	closed.Close()
	_, err = runStep(t, r, "emit", map[string]any{"type": "x.y"}, steps.Input{Event: trigger, Publisher: closed})
	if !errors.Is(err, events.ErrClosed) || steps.IsPermanent(err) {
		t.Errorf("Run(closed bus) = %v; want retryable events.ErrClosed", err)
	}

	_, err = runStep(t, r, "emit", map[string]any{}, steps.Input{Event: trigger, Publisher: closed})
	if !steps.IsPermanent(err) {
		t.Errorf("Run(missing type) = %v; want a permanent config error", err)
	}
	_, err = runStep(t, r, "emit", map[string]any{"type": ""}, steps.Input{Event: trigger, Publisher: closed})
	if !steps.IsPermanent(err) {
		t.Errorf("Run(empty type) = %v; want a permanent error", err)
	}
}
