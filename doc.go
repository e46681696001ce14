// Package mockops is an embeddable library that turns a mock server into a
// platform. It holds no code; the capabilities live in its packages, which a
// host application (an existing mock server) imports and wires together:
//
//   - events: CloudEvents-shaped platform events (schema.changed,
//     drift.threshold_exceeded, ...) and the Bus that carries them.
//   - store: the persisted records and the Store interface, with an
//     in-memory adapter (store/memory) and a SQL one (store/sqlstore:
//     SQLite embedded by default, PostgreSQL for several replicas).
//   - steps: the contract of pipeline steps (Step, typed configs, the
//     Registry a host owns, secrets) and the built-in steps (http, notify,
//     emit, auto_promote, regenerate_sdk, create_pr) with their outbound
//     client and egress policy.
//   - pipeline: YAML pipelines triggered by events, parsed and checked
//     into immutable plans, and the Engine that runs them: durably, once
//     per (pipeline, event), on one process or several sharing a store.
//   - federation: one http.Handler that routes each request to a service
//     and serves it from a mock workspace, the real upstream, a blend of
//     both (with mock/real comparisons: drift) or with chaos injected.
//   - coverage: OpenAPI documents compiled into operations, and the
//     Collector that turns traffic into scenario, persona, endpoint,
//     staleness and drift metrics, a CI gate and a dashboard.
//
// README.md keeps the status; docs/ holds the guides (pipelines,
// federation, coverage, operations).
//
// The library owns no main, no signals and no global state. A host wires it
// roughly like this (examples/quickstart is the runnable version):
//
//	bus := events.NewMemoryBus(events.MemoryConfig{})
//	defer bus.Shutdown(ctx) // delivers what is queued; Close would drop it
//	bus.Subscribe(ctx, events.Filter{Types: []events.Type{events.TypeSchemaChanged}},
//		func(ctx context.Context, e events.Event) error {
//			log.Printf("regenerate SDKs for %s", e.Get("spec_path"))
//			return nil
//		})
//	ev, _ := events.SchemaChanged("payments", events.SchemaChange{SchemaType: "openapi", Path: "payments.yaml"})
//	bus.Publish(ctx, ev)
package mockops
