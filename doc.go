// Package mockops is an embeddable library that turns a mock server into a
// platform. It holds no code; the capabilities live in its packages, which a
// host application (an existing mock server) imports and wires together:
//
//   - events: CloudEvents-shaped platform events (schema.changed,
//     drift.threshold_exceeded, ...) and the Bus that carries them.
//   - store: the persisted records and the Store interface, with an
//     in-memory adapter (store/memory) and a SQL one (store/sqlstore:
//     SQLite embedded by default, PostgreSQL for several replicas).
//   - steps: the contract of pipeline steps and the built-in ones.
//   - pipeline: YAML pipelines triggered by events, and their engine.
//   - federation: one http.Handler that routes each request to a service
//     and serves it from a mock, the real upstream, a blend or with chaos.
//   - coverage: what traffic exercised, as JSON, a CI gate and a dashboard.
//
// The library owns no main, no signals and no global state. A host wires it
// roughly like this (examples/quickstart is the runnable version):
//
//	bus := events.NewMemoryBus(events.MemoryConfig{})
//	defer bus.Close()
//	bus.Subscribe(ctx, events.Filter{Types: []events.Type{events.TypeSchemaChanged}},
//		func(ctx context.Context, e events.Event) error {
//			log.Printf("regenerate SDKs for %s", e.Get("spec_path"))
//			return nil
//		})
//	ev, _ := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: "payments.yaml"})
//	bus.Publish(ctx, ev)
package mockops
