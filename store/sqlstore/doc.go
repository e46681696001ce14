// Package sqlstore is the database/sql implementation of store.Store, for
// SQLite (embedded, the default) and PostgreSQL (several replicas sharing
// one database), plus a durable events.Bus whose events are rows of the
// same database.
//
// # DSNs
//
// Open takes one string:
//
//	sqlite:/var/lib/mockops/store.db     a database file, created if missing
//	sqlite:store.db?_pragma=synchronous(FULL)
//	                                     extra modernc.org/sqlite parameters
//	sqlite::memory:                      a private in-memory database
//	postgres://user:pass@host:5432/db    PostgreSQL in pgx syntax (also postgresql://)
//
// Any other scheme fails with ErrUnsupportedDSN. OpenConfig adds settings,
// notably Config.Schema, the PostgreSQL schema to use (created if missing).
//
// Open applies the embedded migrations before returning (see Migrate and
// Migrations); a database that records a migration this binary does not
// know was migrated by a newer MockOps and is refused with ErrSchemaTooNew,
// and a file that is not an SQLite database gives ErrNotDatabase and is left
// untouched.
//
// Least privilege: Open reads the recorded migrations first and runs no
// DDL when none is missing, so on PostgreSQL a role with only USAGE on the
// schema, SELECT, INSERT, UPDATE and DELETE on its tables and USAGE on its
// sequences can open a database an owner migrated. Config.ReadOnlySchema
// makes that the rule: Open verifies and never migrates, and a schema that
// lacks migrations fails with ErrSchemaOutdated, changed in nothing.
//
// # Dialects
//
// Every query is written once, with ? placeholders, and bound to the
// dialect when the Store opens. What differs:
//
//   - SQLite (modernc.org/sqlite, pure Go) runs in WAL mode with a busy
//     timeout, synchronous=NORMAL and foreign keys on; a DSN that sets one
//     of these pragmas itself keeps its own value. Transactions begin
//     IMMEDIATE and the writers of one process queue for a single write
//     slot, so concurrent writers wait rather than fail with SQLITE_BUSY;
//     readers run beside the writer. Statements are prepared once, when the
//     Store opens. Times are INTEGER microseconds since the Unix epoch (UTC).
//   - PostgreSQL (pgx through database/sql) stores times as timestamptz and
//     orders keys bytewise (COLLATE "C"). ClaimExecutions takes its rows
//     with FOR UPDATE SKIP LOCKED, so replicas claiming at once pass over
//     each other's rows instead of waiting on them.
//
// Every write commits durably (PostgreSQL waits for its WAL flush) before
// it returns. Where a commit costs a disk flush of a millisecond or more, a
// host that can lose the last few hundred milliseconds of writes when the
// PostgreSQL server crashes (the database itself stays consistent) may add
// synchronous_commit=off to the DSN; pgx passes it to the server.
//
// Both keep times in UTC at microsecond precision, payloads (events, step
// inputs and outputs, state values) as JSON text, and definitions as the
// bytes they were given. An execution, its steps included, is one row
// written by one statement, so a crash never leaves half of one.
//
// Claims: ClaimExecutions takes executions in ID order, as every adapter
// does, through a partial index over the queued and running rows, so a
// claim's cost follows the work in flight rather than the size of the
// backlog or the history. Leases are read and set on the database's clock
// (PostgreSQL's now(); SQLite's own clock), never a replica's, so replicas
// whose clocks disagree cannot take each other's running executions. SQLite
// is one host's file, so its writers share one clock anyway; the code path
// is the same.
//
// # Durable bus
//
// Store.Bus returns an events.Bus that stores every published event as a
// row with an increasing sequence number before Publish returns. Each
// subscription reads the rows after its position, in order, with its own
// goroutine, so a slow handler delays only its own subscription and never a
// publisher.
//
// Delivery is at least once. A handler that returns an error or panics gets
// the same event again after a short backoff (BusConfig.RetryBackoff,
// doubling up to MaxRetryBackoff), and the subscription does not move past
// it until it succeeds, unless BusConfig.MaxAttempts is set, after which
// the event is logged and skipped; a handler that Close, Shutdown or the
// subscription's end interrupts uses up no attempt. Each subscription sees the events of
// every publisher in the order they were stored; a publisher's own events
// in the order it published them.
//
// Consumer positions: Subscribe is anonymous and starts at the end of the
// stream, with its position only in memory. SubscribeNamed names a durable
// consumer whose position (the sequence number of the last event it
// handled) is saved in the database as it goes, at least every
// BusConfig.BatchSize events or 200ms, and when the subscription ends; a
// new subscription with the same name, in this process or after a restart,
// resumes right after it. After a Close or Shutdown only an event whose
// handler was interrupted is delivered again; after a crash, at most the
// events handled since the last save. A name is new the first time it is
// used, and starts at the then current end. The end is the last sequence
// number drawn, not the highest one stored, so a prune that empties the
// table moves no consumer; a saved position past it means the sequence was
// reset (TRUNCATE ... RESTART IDENTITY, a restore), and is logged as a
// warning. On PostgreSQL reading the sequence needs SELECT or USAGE on it
// (mockops_bus_events_seq_seq); a role without either uses the highest
// stored seq and skips that warning. Use one live subscription per
// name; two processes sharing a name would each receive every event.
// Components that take an events.Bus can look for durable subscriptions
// with a type assertion to an interface holding SubscribeNamed.
//
// Waking: PostgreSQL publishers NOTIFY, and each Bus keeps one dedicated
// connection LISTENing, so subscribers in every replica wake at once;
// polling (BusConfig.PollInterval) is the fallback if that connection is
// lost. On SQLite a publish wakes the subscriptions of every Bus of its
// Store at once, and other processes on the same file see it at their next
// poll.
//
// Ordering across publishers: on PostgreSQL a publisher takes a
// transaction-scoped advisory lock (one per schema) before it draws its
// sequence number and holds it until its commit, so sequence numbers become
// visible in increasing order and a subscription that has read up to N can
// never find a smaller number committing later. The price is that the
// publishes of one schema commit one at a time; nothing else (claims,
// rollups, other schemas) waits on that lock.
//
// Close ends every subscription at once and returns after their goroutines
// have ended and their positions are saved; Shutdown first lets them handle
// what is already stored, bounded by its ctx. Closing the Store closes its
// buses. Event rows are kept until the host prunes them: PruneEvents deletes
// those older than a retention window that every named consumer has handled
// (a pipeline engine with Config.Retention calls it with that window).
// DeleteConsumer retires a consumer that will not come back, so that its
// position stops holding events back.
package sqlstore
