// Package events defines MockOps platform events and the bus that carries
// them from the places that raise them (a mock server, the federation
// router, the coverage collector, a pipeline step) to the places that react
// (the pipeline engine, a host's own subscribers).
//
// # Events
//
// An Event is shaped like a CloudEvents 1.0 event and its JSON form is
// CloudEvents structured mode, so any CloudEvents SDK reads it. New fills a
// unique, time-sortable ID (the ULID layout) and the time; the typed
// constructors (SchemaChanged, ScenarioPublished, DriftThresholdExceeded,
// PromotionCompleted, WorkspaceCreated, PersonaPublished, ConfigChanged)
// document each platform payload. Get reads the payload with a gjson path.
// A platform payload carries every field even at its zero value (lists as
// []), so a filter may test any of them; only the optional strings
// (ScenarioPublication.Version, PersonaPublication.Version,
// Promotion.PromotionID and EntityVersion, WorkspaceCreation.Description
// and CreatedBy) are left out when empty: test those with has().
//
// Events raised in reaction to another carry its ID as the causationid
// extension and a depth (CausedBy, Depth), so chains can be bounded.
//
// # Buses
//
// A Bus is a Publisher, a Subscriber and Close. This package has the
// in-memory bus (NewMemoryBus; the zero MemoryConfig is ready to use);
// store/sqlstore has a durable one. Every Bus passes the suite in
// events/eventstest.
//
// # Concurrency properties of the memory bus
//
//   - Each subscription has its own bounded queue (MemoryConfig.QueueSize)
//     and one worker goroutine, so a subscriber sees events one at a time
//     (SubscribeBatch: those already queued, up to its max, in one call),
//     in the order they were published (for one publisher; concurrent
//     publishers interleave).
//   - A slow subscriber delays no one while its queue has room. When it is
//     full, the Overflow policy decides: Block (the default) waits for room,
//     honouring the publish context and Close; DropOldest and DropNewest
//     never wait and count what they drop in Stats.
//   - Publish allocates nothing and returns once every matching
//     subscription has the event queued.
//   - Shutdown stops intake and drains queued events within its context;
//     Close stops at once. Both wait for every worker to return, are
//     idempotent, and make Publish and Subscribe return ErrClosed.
//
// # Expected subscriber behaviour
//
// A handler should return promptly and watch its context, which ends when
// the subscription or the bus closes; Close waits for a running handler,
// so a handler may close its own Subscription but must not call the bus's
// Close or Shutdown (they would wait for it). A
// handler error is counted and logged (the memory bus does not redeliver);
// a handler panic is recovered, counted and logged, and the subscription
// goes on. Handlers share the event's Data and Extensions and must not
// modify them.
package events
