package coverage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// Store is what the collector needs of a store: additive rollups, and
// compare-and-swap state so that replicas agree on staleness and on drift
// crossings. Every store.Store is one.
type Store interface {
	store.Coverage
	store.State
}

// Defaults of Config.
const (
	DefaultBucket        = time.Hour
	DefaultFlushInterval = 10 * time.Second
	DefaultMaxKeys       = 1000
	DefaultMaxServices   = 256
	DefaultDriftWindow   = 24 * time.Hour
	DefaultAgingAfter    = 7 * 24 * time.Hour
	DefaultStaleAfter    = 30 * 24 * time.Hour

	DefaultScenarioHeader = "X-Mockops-Scenario"
	DefaultPersonaHeader  = "X-Mockops-Persona"
	DefaultRunHeader      = "X-Mockops-Run"
)

// Config configures a Collector. The zero value works: an in-memory
// store, no events, hourly buckets, flushes every 10 seconds.
type Config struct {
	// Store receives the rollups and keeps the staleness and drift state;
	// nil is a private in-memory store (store/memory). Replicas share one.
	Store Store
	// Publisher receives schema.changed and drift.threshold_exceeded; nil
	// publishes nothing.
	Publisher events.Publisher
	// Clock returns the time; nil is time.Now. The hot path never calls
	// it: it reads a coarse copy the Run loop refreshes.
	Clock func() time.Time
	// Bucket is the width of a time bucket; 0 means an hour.
	Bucket time.Duration
	// FlushInterval is how often Run flushes rollups; 0 means 10 seconds.
	FlushInterval time.Duration

	// Specs are the OpenAPI specs of services, by service name; SetSpec
	// sets or replaces one at run time.
	Specs map[string]*Spec
	// Workspace and Service attribute Middleware traffic outside a
	// federation route; Workspaces gives a service's workspace for events
	// about its contract when no traffic has named it.
	Workspace  string
	Service    string
	Workspaces map[string]string
	// Teams maps a workspace to its team, for the heatmap.
	Teams map[string]string
	// Personas and Scenarios are the defined ones: a defined persona with
	// no CI hit is a gap.
	Personas  []string
	Scenarios []string

	// DriftBudget is the drift (percent of compared branches) a service
	// may have; past it drift.threshold_exceeded is published, once per
	// crossing. 0 disables the check, and so does a nil Publisher (a
	// collector that cannot publish leaves crossings to one that can).
	DriftBudget float64
	// DriftHysteresis is how far (in percentage points) drift must fall
	// below the budget before a new crossing can be published; 0 means a
	// tenth of the budget.
	DriftHysteresis float64
	// DriftWindow is the span drift is computed over for the budget; 0
	// means 24 hours.
	DriftWindow time.Duration

	// AgingAfter and StaleAfter age a service's last refresh or
	// verification: fresh before AgingAfter (0: 7 days), aging before
	// StaleAfter (0: 30 days), stale_by_age after.
	AgingAfter time.Duration
	StaleAfter time.Duration

	// Header names; "" means the defaults (X-Mockops-Scenario,
	// X-Mockops-Persona, X-Mockops-Run).
	ScenarioHeader string
	PersonaHeader  string
	RunHeader      string
	// CIUserAgents are user agent substrings that mark CI traffic when no
	// run header says otherwise; CINetworks are client networks that do.
	CIUserAgents []string
	CINetworks   []netip.Prefix

	// MaxKeys caps the distinct values of each dimension (scenarios,
	// personas, CI runs, missing paths, undeclared statuses) per time
	// bucket; past it they count under OverflowKey. 0 means 1000.
	MaxKeys int
	// MaxServices caps the distinct (workspace, service) pairs; 0 means 256.
	MaxServices int

	// Logger receives flush failures; nil discards.
	Logger *slog.Logger
}

// Collector records what traffic exercised and turns it into the five
// metrics. Record, Middleware and Observe are the hot path: they allocate
// nothing once a key has been seen. See the package documentation.
type Collector struct {
	cfg Config
	st  Store
	pub events.Publisher
	now func() time.Time
	log *slog.Logger

	// coarse is the time in Unix nanoseconds, refreshed by tick (Run's
	// loop, every flush): the hot path reads it instead of the clock.
	coarse atomic.Int64

	// svcs maps (workspace, service) to its counters' home; services
	// guards its inserts and the spec of each service name.
	svcs     atomic.Pointer[svcTable]
	svcMu    sync.Mutex
	specs    map[string]*compiled // guarded by svcMu: current spec per name
	svcList  []*service           // guarded by svcMu
	overflow *service             // the service past MaxServices

	// gen is the generation (time bucket) being counted into.
	gen atomic.Pointer[generation]

	// flushMu serialises flushes; it guards retired and pending.
	flushMu sync.Mutex
	retired []*generation // replaced generations, drained until no writer is inside
	pending []store.Rollup
	// contracts remembers the last spec of each service's contract hash,
	// to summarise a change (guarded by contractMu).
	contractMu sync.Mutex
	contracts  map[string]*Spec

	ci ciResolver

	// life: Run's loop signals done when it ends; stop asks it to end.
	lifeMu  sync.Mutex
	running bool
	stop    chan struct{}
	done    chan struct{}
	stopped bool

	pool sync.Pool // *statusWriter for Middleware
}

var _ federation.Observer = (*Collector)(nil)

// NewCollector returns a collector. It starts no goroutine: Run does.
func NewCollector(cfg Config) (*Collector, error) {
	if cfg.Bucket <= 0 {
		cfg.Bucket = DefaultBucket
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.MaxServices <= 0 {
		cfg.MaxServices = DefaultMaxServices
	}
	if cfg.DriftWindow <= 0 {
		cfg.DriftWindow = DefaultDriftWindow
	}
	if cfg.AgingAfter <= 0 {
		cfg.AgingAfter = DefaultAgingAfter
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.StaleAfter < cfg.AgingAfter {
		return nil, fmt.Errorf("coverage: StaleAfter %v is shorter than AgingAfter %v", cfg.StaleAfter, cfg.AgingAfter)
	}
	if cfg.DriftBudget < 0 || cfg.DriftBudget > 100 {
		return nil, fmt.Errorf("coverage: DriftBudget %v is not a percentage", cfg.DriftBudget)
	}
	if cfg.DriftHysteresis <= 0 {
		cfg.DriftHysteresis = cfg.DriftBudget / 10
	}
	if cfg.ScenarioHeader == "" {
		cfg.ScenarioHeader = DefaultScenarioHeader
	}
	if cfg.PersonaHeader == "" {
		cfg.PersonaHeader = DefaultPersonaHeader
	}
	if cfg.RunHeader == "" {
		cfg.RunHeader = DefaultRunHeader
	}
	c := &Collector{
		cfg:       cfg,
		st:        cfg.Store,
		pub:       cfg.Publisher,
		now:       cfg.Clock,
		log:       cfg.Logger,
		specs:     map[string]*compiled{},
		contracts: map[string]*Spec{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if c.st == nil {
		c.st = memory.New()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// The header name is canonicalised once so that reading it per request
	// costs a map lookup and nothing else.
	c.cfg.ScenarioHeader = http.CanonicalHeaderKey(cfg.ScenarioHeader)
	c.cfg.PersonaHeader = http.CanonicalHeaderKey(cfg.PersonaHeader)
	c.cfg.RunHeader = http.CanonicalHeaderKey(cfg.RunHeader)
	c.ci = ciResolver{uaTokens: cfg.CIUserAgents, nets: cfg.CINetworks, max: cfg.MaxKeys}
	for name, s := range cfg.Specs {
		if s == nil {
			return nil, fmt.Errorf("coverage: nil spec for service %q", name)
		}
		c.specs[name] = compile(s)
		c.contracts[name] = s
	}
	c.overflow = &service{key: svcKey{ws: "", name: OverflowKey}, idx: 0}
	c.overflow.comp.Store(noSpec)
	c.svcList = []*service{c.overflow}
	t := c.now()
	c.coarse.Store(t.UnixNano())
	c.gen.Store(c.newGeneration(t))
	c.pool.New = func() any { return new(statusWriter) }
	return c, nil
}

// tick refreshes the coarse clock and, when the current bucket has ended,
// starts the next generation. It returns the time read.
func (c *Collector) tick() time.Time {
	t := c.now()
	c.coarse.Store(t.UnixNano())
	g := c.gen.Load()
	if !t.Before(g.end) {
		ng := c.newGeneration(t)
		if c.gen.CompareAndSwap(g, ng) {
			c.flushMu.Lock()
			c.retired = append(c.retired, g)
			c.flushMu.Unlock()
		}
	}
	return t
}

// tickEvery is how often Run refreshes the coarse clock: the precision of
// LastSeen and of the bucket a request lands in.
const tickEvery = 100 * time.Millisecond

// Run refreshes the coarse clock, seals time buckets and flushes rollups
// every FlushInterval until ctx ends (it returns ctx's error) or Shutdown
// is called (it returns nil). A failed flush is logged and retried at the
// next one. Counts not flushed when ctx ends stay in the collector until
// Shutdown or Flush writes them. Run may be called once.
func (c *Collector) Run(ctx context.Context) error {
	c.lifeMu.Lock()
	if c.running || c.stopped {
		c.lifeMu.Unlock()
		return errors.New("coverage: Run called twice or after Shutdown")
	}
	c.running = true
	c.lifeMu.Unlock()
	defer close(c.done)

	t := time.NewTicker(tickEvery)
	defer t.Stop()
	last := c.now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.stop:
			return nil
		case <-t.C:
			now := c.tick()
			if now.Sub(last) >= c.cfg.FlushInterval {
				last = now
				if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
					c.log.Warn("coverage: flush failed; retrying at the next one", "err", err)
				}
			}
		}
	}
}

// Shutdown stops Run (waiting for it, bounded by ctx) and flushes every
// count left, so that nothing recorded before Shutdown is lost. Requests
// recorded after it returns are not flushed. It is idempotent.
func (c *Collector) Shutdown(ctx context.Context) error {
	c.lifeMu.Lock()
	running := c.running
	if !c.stopped {
		c.stopped = true
		close(c.stop)
	}
	c.lifeMu.Unlock()
	if running {
		select {
		case <-c.done:
		case <-ctx.Done():
			return fmt.Errorf("coverage: shutdown: %w", ctx.Err())
		}
	}
	return c.Flush(ctx)
}

// Flush seals the buckets that ended, drains every counter into additive
// rollups, writes them to the store and, with a Publisher, checks the
// drift budget. Rollups a failed write could not store are kept and
// written by the next flush.
func (c *Collector) Flush(ctx context.Context) error {
	now := c.tick()
	c.flushMu.Lock()
	rs := c.drainLocked(now)
	if len(rs) > 0 {
		if err := c.st.AddRollups(ctx, rs); err != nil {
			c.pending = rs
			c.flushMu.Unlock()
			return fmt.Errorf("coverage: flush: %w", err)
		}
	}
	c.pending = nil
	c.flushMu.Unlock()
	// Without a publisher nothing could be published, and a crossing
	// recorded here would fence away the replica that can publish it.
	if c.cfg.DriftBudget > 0 && c.pub != nil {
		if err := c.checkDrift(ctx, now); err != nil {
			return fmt.Errorf("coverage: flush: %w", err)
		}
	}
	return nil
}
