package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

func ExampleOpen() {
	ctx := context.Background()
	// A file path ("sqlite:/var/lib/mockops/store.db") or a PostgreSQL URL
	// works the same way; the in-memory database lives as long as s.
	s, err := sqlstore.Open(ctx, "sqlite::memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	p, err := s.PutPipeline(ctx, store.Pipeline{Name: "sdk-on-schema-change", Source: []byte("name: sdk-on-schema-change\n"), Enabled: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, "version", p.Version)

	// Writing with a stale version is a conflict, not a silent overwrite.
	p.Version = 7
	_, err = s.PutPipeline(ctx, p)
	fmt.Println("stale put conflicts:", errors.Is(err, store.ErrConflict))
	// Output:
	// sdk-on-schema-change version 1
	// stale put conflicts: true
}

func ExampleStore_Bus() {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite::memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// Events are rows of the store's database. A named consumer saves its
	// position there, so after a restart on the same database it resumes
	// right after the last event it handled.
	bus := s.Bus(sqlstore.BusConfig{})
	_, err = bus.SubscribeNamed(ctx, "sdk-bot", events.Filter{Types: []events.Type{events.TypeSchemaChanged}},
		func(ctx context.Context, e events.Event) error {
			fmt.Println("handled", e.Type, e.Get("spec_path"))
			return nil
		})
	if err != nil {
		log.Fatal(err)
	}

	created, _ := events.WorkspaceCreated("payments", events.WorkspaceCreation{Name: "Payments"})
	changed, _ := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: "specs/payments.yaml"})
	for _, e := range []events.Event{created, changed} {
		// Publish returns once the event is committed.
		if err := bus.Publish(ctx, e); err != nil {
			log.Fatal(err)
		}
	}
	// Shutdown lets the subscription handle what is stored, then stops it.
	if err := bus.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// handled schema.changed specs/payments.yaml
}
