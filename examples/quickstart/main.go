// Command quickstart is the README's main job: a small host program that
// wires MockOps together on the embedded defaults and shows it working.
//
// It opens the embedded SQLite store (a file in a temporary directory, or
// the one -db names) and its durable event bus, and starts the pipeline
// engine on them with the built-in step types plus the quickstart's own
// "log" step, and secrets from the quickstart's own SecretSource. It
// stores the four definitions in config/pipelines (one in MockForge's
// format) through the engine, prints the engine's dry run (Test) for the
// drift event, publishes one event of each of the seven platform kinds
// (printing each as CloudEvents JSON), waits for the executions they start
// (one calls a deploy hook it serves on loopback with a bearer token, one
// emits an event that runs a second pipeline) and prints each stored
// execution: pipeline, status, steps with their status, outcome and
// redacted rendered config. It shuts the engine down, then stores and
// serves a small federation, a real users service it starts on loopback
// and a mock orders workspace, and sends requests through it. It exits 1
// when an execution did not succeed.
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

//go:embed config
var configFS embed.FS

func main() {
	dbPath := flag.String("db", "", "SQLite database to use and keep (default: a temporary one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := main1(ctx, *dbPath); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func main1(ctx context.Context, dbPath string) error {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "mockops-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "mockops.db")
	}
	return run(ctx, dbPath, os.Stdout, os.Stderr)
}

// run is the whole program, so its test can drive it. It prints to out
// and sends the engine's log records to logw.
func run(ctx context.Context, dbPath string, out, logw io.Writer) error {
	st, err := sqlstore.Open(ctx, "sqlite:"+dbPath)
	if err != nil {
		return err
	}
	defer st.Close()

	// The durable bus keeps events as rows; the engine subscribes to it as
	// a named consumer, which resumes where it stopped when the program
	// runs again on the same -db.
	bus := st.Bus(sqlstore.BusConfig{})
	defer bus.Close()
	if err := runPipelines(ctx, st, bus, logw, out); err != nil {
		return err
	}
	if err := bus.Shutdown(ctx); err != nil {
		return err
	}

	src, err := configFS.ReadFile("config/federations/shop.yaml")
	if err != nil {
		return err
	}
	if _, err := st.PutFederation(ctx, store.FederationRecord{Name: "shop", Version: store.AnyVersion, Spec: src}); err != nil {
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

// platformEvents returns one event of each platform kind, as a mock server
// would raise them when these things happen.
func platformEvents() ([]events.Event, error) {
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
	evs := make([]events.Event, 0, len(raise))
	for _, f := range raise {
		e, err := f()
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	return evs, nil
}
