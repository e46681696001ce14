package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// Errors of the Engine callers branch on (wrapped; test with errors.Is).
var (
	// ErrNotLoaded: no pipeline of that name is loaded (none is stored, or
	// the stored one does not parse against this engine's step types).
	ErrNotLoaded = errors.New("pipeline: pipeline not loaded")
	// ErrCausationDepth: an event's causation chain is deeper than
	// Config.MaxDepth, so it starts no execution (and a step cannot emit it).
	ErrCausationDepth = errors.New("pipeline: causation chain too deep")
	// ErrStopped: the engine is shutting down or has stopped.
	ErrStopped = errors.New("pipeline: engine stopped")
)

// Config configures an Engine. Its zero value is a working single-process
// engine over an in-memory store, with no bus and no step types.
type Config struct {
	// Bus delivers the events that trigger pipelines, and is the Publisher
	// steps emit events with. Nil: executions start only through Trigger,
	// and a step's Publish fails. A bus with a SubscribeNamed method (the
	// durable bus of store/sqlstore) is subscribed as the durable consumer
	// Consumer, so a restarted engine resumes after the last event handled.
	Bus events.Bus
	// Store keeps definitions and executions. Nil: a new memory.Store.
	Store store.Store
	// Steps holds the step types definitions may use. Nil: an empty
	// registry, so every definition with a step fails validation.
	Steps *steps.Registry
	// Secrets resolves `${{ secrets.NAME }}`. Nil: steps.EnvSecrets{}.
	Secrets steps.SecretSource
	// Workers bounds the steps running at once across all executions; the
	// engine holds claims on at most 4*Workers executions. 0 means 8.
	Workers int
	// Logger receives records with pipeline, execution and step ids. Nil
	// discards.
	Logger *slog.Logger
	// Clock stamps step runs (StartedAt, FinishedAt). Nil: time.Now. Timers
	// (timeouts, backoff, polling) use the runtime's clock, so tests drive
	// them with testing/synctest.
	Clock func() time.Time
	// Owner names this engine in claims. "": a random id per engine.
	Owner string
	// Consumer is the durable consumer name used with a bus that has
	// SubscribeNamed. "": "mockops-pipeline-engine". Replicas sharing a
	// database must use distinct names (each receives every event; the
	// store's uniqueness on (pipeline, event) keeps executions once).
	Consumer string
	// Lease is how long a claim lasts without renewal; the engine renews
	// every Lease/3. 0 means 30s.
	Lease time.Duration
	// PollInterval is how often the engine looks for claimable executions
	// that no local wake-up announced (queued by another replica, or whose
	// lease expired) and reloads definitions another replica changed. 0
	// means 1s.
	PollInterval time.Duration
	// Grace is how long a step whose ctx ended may take to return before
	// it is abandoned and recorded timed_out (or cancelled). 0 means 5s.
	Grace time.Duration
	// MaxDepth is the deepest causation chain (events.Event.Depth) that
	// still triggers pipelines. 0 means 8; negative means no event raised
	// by a pipeline triggers anything.
	MaxDepth int
	// MaxOutputSize bounds the JSON of one step's outputs as stored;
	// larger outputs are stored as {"truncated":true,"size":N}. 0 means
	// 64 KiB.
	MaxOutputSize int

	// TracerProvider makes a span per execution and per step, parented on
	// the triggering event's W3C traceparent extension. Nil: no spans.
	TracerProvider trace.TracerProvider
	// Retention is how long finished executions are kept (by FinishedAt on
	// Clock) before Run's prune loop deletes them, in batches of
	// PruneBatch every PruneInterval. 0 keeps them forever. The store must
	// have a PruneExecutions method (memory and sqlstore do), or NewEngine
	// fails. When the store also keeps the durable bus's events (it has
	// PruneEvents, as sqlstore does), each prune round also deletes the
	// stored events published more than Retention ago that every named
	// consumer has handled, counted in Stats().PrunedEvents; an event a
	// durable consumer has not yet handled is kept however old.
	Retention time.Duration
	// PruneInterval is how often the prune loop runs. 0 means 1m.
	PruneInterval time.Duration
	// PruneBatch is how many executions one prune statement deletes. 0
	// means 500.
	PruneBatch int
	// OnRescue says what an engine does with an execution it claims after
	// another owner's lease on it expired (or was released): RescueResume
	// (the zero value) runs it from its first unfinished step, RescueFail
	// records it failed without running anything.
	OnRescue RescuePolicy
	// CompletionBatch is the most execution writes (step starts and
	// finishes, conclusions, lease renewals) the engine stores with one
	// store.UpdateExecutions call: the runs in flight hand their writes to
	// one writer that stores all that are pending at once, and each run
	// waits for its own write to be stored, so no completion is ever
	// acknowledged unstored, or lost on Shutdown. 0 means
	// DefaultCompletionBatch; 1 turns batching off (each run calls
	// UpdateExecution itself).
	CompletionBatch int
	// CompletionDelay is how long a batch may wait to fill up to
	// CompletionBatch before it is written. 0: no waiting, a batch is what
	// queued while the previous one was being written (which batches well
	// under load and adds no latency when idle).
	CompletionDelay time.Duration
	// IntakeWorkers is how many subscriptions to a Bus without
	// SubscribeNamed turn events into executions. Each subscription
	// takes the (pipeline, concurrency group) pairs that hash to it, so
	// the executions of one group are still created in publish order
	// while the creations of different groups overlap their store round
	// trips. Each subscription matches every event, which costs CPU, and
	// with batched intake (IntakeBatch) one subscription already carries
	// many creations per round trip: more pay only with a bus that hands
	// over one event at a time and a store whose commit is slow. A durable
	// bus keeps one consumer (its position is saved per name). 0 means 1.
	IntakeWorkers int
	// IntakeBatch is the most events an intake subscription takes at once
	// from a bus that hands over the events waiting for it together
	// (events.BatchSubscriber: the memory bus; the durable bus's
	// SubscribeNamedBatch, whose batches are what one read of the stream
	// returns). Their executions are
	// created with one store.CreateExecutions call, one commit in the SQL
	// store. A batch is only what queued while the previous one was being
	// stored, so it adds no latency when events are few. 0 means
	// DefaultIntakeBatch; 1 creates the executions of one event at a time.
	IntakeBatch int
}

// The defaults of Config.
const (
	DefaultWorkers       = 8
	DefaultConsumer      = "mockops-pipeline-engine"
	DefaultLease         = 30 * time.Second
	DefaultPollInterval  = time.Second
	DefaultGrace         = 5 * time.Second
	DefaultMaxDepth      = 8
	DefaultMaxOutputSize = 64 << 10
)

// Engine runs pipelines: it keeps definitions in the store, turns events
// into executions and runs them. See the package documentation ("The
// engine") for its semantics and state machine.
type Engine struct {
	cfg    Config // defaults applied; never changes
	st     store.Store
	parser *Parser
	log    *slog.Logger
	now    func() time.Time
	owner  string

	// snap is the loaded definitions, swapped whole by reload so readers
	// (intake, Test, claims) never lock.
	snap atomic.Pointer[snapshot]
	// reloadMu serialises reloads so an older listing never replaces a
	// newer one.
	reloadMu sync.Mutex

	// sem bounds the steps running at once (Workers tokens).
	sem chan struct{}

	// mu guards the fields below: the executions this engine runs and the
	// lifecycle flags.
	mu       sync.Mutex
	inflight map[string]*run
	reserved int           // room intake holds for executions it is creating claimed
	running  bool          // Run has been called
	stopping bool          // Shutdown called or Run's ctx ended: no intake, no claims
	stopCh   chan struct{} // closed when stopping starts
	hardCh   chan struct{} // closed when running executions must be interrupted
	doneCh   chan struct{} // closed when Run has returned
	readyCh  chan struct{} // closed when Run has loaded and subscribed
	// finished is closed and replaced whenever a local execution ends, to
	// wake Wait without polling.
	finished chan struct{}
	// wake asks the claim loop to claim now (buffered 1, never blocks).
	wake chan struct{}

	// runs counts execution goroutines; stepsRunning the step goroutines
	// alive, abandoned ones included.
	runs         sync.WaitGroup
	intakes      sync.WaitGroup // bus handler calls in progress (added under mu, while not stopping)
	stepsRunning atomic.Int64
	// groupWaited is set when a claimed execution was handed back to wait
	// for its concurrency group: the claim loop then stops claiming until
	// the next wake-up or poll, instead of claiming it again at once.
	groupWaited atomic.Bool
	// backlog is set when this engine left executions to claim (created
	// queued, handed back to wait, or a claim filled the room): only then
	// does a wake-up run a claim.
	backlog atomic.Bool
	stats   engineStats
	ops     ops // tracing and retention (engine_trace.go, engine_retention.go)
	// batch group-commits execution writes; nil when
	// Config.CompletionBatch is 1.
	batch *batcher
}

// snapshot is an immutable view of the loaded definitions.
type snapshot struct {
	byName  map[string]*loaded
	names   []string // sorted
	index   *Index
	invalid map[string]error // stored definitions that did not parse
}

type loaded struct {
	rec store.Pipeline // Source shared with def; never modified
	def *Definition
}

// NewEngine builds an engine from cfg with its defaults applied. It loads
// nothing until Run or a definition call; building it starts no goroutine.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		cfg.Store = memory.New()
	}
	if cfg.Steps == nil {
		cfg.Steps = steps.NewRegistry()
	}
	if cfg.Secrets == nil {
		cfg.Secrets = steps.EnvSecrets{}
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("pipeline: engine: Workers %d is negative", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Owner = "engine-" + hex.EncodeToString(b[:])
	}
	if cfg.Consumer == "" {
		cfg.Consumer = DefaultConsumer
	}
	if cfg.Lease < 0 || cfg.PollInterval < 0 || cfg.Grace < 0 || cfg.MaxOutputSize < 0 || cfg.CompletionBatch < 0 || cfg.CompletionDelay < 0 || cfg.IntakeWorkers < 0 || cfg.IntakeBatch < 0 {
		return nil, errors.New("pipeline: engine: Lease, PollInterval, Grace, MaxOutputSize, CompletionBatch, CompletionDelay, IntakeWorkers and IntakeBatch must not be negative")
	}
	if cfg.IntakeWorkers == 0 {
		cfg.IntakeWorkers = 1
	}
	if cfg.IntakeBatch == 0 {
		cfg.IntakeBatch = DefaultIntakeBatch
	}
	if cfg.CompletionBatch == 0 {
		cfg.CompletionBatch = DefaultCompletionBatch
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxOutputSize == 0 {
		cfg.MaxOutputSize = DefaultMaxOutputSize
	}
	ops, err := newOps(&cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		ops:      ops,
		cfg:      cfg,
		st:       cfg.Store,
		parser:   &Parser{Registry: cfg.Steps},
		log:      cfg.Logger,
		now:      cfg.Clock,
		owner:    cfg.Owner,
		sem:      make(chan struct{}, cfg.Workers),
		inflight: map[string]*run{},
		stopCh:   make(chan struct{}),
		hardCh:   make(chan struct{}),
		doneCh:   make(chan struct{}),
		readyCh:  make(chan struct{}),
		finished: make(chan struct{}),
		wake:     make(chan struct{}, 1),
	}
	e.backlog.Store(true)
	if cfg.CompletionBatch > 1 {
		e.batch = newBatcher(cfg.Store, cfg.CompletionBatch, cfg.CompletionDelay)
	}
	e.snap.Store(&snapshot{byName: map[string]*loaded{}, index: NewIndex(), invalid: map[string]error{}})
	return e, nil
}

// Owner returns the name this engine claims executions under.
func (e *Engine) Owner() string { return e.owner }

// validate parses src with the engine's step types and refuses what the
// engine cannot run as written.
func (e *Engine) validate(file string, src []byte) (*Definition, error) {
	d, err := e.parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Put validates d's source against the engine's step types and stores it
// as the new version of d.Name (whatever version is stored), then reloads.
// It returns the stored record, with its Version.
func (e *Engine) Put(ctx context.Context, d *Definition) (store.Pipeline, error) {
	if d == nil {
		return store.Pipeline{}, errors.New("pipeline: put: nil definition")
	}
	return e.PutSource(ctx, d.File, d.Source, store.AnyVersion)
}

// PutSource validates src and stores it if version is the stored version
// of its name (0: create; store.AnyVersion: unconditionally), then reloads.
// A definition that does not validate is not stored; the error is its
// ErrorList. A version mismatch wraps store.ErrConflict.
func (e *Engine) PutSource(ctx context.Context, file string, src []byte, version int64) (store.Pipeline, error) {
	d, err := e.validate(file, src)
	if err != nil {
		return store.Pipeline{}, err
	}
	rec, err := e.st.PutPipeline(ctx, store.Pipeline{
		Name: d.Name, Version: version, Source: d.Source, Enabled: d.Enabled, Workspace: d.Workspace,
	})
	if err != nil {
		return store.Pipeline{}, fmt.Errorf("pipeline: put %s: %w", d.Name, err)
	}
	if err := e.reload(ctx); err != nil {
		return rec, err
	}
	return rec, nil
}

// Remove deletes the pipeline name from the store and unloads it.
// Executions already created still run. A missing pipeline wraps
// store.ErrNotFound.
func (e *Engine) Remove(ctx context.Context, name string) error {
	if err := e.st.DeletePipeline(ctx, name, store.AnyVersion); err != nil {
		return fmt.Errorf("pipeline: remove %s: %w", name, err)
	}
	return e.reload(ctx)
}

// List returns the stored definitions, ordered by name.
func (e *Engine) List(ctx context.Context) ([]store.Pipeline, error) {
	ps, err := e.st.ListPipelines(ctx, store.PipelineQuery{})
	if err != nil {
		return nil, fmt.Errorf("pipeline: list: %w", err)
	}
	return ps, nil
}

// Get returns the stored definition name (wrapping store.ErrNotFound when
// there is none).
func (e *Engine) Get(ctx context.Context, name string) (store.Pipeline, error) {
	p, err := e.st.GetPipeline(ctx, name)
	if err != nil {
		return store.Pipeline{}, fmt.Errorf("pipeline: get %s: %w", name, err)
	}
	return p, nil
}

// Reload reads the stored definitions now. Run does so every PollInterval,
// which is how a change made through another replica reaches this one;
// Put and Remove reload at once.
func (e *Engine) Reload(ctx context.Context) error { return e.reload(ctx) }

func (e *Engine) reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	recs, err := e.st.ListPipelines(ctx, store.PipelineQuery{})
	if err != nil {
		return fmt.Errorf("pipeline: reload: %w", err)
	}
	old := e.snap.Load()
	next := &snapshot{byName: make(map[string]*loaded, len(recs)), invalid: map[string]error{}}
	plans := make([]*Plan, 0, len(recs))
	for _, rec := range recs {
		if l, ok := old.byName[rec.Name]; ok && l.rec.Version == rec.Version {
			next.byName[rec.Name] = l // unchanged: keep the compiled plan
		} else if err, ok := old.invalid[rec.Name]; ok && errors.Is(err, errVersion(rec.Version)) {
			next.invalid[rec.Name] = err
			continue
		} else {
			d, err := e.validate(rec.Name, rec.Source)
			if err != nil {
				e.log.Warn("pipeline: stored definition does not load", "pipeline", rec.Name, "version", rec.Version, "err", err)
				next.invalid[rec.Name] = &invalidError{version: rec.Version, err: err}
				continue
			}
			next.byName[rec.Name] = &loaded{rec: rec, def: d}
		}
		next.names = append(next.names, rec.Name)
		plans = append(plans, next.byName[rec.Name].def.plan)
	}
	slices.Sort(next.names)
	next.index = NewIndex(plans...)
	e.snap.Store(next)
	return nil
}

// invalidError remembers which version of a stored definition failed, so
// a reload does not parse it again until it changes.
type invalidError struct {
	version int64
	err     error
}

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }
func (e *invalidError) Is(target error) bool {
	v, ok := target.(errVersion)
	return ok && int64(v) == e.version
}

type errVersion int64

func (errVersion) Error() string { return "version" }

// plan returns the loaded definition name.
func (e *Engine) loadedPlan(name string) (*loaded, error) {
	s := e.snap.Load()
	if l, ok := s.byName[name]; ok {
		return l, nil
	}
	if err, ok := s.invalid[name]; ok {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotLoaded, name, err)
	}
	return nil, fmt.Errorf("%w: %s", ErrNotLoaded, name)
}
