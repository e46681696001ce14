package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/steps"
)

// hostPromoter is a small host platform: it knows in which environment
// each entity is, refuses to promote one that is not where the request
// says, and remembers idempotency keys.
type hostPromoter struct {
	mu       sync.Mutex
	env      map[string]string // entity id -> environment
	requests []steps.PromotionRequest
	done     map[string]steps.PromotionResult
	fail     error
}

func (h *hostPromoter) Promote(_ context.Context, req steps.PromotionRequest) (steps.PromotionResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, req)
	if res, ok := h.done[req.IdempotencyKey]; ok {
		return res, nil
	}
	if h.fail != nil {
		return steps.PromotionResult{}, h.fail
	}
	if got := h.env[req.EntityID]; got != req.FromEnvironment {
		return steps.PromotionResult{}, steps.Permanent(fmt.Errorf("%s is in %q, not %q", req.EntityID, got, req.FromEnvironment))
	}
	h.env[req.EntityID] = req.ToEnvironment
	res := steps.PromotionResult{ID: fmt.Sprintf("promo-%d", len(h.done)+1), Version: "v7"}
	if h.done == nil {
		h.done = map[string]steps.PromotionResult{}
	}
	h.done[req.IdempotencyKey] = res
	return res, nil
}

func promoteWith(from, to string, extra map[string]any) map[string]any {
	w := map[string]any{
		"entity_type": "scenario", "entity_id": "checkout", "from_environment": from, "to_environment": to,
		"environments": []any{"dev", "staging", "prod"},
	}
	for k, v := range extra {
		w[k] = v
	}
	return w
}

func TestAutoPromote(t *testing.T) {
	host := &hostPromoter{env: map[string]string{"checkout": "dev"}}
	r := steps.NewRegistry()
	if err := steps.RegisterAutoPromote(r, host); err != nil {
		t.Fatal(err)
	}
	bus, received := captureBus(t)
	trigger := triggerEvent(t)
	in := steps.Input{Event: trigger, Publisher: bus, Execution: "exec1", StepID: "promote"}
	out, err := runStep(t, r, "auto_promote", promoteWith("dev", "staging", map[string]any{"comments": "green"}), in)
	if err != nil {
		t.Fatalf("Run = %v; want success", err)
	}
	wantReq := []steps.PromotionRequest{{
		Workspace: "payments", EntityType: "scenario", EntityID: "checkout", FromEnvironment: "dev",
		ToEnvironment: "staging", Comments: "green", IdempotencyKey: "exec1/promote",
	}}
	if diff := cmp.Diff(wantReq, host.requests); diff != "" {
		t.Errorf("Promoter requests mismatch (-want +got):\n%s", diff)
	}
	if got := host.env["checkout"]; got != "staging" {
		t.Errorf("checkout is in %q after the step; want staging", got)
	}
	got := received()
	if len(got) != 1 {
		t.Fatalf("published %d events; want 1", len(got))
	}
	ev := got[0]
	if ev.Type != events.TypePromotionCompleted || ev.Workspace != "payments" || ev.Subject != "checkout" || ev.Org != "acme" {
		t.Errorf("event = %s in %q subject %q org %q; want promotion.completed in payments, subject checkout, org acme", ev.Type, ev.Workspace, ev.Subject, ev.Org)
	}
	if ev.Extensions[events.ExtCausationID] != trigger.ID || ev.Depth() != trigger.Depth()+1 {
		t.Errorf("event causation = %q depth %d; want %q depth %d", ev.Extensions[events.ExtCausationID], ev.Depth(), trigger.ID, trigger.Depth()+1)
	}
	var payload events.Promotion
	if err := json.Unmarshal(ev.Data, &payload); err != nil {
		t.Fatal(err)
	}
	wantPayload := events.Promotion{PromotionID: "promo-1", EntityType: "scenario", EntityID: "checkout", EntityVersion: "v7", FromEnvironment: "dev", ToEnvironment: "staging"}
	if diff := cmp.Diff(wantPayload, payload); diff != "" {
		t.Errorf("payload mismatch (-want +got):\n%s", diff)
	}
	wantOut := map[string]any{
		"promotion_id": "promo-1", "entity_type": "scenario", "entity_id": "checkout", "entity_version": "v7",
		"from_environment": "dev", "to_environment": "staging", "event_id": ev.ID,
	}
	if diff := cmp.Diff(wantOut, out.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
}

func TestAutoPromoteOrder(t *testing.T) {
	tests := []struct {
		name     string
		with     map[string]any
		startEnv string
		wantErr  error // nil: success
	}{
		{"next", promoteWith("staging", "prod", nil), "staging", nil},
		{"skip refused", promoteWith("dev", "prod", nil), "dev", steps.ErrPromotionOrder},
		{"skip allowed", promoteWith("dev", "prod", map[string]any{"allow_skip": true}), "dev", nil},
		{"backward refused", promoteWith("prod", "staging", nil), "prod", steps.ErrPromotionOrder},
		{"backward allowed", promoteWith("prod", "dev", map[string]any{"allow_backward": true}), "prod", nil},
		{"same environment", promoteWith("dev", "dev", map[string]any{"allow_skip": true, "allow_backward": true}), "dev", steps.ErrPromotionOrder},
		{"unknown from", promoteWith("qa", "prod", nil), "qa", steps.ErrPromotionOrder},
		{"unknown to", promoteWith("dev", "qa", nil), "dev", steps.ErrPromotionOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := &hostPromoter{env: map[string]string{"checkout": tt.startEnv}}
			r := steps.NewRegistry()
			if err := steps.RegisterAutoPromote(r, host); err != nil {
				t.Fatal(err)
			}
			bus, received := captureBus(t)
			_, err := runStep(t, r, "auto_promote", tt.with, steps.Input{Event: triggerEvent(t), Publisher: bus})
			n := len(received())
			if tt.wantErr == nil {
				if err != nil || n != 1 {
					t.Errorf("Run = %v with %d events; want success and 1 event", err, n)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !steps.IsPermanent(err) {
				t.Errorf("Run = %v; want permanent %v", err, tt.wantErr)
			}
			if len(host.requests) != 0 || n != 0 {
				t.Errorf("refused promotion reached the Promoter %d times and published %d events; want 0 and 0", len(host.requests), n)
			}
		})
	}
}

func TestAutoPromoteFailures(t *testing.T) {
	errDown := errors.New("promotion service unavailable")
	t.Run("promoter error is returned, no event", func(t *testing.T) {
		host := &hostPromoter{env: map[string]string{"checkout": "dev"}, fail: errDown}
		r := steps.NewRegistry()
		if err := steps.RegisterAutoPromote(r, host); err != nil {
			t.Fatal(err)
		}
		bus, received := captureBus(t)
		_, err := runStep(t, r, "auto_promote", promoteWith("dev", "staging", nil), steps.Input{Event: triggerEvent(t), Publisher: bus})
		if !errors.Is(err, errDown) || steps.IsPermanent(err) {
			t.Errorf("Run = %v; want retryable %v", err, errDown)
		}
		if n := len(received()); n != 0 {
			t.Errorf("published %d events after a failed promotion; want 0", n)
		}
	})
	t.Run("permanent promoter error stays permanent", func(t *testing.T) {
		host := &hostPromoter{env: map[string]string{"checkout": "prod"}}
		r := steps.NewRegistry()
		if err := steps.RegisterAutoPromote(r, host); err != nil {
			t.Fatal(err)
		}
		bus, _ := captureBus(t)
		_, err := runStep(t, r, "auto_promote", promoteWith("dev", "staging", nil), steps.Input{Event: triggerEvent(t), Publisher: bus})
		if !steps.IsPermanent(err) {
			t.Errorf("Run = %v; want permanent", err)
		}
	})
	t.Run("publish failure is retryable and the retry does not promote twice", func(t *testing.T) {
		host := &hostPromoter{env: map[string]string{"checkout": "dev"}}
		r := steps.NewRegistry()
		if err := steps.RegisterAutoPromote(r, host); err != nil {
			t.Fatal(err)
		}
		closed := events.NewMemoryBus(events.MemoryConfig{})
		closed.Close()
		in := steps.Input{Event: triggerEvent(t), Publisher: closed, Execution: "e", StepID: "p", Attempt: 1}
		_, err := runStep(t, r, "auto_promote", promoteWith("dev", "staging", nil), in)
		if !errors.Is(err, events.ErrClosed) || steps.IsPermanent(err) {
			t.Fatalf("Run(closed bus) = %v; want retryable events.ErrClosed", err)
		}
		bus, received := captureBus(t)
		in.Publisher, in.Attempt = bus, 2
		if _, err := runStep(t, r, "auto_promote", promoteWith("dev", "staging", nil), in); err != nil {
			t.Fatalf("Run(retry) = %v; want success", err)
		}
		if len(host.requests) != 2 || host.requests[0].IdempotencyKey != host.requests[1].IdempotencyKey || len(host.done) != 1 {
			t.Errorf("retry sent %d requests, %d promotions; want 2 requests with one idempotency key and 1 promotion", len(host.requests), len(host.done))
		}
		if n := len(received()); n != 1 {
			t.Errorf("retry published %d events; want 1", n)
		}
	})
	t.Run("no publisher: nothing promoted", func(t *testing.T) {
		host := &hostPromoter{env: map[string]string{"checkout": "dev"}}
		r := steps.NewRegistry()
		if err := steps.RegisterAutoPromote(r, host); err != nil {
			t.Fatal(err)
		}
		_, err := runStep(t, r, "auto_promote", promoteWith("dev", "staging", nil), steps.Input{Event: triggerEvent(t)})
		if !errors.Is(err, steps.ErrNoPublisher) || len(host.requests) != 0 {
			t.Errorf("Run(no publisher) = %v after %d requests; want ErrNoPublisher and no request", err, len(host.requests))
		}
	})
	if err := steps.RegisterAutoPromote(steps.NewRegistry(), nil); err == nil {
		t.Errorf("RegisterAutoPromote(nil) = nil; want an error")
	}
}
