package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mockops/mockops/events"
)

func ExampleNew() {
	e, err := events.New("acme.invoice.paid", "billing", map[string]any{"invoice": "INV-7", "amount": 42})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Type, e.Workspace, e.Source, len(e.ID))
	fmt.Println(e.Get("invoice").String(), e.Get("amount").Int())
	// Output:
	// acme.invoice.paid billing mockops 26
	// INV-7 42
}

func ExampleSchemaChanged() {
	e, err := events.SchemaChanged("payments", events.SchemaChange{
		SchemaType: "openapi",
		Path:       "specs/payments.yaml",
		Changes:    []string{"added GET /refunds"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Pin the generated ID and time so the output is stable.
	e.ID = "01KB0000000000000000000000"
	e.Time = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	out, err := json.Marshal(e)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"specversion":"1.0","id":"01KB0000000000000000000000","source":"mockops","type":"schema.changed","subject":"specs/payments.yaml","time":"2026-11-27T09:00:00Z","workspace":"payments","datacontenttype":"application/json","data":{"schema_type":"openapi","spec_path":"specs/payments.yaml","changes":["added GET /refunds"],"breaking":false}}
}

func ExampleMemoryBus() {
	bus := events.NewMemoryBus(events.MemoryConfig{})
	ctx := context.Background()

	_, err := bus.Subscribe(ctx, events.Filter{Types: []events.Type{events.TypeDriftThresholdExceeded}},
		func(ctx context.Context, e events.Event) error {
			fmt.Printf("%s: %s drifted %.1f%%\n", e.Workspace, e.Get("endpoint"), e.Get("drift_percent").Float())
			return nil
		})
	if err != nil {
		fmt.Println(err)
		return
	}

	drift, _ := events.DriftThresholdExceeded("payments", events.DriftThreshold{Endpoint: "/payments", DriftPercent: 12.5, Budget: 5})
	other, _ := events.ConfigChanged("payments", events.ConfigChange{Scope: "workspace", Keys: []string{"latency"}})
	_ = bus.Publish(ctx, other) // filtered out
	_ = bus.Publish(ctx, drift)

	// Shutdown delivers what is queued before it returns.
	if err := bus.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	st := bus.Stats()
	fmt.Println("published", st.Published, "delivered", st.Delivered)
	// Output:
	// payments: /payments drifted 12.5%
	// published 2 delivered 1
}

// A batch subscriber receives, in one call, every event that queued up
// while it was busy.
func ExampleMemoryBus_SubscribeBatch() {
	ctx := context.Background()
	bus := events.NewMemoryBus(events.MemoryConfig{})
	busy, release := make(chan struct{}), make(chan struct{})
	first := true
	_, err := bus.SubscribeBatch(ctx, events.Filter{}, 64, func(ctx context.Context, es []events.Event) error {
		for _, e := range es {
			fmt.Print(e.Get("n").Int(), " ")
		}
		fmt.Println("in one call")
		if first {
			first = false
			close(busy)
			<-release // busy, say committing the batch
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	publish := func(n int) {
		e, _ := events.New(events.TypeConfigChanged, "ws", map[string]int{"n": n})
		_ = bus.Publish(ctx, e)
	}
	publish(0)
	<-busy
	for n := 1; n <= 3; n++ {
		publish(n)
	}
	close(release)
	_ = bus.Shutdown(ctx)
	// Output:
	// 0 in one call
	// 1 2 3 in one call
}
