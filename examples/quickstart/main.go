// Command quickstart is the README's main job: a small host program that
// wires MockOps together on the embedded defaults and shows it working.
//
// It starts the in-memory event bus; loads the pipeline definitions in
// config/ (one in MockOps's DSL, one in MockForge's format) against the
// host's step registry; raises one event of each of the seven platform
// kinds and, for each, prints it as CloudEvents JSON with the pipelines it
// triggers and their rendered step config (a dry run); then serves a small
// federation, a real users service it starts on loopback and a mock orders
// workspace, and sends requests through it.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/mockops/mockops/events"
)

//go:embed config
var configFS embed.FS

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
	idx, defs, err := loadPipelines(configFS)
	if err != nil {
		return err
	}
	for _, d := range defs {
		fmt.Fprintf(out, "loaded pipeline %s (%s format)\n", d.Name, d.Format)
	}

	bus := events.NewMemoryBus(events.MemoryConfig{})
	defer bus.Close()
	_, err = bus.Subscribe(ctx, events.Filter{}, func(ctx context.Context, e events.Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "event %s\n", b)
		return dryRun(ctx, idx, e, out)
	})
	if err != nil {
		return err
	}
	if err := raiseEvents(ctx, bus); err != nil {
		return err
	}
	// Deliver everything queued before going on.
	if err := bus.Shutdown(ctx); err != nil {
		return err
	}
	if st := bus.Stats(); st.Delivered != st.Published {
		return fmt.Errorf("delivered %d of %d events (failed %d, panics %d)", st.Delivered, st.Published, st.Failed, st.Panics)
	}

	src, err := configFS.ReadFile("config/federations/shop.yaml")
	if err != nil {
		return err
	}
	shop, err := startShop(ctx, src)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/users/7", "/orders/42", "/inventory/1"} {
		if err := shop.visit(ctx, client, path, out); err != nil {
			shop.shutdown(ctx)
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return shop.shutdown(sctx)
}

// raiseEvents publishes one event of each platform kind, as a mock server
// would when these things happen.
func raiseEvents(ctx context.Context, bus events.Publisher) error {
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
	return nil
}
