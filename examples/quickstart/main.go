// Command quickstart is the README's main job: a small host program that
// wires MockOps together on the embedded defaults and shows it working.
//
// It opens the embedded SQLite store (a file in a temporary directory, or
// the one -db names) and its durable event bus; loads the pipeline
// definitions in config/ (one in MockOps's DSL, one in MockForge's format)
// against the host's step registry and stores them; raises one event of
// each of the seven platform kinds and, for each, prints it as CloudEvents
// JSON with the pipelines it triggers and their rendered step config (a
// dry run); then stores and serves a small federation, a real users service
// it starts on loopback and a mock orders workspace, and sends requests
// through it.
package main

import (
	"context"
	"embed"
	"encoding/json"
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
	return run(ctx, dbPath, os.Stdout)
}

// run is the whole program, so its test can drive it.
func run(ctx context.Context, dbPath string, out io.Writer) error {
	st, err := sqlstore.Open(ctx, "sqlite:"+dbPath)
	if err != nil {
		return err
	}
	defer st.Close()

	idx, defs, err := loadPipelines(configFS)
	if err != nil {
		return err
	}
	for _, d := range defs {
		p, err := st.PutPipeline(ctx, store.Pipeline{Name: d.Name, Version: store.AnyVersion, Source: d.Source, Enabled: d.Enabled, Workspace: d.Workspace})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "stored pipeline %s (%s format) as version %d\n", d.Name, d.Format, p.Version)
	}

	// The durable bus keeps events as rows; the named consumer resumes
	// where it stopped when the program runs again on the same -db.
	bus := st.Bus(sqlstore.BusConfig{})
	defer bus.Close()
	_, err = bus.SubscribeNamed(ctx, "quickstart", events.Filter{}, func(ctx context.Context, e events.Event) error {
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
	// Deliver everything stored before going on.
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
