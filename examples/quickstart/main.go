// Command quickstart is the README's main job: a small host program that
// wires MockOps together on the embedded defaults and shows it working.
//
// Today it starts the in-memory event bus, subscribes a handler, raises one
// event of each of the seven platform kinds and prints each as CloudEvents
// JSON as the subscriber receives it. Later stages of the project grow it
// into the full platform demo (pipelines, federation, coverage).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"

	"github.com/mockops/mockops/events"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run is the whole program, so its test can drive it.
func run(ctx context.Context, out io.Writer) error {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()

	var mu sync.Mutex
	_, err := bus.Subscribe(ctx, events.Filter{}, func(ctx context.Context, e events.Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	})
	if err != nil {
		return err
	}

	const ws = "payments"
	raise := []func() (events.Event, error){
		func() (events.Event, error) {
			return events.WorkspaceCreated(ws, events.WorkspaceCreation{Name: "Payments", CreatedBy: "quickstart"})
		},
		func() (events.Event, error) {
			return events.SchemaChanged(ws, events.SchemaChange{SchemaType: "openapi", Path: "specs/payments.yaml", Changes: []string{"added GET /refunds"}})
		},
		func() (events.Event, error) {
			return events.ScenarioPublished(ws, events.ScenarioPublication{ScenarioID: "sc-1", ScenarioName: "checkout-happy-path", Version: "3"})
		},
		func() (events.Event, error) {
			return events.PersonaPublished(ws, events.PersonaPublication{PersonaID: "p-1", PersonaName: "premium-customer"})
		},
		func() (events.Event, error) {
			return events.DriftThresholdExceeded(ws, events.DriftThreshold{Service: "payments", Endpoint: "/payments", DriftPercent: 12.5, Budget: 5})
		},
		func() (events.Event, error) {
			return events.PromotionCompleted(ws, events.Promotion{EntityType: "scenario", EntityID: "sc-1", FromEnvironment: "dev", ToEnvironment: "test"})
		},
		func() (events.Event, error) {
			return events.ConfigChanged(ws, events.ConfigChange{Scope: "workspace", Keys: []string{"latency.p99"}})
		},
	}
	for _, f := range raise {
		e, err := f()
		if err != nil {
			return err
		}
		if err := bus.Publish(ctx, e); err != nil {
			return err
		}
	}
	// Deliver everything queued before exiting.
	if err := bus.Shutdown(ctx); err != nil {
		return err
	}
	st := bus.Stats()
	if st.Delivered != st.Published {
		return fmt.Errorf("delivered %d of %d events (failed %d, panics %d)", st.Delivered, st.Published, st.Failed, st.Panics)
	}
	return nil
}
