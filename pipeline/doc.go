// Package pipeline turns YAML pipeline definitions into compiled,
// immutable plans (which events trigger them, which steps run in which
// order, and with what configuration) and runs them with an Engine.
//
// # Definitions
//
//	name: sdk-on-schema-change          # [a-z0-9-_.]
//	workspace: payments                 # optional scope
//	on:                                 # OR of triggers
//	  - event: schema.changed
//	    if: event.data.schema_type in ["openapi", "protobuf"]
//	  - event: drift.threshold_exceeded
//	    match: { data.endpoint: "/payments" }
//	concurrency: { group: "${{ event.workspace }}", mode: queue }
//	timeout: 30m                        # a whole execution's deadline (optional)
//	defaults:
//	  timeout: 5m
//	  retry: { attempts: 3, backoff: 2s, max_backoff: 1m }
//	  with: { notify: { channel: slack } }
//	steps:
//	  - id: sdk
//	    uses: regenerate_sdk
//	    with: { spec: "${{ event.data.spec_path }}" }
//	  - id: tell
//	    uses: notify
//	    if: always()
//	    with: { message: "SDKs for ${{ event.workspace }}: ${{ steps.sdk.outcome }}" }
//
// # Expressions
//
// `if:` and the inside of `${{ }}` are CEL. They are compiled, type-checked
// and cost-checked when the definition is parsed, never per event, and
// evaluated with the caller's context under a run-time cost limit. They
// read event (id, type, source, subject, workspace, org, time, data,
// extensions) and pipeline (name, workspace) everywhere; steps.<id>.outputs,
// .outcome and .conclusion, execution (id, attempt) and the status
// functions success(), failure(), cancelled() and always() in steps; and
// secrets.NAME only in `with:`. A trigger's `if:` must be a bool. A YAML
// boolean is the CEL literal: `if: true` behaves exactly as the expression
// true (in a step, like any condition that calls no status function, it
// runs only when the steps before it succeeded; write always() to run
// regardless), `if: false` never runs or matches. YAML reads a plain value
// that starts with '!' as a tag, so `if: !has(x)` must be quoted
// ('!has(x)'); the diagnostic says so. A
// `${{ }}` template that is the whole value keeps its type (list, map,
// number); mixed text interpolates (lists and maps as JSON). A missing
// field is an error, never an empty string: use has() or
// event.data.?x.orValue(...). A `${{ }}` ends at the first `}}` that CEL
// reads outside every token: one inside a string (quoted, triple-quoted or
// raw) or a nested map literal does not close it, nor does one inside a
// `//` comment, which runs to the end of its line.
//
// # Secrets
//
// A secret may be used only as it is: the whole value, an operand of +,
// an item of a list, a value of a map, a branch of ?: or an orValue()
// default. Anything else done to it (timestamp(secrets.X),
// event.data[secrets.X], bytes(), .upperAscii(), a comparison, a map
// key) is a load error, since a value computed from a secret could not
// be redacted. So Rendered.Redacted, which replaces the secrets' exact
// bytes (raw, JSON-escaped or quoted) in strings, bytes and map keys at any
// depth, leaves nothing of them, and Render's errors come back redacted
// the same way. A secret the SecretSource lacks fails the render
// (steps.ErrSecretNotFound), unless the step tests it with
// has(secrets.X) or reads it as secrets.?X: it is then left out, so
// has() is false and orValue() gives its default. Secret values must be
// valid UTF-8.
//
// `match:` is sugar for equality: each key is data.<path>, subject, source,
// org, workspace or extensions.<name>; a list value means any of its
// items; "3" (a string) never equals 3 (a number). Numbers compare by
// their exact decimal value: 3, 3.0 and 3e0 are equal, 9007199254740993
// and 9007199254740992 are not. Matches are checked before `if:`, and
// only `match:` is used by the Index. An event whose payload is not a JSON
// object fails every trigger it reaches with ErrInvalidPayload (a filter
// error, not "did not match").
//
// A trigger's `event:` is a platform type or a custom dotted type; a
// custom type within two edits of a platform type ("schema.chnged") is
// taken for a typo and rejected, so give custom types a prefix of their
// own (acme.deploy.finished).
//
// Steps wait for the step before them unless they declare `needs:` (a
// list, possibly empty). Step ids are CEL identifiers other than in, null,
// true and false, since expressions read them as steps.<id>; an
// expression may only read steps the step (transitively) needs. A step's
// `with:` is merged over `defaults.with.<type>` (the step's keys win,
// shallowly); a step without a timeout gets the defaults' or
// DefaultTimeout. A pipeline-level `timeout:` bounds a whole execution
// (Plan.Timeout; none when absent): a step ends at the earlier of its own
// deadline and the execution's. MockForge definitions have no
// pipeline-level timeout, only per-step ones.
//
// # Parsing and step types
//
// Parse(file, src) reports every problem at once, as an ErrorList of
// "file:line:col: message" (a CEL error points at the character inside
// the YAML scalar for plain and single-line quoted scalars; block scalars
// point at the scalar, and a syntax error also gives its column inside the
// expression). A file lists at most 100 problems, then how many more there
// are. A cycle of needs is reported once per group of steps that need
// each other, naming a bounded number of them. A source holds one YAML
// document: documents without content (a bare "---") are ignored, a
// second one with content is an error, and a broken one is reported
// wherever it is. Step types belong to the host, so Parse alone
// checks `uses:` only for syntax; Parser{Registry: r}.Parse also reports
// unknown step types and checks each `with:` against the type's config
// struct (see package steps). LoadDir and Parser.LoadDir parse every file
// of a directory (an fs.FS, such as an embed.FS) and report the problems of
// all of them together.
//
// # MockForge definitions
//
// Definitions in MockForge's format are detected (by triggers,
// step_defaults, or steps written with step_type, type or config) and
// translated into the same plan:
//
//   - triggers[].filters: an AND of equalities. workspace_id compares with
//     the event's workspace; every other key with the payload key of the
//     same name. A list value means any of its items (MockForge itself
//     never matches a list against a string; accepting it as any-of is a
//     MockOps extension, since no MockForge definition relies on a list
//     filter never matching).
//   - steps run in order; a step's name becomes its id, with characters
//     that cannot appear in steps.<id> replaced by '_' ("open-pr" ->
//     "open_pr").
//   - step_type (the code's spelling) or type (the docs'); config; timeout
//     in integer seconds; continue_on_error.
//   - step_defaults: per step type, merged under each step's config.
//   - handlebars {{name}} over MockForge's flat context become ${{ }}
//     expressions: workspace_id -> event.workspace, org_id -> event.org,
//     event_type -> event.type, event.name and name -> event.data.name.
//     A template that is only {{name}} renders a string, as handlebars
//     does. Unlike handlebars, a missing key is an error, not an empty
//     string: an empty token or branch name would fail later and further
//     from its cause.
//
// # Editor support
//
// JSONSchema returns a JSON Schema (draft 2020-12, kept in
// schema/pipeline.schema.json) of both formats: every key with a
// description, the concurrency modes, and patterns for names, event
// types, step ids and durations. An editor running yaml-language-server
// (VS Code's YAML extension, Neovim, JetBrains) completes and checks a
// file that names the schema on its first line, by URL or by a path
// relative to the file:
//
//	# yaml-language-server: $schema=https://raw.githubusercontent.com/mockops/mockops/main/pipeline/schema/pipeline.schema.json
//	name: sdk-on-schema-change
//
// A host can serve JSONSchema() itself (as application/schema+json) and
// point the line at its own URL. The schema checks structure only:
// expressions, step references and the DAG are Parse's, and `with:` is
// free-form because step types belong to the host.
//
// # Plans, matching and rendering
//
// A Plan is immutable and safe for concurrent use. Everything that reads
// an event takes an EventVars, built once per event with NewEventVars and
// shared by every plan and step: the payload is checked once and decoded
// at most once. Plan.Match(ctx, ev) says, per trigger, whether an event
// matched and why not, keeping "the filter failed" (TriggerResult.Err)
// apart from "did not match". Plan.Render renders a step's `with:` for an
// event and earlier steps' outputs, and fetches only the secrets the step
// reads; Rendered.With goes to the step, Rendered.Redacted is what may be
// stored. An Index over many plans narrows by event type, workspace and
// the first `match:` key before evaluating any CEL, so matching costs
// grow with the candidates for an event, not with the plans loaded;
// Index.Match(ctx, ev) returns the hits and, apart, the plans whose
// filter failed (*FilterError).
//
// # The engine
//
// NewEngine(Config{Bus, Store, Steps, Secrets, ...}) builds an Engine; every
// Config field has a working zero value (see Config). Definitions live in
// the store: Put and PutSource validate a definition against the engine's
// step types before storing it as a new version, Remove deletes it, List
// and Get read the records. Every engine reloads the stored definitions
// every PollInterval (and at once after its own Put or Remove), so a change
// made through one replica reaches the others without a restart; a stored
// definition that does not load here (a step type this host lacks) is
// logged and left out. Test(ctx, ev) is the dry run: one Decision per
// loaded pipeline, with the trigger verdicts and, for a match, each step's
// `if:` result and redacted rendered config.
//
// Run(ctx) subscribes to the bus (as the durable consumer Config.Consumer
// when the bus has SubscribeNamed, as store/sqlstore's does, so a
// restarted engine resumes after the last event it handled) and claims
// executions until Shutdown. Each matching (pipeline, event) becomes one
// stored execution; the store refuses a second one with ErrConflict, so a
// redelivered or duplicate event is a no-op. Trigger stores an execution
// by hand. Executions run only when an engine's Run claims them
// (ClaimExecutions, several per round trip, up to 4*Workers held at
// once). Intake creates the executions of the events waiting on the bus
// together, with one CreateExecutions write (Config.IntakeBatch), those
// it has room for already claimed, which spares their claim; the engine
// renews its
// leases every Lease/3 with the fenced UpdateExecution (the writes of all
// runs in flight group-committed with UpdateExecutions, see
// Config.CompletionBatch), and an execution whose owner died is claimed by another
// engine once its lease expires and resumed from its first unfinished
// step. Wait, Cancel and Executions read and steer executions wherever
// they run. Stats is this engine's counters; PipelineStats(ctx, name)
// summarises a pipeline's newest executions from the store (runs by
// status, success rate, p50/p95 duration), so it agrees on every replica.
//
// Steps start as soon as the steps they need have finished (Plan.Order,
// Step.Needs), independent steps in parallel, at most Workers steps at
// once across the engine. A step's `if:` (default success()) sees the
// status of the steps it transitively needs: failure() is true when one of
// them failed without continue_on_error, cancelled() after a Cancel or the
// pipeline timeout; a skipped step is not a failure. Each attempt runs
// under the step's timeout and the execution's (Plan.Timeout, measured
// from the first claim); a step still running Grace after its ctx ended is
// abandoned (its goroutine is left to return on its own, counted in Stats)
// and recorded timed_out. Failed and timed-out attempts are retried up to
// retry.attempts, after a backoff drawn uniformly from [0, min(max_backoff,
// backoff*2^(n-1))] (full jitter); errors marked steps.Permanent, render
// errors and panics are not retried. A panic is recovered, recorded as a
// failure with its value, and logged with its stack (never stored). Events
// a step publishes carry the causation of the execution's event
// (events.Event.CausedBy); one deeper than MaxDepth (default 8) is refused
// to the step, and such an event arriving on the bus starts nothing.
//
// Every change of a step is written with the whole execution: status,
// attempts, start and finish times, the rendered config with secrets
// redacted (Rendered.Redacted), outputs as JSON with secrets redacted
// (larger than MaxOutputSize: {"truncated":true,"size":N}, also what later
// steps see after a resume) and the error, redacted and made valid text.
// Outputs and errors may hold what an outside system answered: a secret
// it echoed is found as it is, quoted, or JSON-escaped the ways Go,
// JavaScript and Python encoders write it (also inside a text output that
// holds such JSON); one it encoded otherwise (base64, a hash) cannot be
// recognised, so steps should not store answers that may carry one.
//
// Concurrency groups: a pipeline without `concurrency:` has none, so its
// executions run side by side, bounded only by Workers (as GitHub Actions
// runs workflows that declare no concurrency), and cost no lock writes.
// With `concurrency:`, every execution belongs to the group
// Plan.ConcurrencyGroup renders for its event (without `group:`, one group
// named after the pipeline; mode queue unless `mode:` says). Groups are per
// pipeline: the same rendered name in two pipelines is two groups. The
// group is a compare-and-swap entry in the store's State (scope
// GroupScope, key "pipeline\x1fgroup") naming the holding execution, so it
// holds across replicas sharing the store; no in-process lock is
// involved. The holder keeps it while it runs, across an interruption and
// a resumption elsewhere; it deletes the entry when it ends, and a holder
// that has ended (or no longer exists) holds nothing, so an entry left by
// a dead engine is taken over as soon as its execution has finished.
// When a claimed execution finds its group held by another unfinished one:
//
//   - queue (default): it waits. Its claim is handed back at once (lease
//     ended, so any engine's next claim takes it; StartedAt cleared, so the
//     pipeline timeout counts from the claim that runs it; counted in
//     Stats.GroupWaits; it stays running, with no step started) and it is
//     tried again at the next claim round: when an execution ends on this
//     engine, or every PollInterval. None is dropped. A waiting execution
//     marks the group's entry (Waiting), and whoever takes a marked group
//     first checks that no older execution of it is unfinished, so once
//     one has waited the group goes to its executions in creation (ID)
//     order. An intake batch or a claim round that holds several
//     executions of one group marks it before they start, and one that
//     waits for an older execution marks it too. Executions that find the
//     group free and unmarked (none has waited: started apart while
//     nothing held it) race for it, and the others then wait in order;
//     that check lists the pipeline's unfinished executions, which is why
//     it is skipped when no one waits.
//   - cancel_in_progress: a newer execution cancels the holder (Cancel:
//     it is recorded cancelled) and any older unfinished one of its group,
//     waits for the holder to end as in queue, then runs; an execution
//     that finds a newer one holding the group is recorded cancelled
//     ("superseded: ...") without running a step.
//   - skip: it is recorded cancelled, error "skipped: concurrency group
//     ... is busy with execution ...", without running a step (skipped is
//     a step status only, so the execution's is cancelled).
//
// A group that fails to render fails the execution. Each wait costs a
// claim (Attempt grows by one per round) and taking a marked group a
// listing of the pipeline's unfinished executions; an unmarked group costs
// a read, a create and a delete of its entry per execution, and marking
// one for a batch or a claim round a read and a write.
//
// NewHandler serves the HTTP admin API of DESIGN.md over an engine, and
// NewPages the admin pages; both authorize every request through
// store/access.
//
// # Observability, retention and rescue
//
// Log records about an execution carry its "pipeline" and "execution"
// ids, those about a step (the engine's and the step's own, through
// steps.Input.Logger) its "step" id too. Stats counts triggers (match, no
// match, filter error), executions and steps by status, retries, rescues,
// pruned executions and bus events, and the engine's run queue
// (QueueDepth: step attempts waiting for a worker slot). With
// Config.TracerProvider each execution gets a span (kind consumer), a
// child of its event's W3C traceparent extension (ParseTraceparent, with
// the tracestate extension as its trace state), and each step a child span
// of it; failed and timed-out ones have an error status. A step's
// Input.Traceparent and the events it publishes carry its span's
// traceparent (the event's own without a provider), and those events its
// span's tracestate too (as the tracer inherited or updated it; the
// event's own, if it parses, without a provider), so a pipeline triggered
// by an emitted event continues the trace.
//
// Config.Retention deletes finished executions older than it, in batches
// (PruneBatch per store call) every PruneInterval, through the store's
// PruneExecutions (memory and sqlstore have it; NewEngine refuses a store
// without it). With a store that also keeps the durable bus's events
// (sqlstore's PruneEvents) it deletes, in the same round, the stored
// events older than it that every named consumer has handled: an event a
// durable consumer (this engine's Config.Consumer or any other) has yet
// to handle is kept however old. An execution taken over from an owner whose lease expired
// after it started running is resumed (RescueResume, the default) or
// recorded failed without running anything (Config.OnRescue = RescueFail).
//
// # Execution state machine
//
// Execution statuses (store.Status) and who moves them, under which fence:
//
//	(none)  -> queued     intake or Trigger: CreateExecution, unique on
//	                      (pipeline, event id)
//	(none)  -> running    intake with room: CreateExecutions with a
//	                      Claim, as created then claimed (Attempt 1), same
//	                      uniqueness
//	queued  -> running    ClaimExecutions by an engine: sets Owner, a new
//	                      Attempt (the fence) and LeaseUntil
//	running -> running    also the owner, at once after the claim, when
//	                      another unfinished execution holds the
//	                      concurrency group (queue, cancel_in_progress):
//	                      no step has run; the lease is ended and
//	                      StartedAt cleared, and the next claim round (a
//	                      new Attempt) tries again
//	running -> running    the owner's UpdateExecution (step progress, lease
//	                      renewal), accepted only for the same Owner and
//	                      Attempt; a lease left to expire, or released by a
//	                      Shutdown that had to interrupt, lets another
//	                      ClaimExecutions take it with a new Attempt, after
//	                      which the old owner's writes fail (ErrConflict)
//	                      and it stops touching the record
//	running -> succeeded  the owner, when every step concluded succeeded
//	                      or skipped
//	running -> failed     the owner, when a step concluded failed (or its
//	                      `if:` failed to evaluate), or its pipeline is no
//	                      longer loaded, or its version changed after a
//	                      step started
//	running -> timed_out  the owner, when the pipeline timeout passed
//	running -> cancelled  the owner, after CancelExecution set
//	                      CancelRequested (seen at once by a local Cancel,
//	                      else at the owner's next write; a newer
//	                      execution of a cancel_in_progress group sets it);
//	                      or at once after the claim, without running a
//	                      step, when its group is busy (skip) or held by a
//	                      newer execution (cancel_in_progress)
//	queued  -> cancelled  CancelExecution, by anyone
//
// Step statuses, written only by the execution's owner under the same
// fence: queued -> running (an attempt starts; Attempts counts them across
// claims) -> succeeded | failed | timed_out | cancelled; queued -> skipped
// (its `if:` was false, or the execution ended before it could start). A
// step left running by an interrupted or dead owner is run again by the
// next claim with the next attempt number (and so the next
// steps.Input.IdempotencyKey, execution/step/attempt); steps in a terminal state are
// never run again. Outcome is the step's own result, Conclusion the result
// after continue_on_error.
package pipeline
