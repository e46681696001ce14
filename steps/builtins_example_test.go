package steps_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/steps"
)

func ExampleRegisterNotify() {
	// A receiver of signed webhooks, and a Slack workspace that refuses
	// the message's blocks.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("webhook %s signed: %v\n  %s\n", r.Header.Get("webhook-id"), r.Header.Get("webhook-signature") != "", body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_blocks")
	}))
	defer slack.Close()

	r := steps.NewRegistry()
	clock := func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }
	if err := steps.RegisterNotify(r, steps.Deps{Now: clock}); err != nil {
		fmt.Println(err)
		return
	}
	typ, _ := r.Lookup("notify")
	step, err := typ.New(map[string]any{"targets": []any{
		map[string]any{"name": "ops", "webhook": map[string]any{
			"url":     hook.URL + "/hooks",
			"secret":  "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM=", // from ${{ secrets.X }} in a pipeline
			"payload": map[string]any{"text": "payments SDK regenerated"},
		}},
		map[string]any{"name": "team", "slack": map[string]any{
			"webhook_url": slack.URL + "/services/T1/B1/x",
			"text":        "payments SDK regenerated",
			"blocks":      []any{map[string]any{"type": "section"}},
		}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, _ := events.New(events.TypeSchemaChanged, "payments", map[string]any{})
	ev.ID = "01JB0000000000000000000000" // fixed for the example's output
	out, err := step.Run(context.Background(), steps.Input{Event: ev, Pipeline: "tell", Execution: "x1", StepID: "notify"})
	// Every target is tried; one that fails fails the step, and says which.
	fmt.Println("delivered:", out.Outputs["delivered"], "failed:", out.Outputs["failed"])
	var terr *steps.TargetError
	var serr *steps.StatusError
	if errors.As(err, &terr) && errors.As(err, &serr) {
		fmt.Printf("target %q (%s): %d %s\n", terr.Target, terr.Kind, serr.Status, serr.Detail)
	}
	fmt.Println("retry may help:", !steps.IsPermanent(err))
	// Output:
	// webhook msg_08d437d6f42a6409606785abe7bb82e2 signed: true
	//   {"event_id":"01JB0000000000000000000000","event_type":"schema.changed","execution_id":"x1","pipeline":"tell","text":"payments SDK regenerated"}
	// delivered: [ops] failed: [team]
	// target "team" (slack): 400 invalid_blocks
	// retry may help: false
}

func ExampleRegisterEmit() {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	got := make(chan events.Event, 1)
	if _, err := bus.Subscribe(context.Background(), events.Filter{Types: []events.Type{"acme.sdk.published"}},
		func(_ context.Context, e events.Event) error { got <- e; return nil }); err != nil {
		fmt.Println(err)
		return
	}

	r := steps.NewRegistry()
	if err := steps.RegisterEmit(r); err != nil {
		fmt.Println(err)
		return
	}
	typ, _ := r.Lookup("emit")
	step, err := typ.New(map[string]any{"type": "acme.sdk.published", "data": map[string]any{"language": "go"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	trigger, _ := events.New(events.TypeSchemaChanged, "payments", map[string]any{})
	// The engine passes its bus as the Publisher.
	out, err := step.Run(context.Background(), steps.Input{Event: trigger, Publisher: bus})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := <-got
	fmt.Println(ev.Type, ev.Workspace, ev.Get("language"), "depth", out.Outputs["depth"])
	fmt.Println("caused by the trigger:", ev.Extensions[events.ExtCausationID] == trigger.ID)
	// Output:
	// acme.sdk.published payments go depth 1
	// caused by the trigger: true
}

func ExampleNewHTTPClient() {
	// A target that is busy once, asking for a retry at once.
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%s, key %s", r.UserAgent(), r.Header.Get("Idempotency-Key"))
	}))
	defer api.Close()

	client := steps.NewHTTPClient(steps.HTTPConfig{UserAgent: "my-platform/1", Timeout: 10 * time.Second})
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, api.URL, nil)
	req.Header.Set("Idempotency-Key", "k-1") // kept on every attempt
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "requests")
	// Output:
	// 200 my-platform/1, key k-1 after 2 requests
}
