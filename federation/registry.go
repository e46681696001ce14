package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// DefaultPollInterval is how often a Registry rereads the store when
// RegistryConfig.PollInterval is zero.
const DefaultPollInterval = 30 * time.Second

// ErrScenarioActive is returned (wrapped) when a definition would be
// replaced by one without its active scenario, or deleted while a scenario
// is active: the workspaces would stay switched with nothing to switch
// them back. Deactivate the scenario first.
var ErrScenarioActive = errors.New("federation: a scenario is active")

// ErrInvalidDefinition is wrapped by the errors of definitions Put and
// Check refuse; a Parse error among them is an ErrorList (errors.As) with
// the position of every problem.
var ErrInvalidDefinition = errors.New("federation: invalid definition")

// ErrUnknownFederation is returned (wrapped) for a name the Registry does
// not serve.
var ErrUnknownFederation = errors.New("federation: unknown federation")

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// Store keeps the definitions, active scenarios, reality switches and
	// shared state; required.
	Store Store
	// Bus carries the config.changed events by which replicas tell each
	// other that a federation changed; nil leaves them to the poll. Use a
	// bus every replica shares (sqlstore's durable Bus).
	Bus events.Bus
	// Router is the template of every federation's RouterConfig. Its Store
	// is replaced by the Registry's, and its Publisher, when nil, by Bus.
	Router RouterConfig
	// PollInterval is how often Run rereads the store, so that a replica
	// that missed an event catches up (versions say what changed); 0 means
	// DefaultPollInterval, negative disables the poll.
	PollInterval time.Duration
	// Logger receives reload failures; nil discards.
	Logger *slog.Logger
}

// Registry keeps named federations in the store and serves each with its
// own Router. Definitions are validated before they are stored, and
// versioned (optimistic concurrency, as store.Federations). Every replica
// on the same store converges: Put and Delete apply locally at once;
// other replicas reload on the config.changed event and, should they miss
// it, on the next poll, by comparing versions.
//
// A Registry is safe for concurrent use. Run owns its goroutines; Close
// closes the Routers.
type Registry struct {
	cfg RegistryConfig
	log *slog.Logger

	// mu serialises every change of the set of routers (Put, Delete,
	// Sync), store reads included, so a reload can never apply an older
	// version over a newer one. It is not held to look a router up.
	mu sync.Mutex
	// view guards routers for lookups: held briefly, never across I/O.
	view    sync.RWMutex
	routers map[string]*served
	closed  bool // guarded by view

	stop    chan struct{} // closed by Shutdown
	stopped sync.Once
	done    chan struct{} // closed when Run returns
	running sync.Once
	ready   chan struct{} // closed once Run has subscribed
}

// served is one federation of the Registry.
type served struct {
	router  *Router
	version int64 // the stored definition's version
}

// NewRegistry builds a Registry and loads every stored federation. A
// stored definition that no longer loads (a RouterConfig it does not suit)
// is logged and left out rather than failing the Registry; Sync reports it.
func NewRegistry(ctx context.Context, cfg RegistryConfig) (*Registry, error) {
	if cfg.Store == nil {
		return nil, errors.New("federation: RegistryConfig.Store is required")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	cfg.Router.Store = cfg.Store
	if cfg.Router.Publisher == nil && cfg.Bus != nil {
		cfg.Router.Publisher = cfg.Bus
	}
	g := &Registry{cfg: cfg, log: cfg.Logger, routers: make(map[string]*served),
		stop: make(chan struct{}), done: make(chan struct{}), ready: make(chan struct{})}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if err := g.Sync(ctx); err != nil {
		if ctx.Err() != nil {
			g.Close()
			return nil, err
		}
		g.log.Warn("federation: registry loaded with errors", "error", err)
	}
	return g, nil
}

// Router returns the Router serving the federation name.
func (g *Registry) Router(name string) (*Router, bool) {
	g.view.RLock()
	defer g.view.RUnlock()
	s, ok := g.routers[name]
	if !ok {
		return nil, false
	}
	return s.router, true
}

// Names returns the federations served, sorted.
func (g *Registry) Names() []string {
	g.view.RLock()
	defer g.view.RUnlock()
	return slices.Sorted(maps.Keys(g.routers))
}

// Check parses and validates spec as the definition of name without
// storing it: what Put would refuse, Check refuses with the same error
// (an ErrorList with positions for the definition itself).
func (g *Registry) Check(ctx context.Context, name string, spec []byte) (*Federation, error) {
	f, err := Parse(name+".yaml", spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDefinition, err)
	}
	if f.Name != name {
		return nil, fmt.Errorf("%w: it is named %q, not %q", ErrInvalidDefinition, f.Name, name)
	}
	a, err := g.cfg.Store.GetActivation(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("federation: read the active scenario of %q: %w", name, err)
	case a.Scenario != "" && !slices.ContainsFunc(f.Scenarios, func(s Scenario) bool { return s.Name == a.Scenario }):
		return nil, fmt.Errorf("%w: %q in %q, and the new definition drops it", ErrScenarioActive, a.Scenario, name)
	}
	// What would be served: the definition under the layers in effect
	// here (a reality switch may need an upstream the new one lacks).
	served := f
	if rt, ok := g.Router(name); ok {
		if served, err = overlay(f, a.Scenario, rt.Realities()); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidDefinition, err)
		}
	}
	// The Router's own checks (mocks configured, upstreams allowed), on a
	// throwaway Router: it dials nothing.
	r, err := NewRouter(served, g.cfg.Router)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDefinition, err)
	}
	r.Close()
	return f, nil
}

// Put validates spec (YAML, as Parse reads it) as the definition of name
// and stores it if the stored version is version (0 to create,
// store.AnyVersion to skip the check; a mismatch fails with
// store.ErrConflict), then serves it and announces it. It returns the
// stored record.
func (g *Registry) Put(ctx context.Context, name string, spec []byte, version int64) (store.FederationRecord, error) {
	rec, stored, err := g.put(ctx, name, spec, version)
	if stored {
		// Announced after g.mu is released: a bus may block this publish
		// until a subscriber (this Registry's onEvent, which takes g.mu)
		// has room.
		g.announce(ctx, name)
	}
	return rec, err
}

func (g *Registry) put(ctx context.Context, name string, spec []byte, version int64) (rec store.FederationRecord, stored bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.view.RLock()
	closed := g.closed
	g.view.RUnlock()
	if closed {
		return store.FederationRecord{}, false, ErrClosed
	}
	if _, err := g.Check(ctx, name, spec); err != nil {
		return store.FederationRecord{}, false, err
	}
	rec, err = g.cfg.Store.PutFederation(ctx, store.FederationRecord{Name: name, Version: version, Spec: spec})
	if err != nil {
		return store.FederationRecord{}, false, fmt.Errorf("federation: store %q: %w", name, err)
	}
	// A failure here (Check made it unlikely) leaves the definition stored
	// but not served by this replica; the next Sync retries and reports it.
	return rec, true, g.apply(ctx, rec)
}

// Get returns the stored definition of name.
func (g *Registry) Get(ctx context.Context, name string) (store.FederationRecord, error) {
	rec, err := g.cfg.Store.GetFederation(ctx, name)
	if err != nil {
		return store.FederationRecord{}, fmt.Errorf("federation: get %q: %w", name, err)
	}
	return rec, nil
}

// List returns the stored definitions ordered by name.
func (g *Registry) List(ctx context.Context) ([]store.FederationRecord, error) {
	recs, err := g.cfg.Store.ListFederations(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: list: %w", err)
	}
	return recs, nil
}

// Delete removes the definition of name if its stored version is version
// (store.AnyVersion: whatever it is) and stops serving it. A federation
// with an active scenario is refused with ErrScenarioActive.
func (g *Registry) Delete(ctx context.Context, name string, version int64) error {
	if err := g.delete(ctx, name, version); err != nil {
		return err
	}
	g.announce(ctx, name) // after g.mu is released, as in Put
	return nil
}

func (g *Registry) delete(ctx context.Context, name string, version int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, err := g.cfg.Store.GetActivation(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("federation: read the active scenario of %q: %w", name, err)
	case a.Scenario != "":
		return fmt.Errorf("%w: %q in %q", ErrScenarioActive, a.Scenario, name)
	}
	if err := g.cfg.Store.DeleteFederation(ctx, name, version); err != nil {
		return fmt.Errorf("federation: delete %q: %w", name, err)
	}
	// The reality switches belong to the definition: a federation made
	// again under the name starts without them. (Its shared state is
	// data, and stays.)
	var errs []error
	switches, err := g.cfg.Store.ListState(ctx, realityScope(name))
	errs = append(errs, err)
	for _, e := range switches {
		if err := g.cfg.Store.DeleteState(ctx, e.Scope, e.Key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	g.remove(name)
	if err := errors.Join(errs...); err != nil {
		// The definition is gone, which is what was asked; a leftover
		// switch names a service a new definition may not have (ignored).
		g.log.Warn("federation: deleted, but not all its reality switches", "federation", name, "error", err)
	}
	return nil
}

// Sync brings every federation up to the store: definitions whose version
// changed are reloaded, deleted ones stop being served, and each Router
// applies the stored scenario and reality switches (Router.Sync). A
// definition that fails to load keeps its previous version serving; the
// errors of all federations are joined.
func (g *Registry) Sync(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	recs, err := g.cfg.Store.ListFederations(ctx)
	if err != nil {
		return fmt.Errorf("federation: list: %w", err)
	}
	var errs []error
	stored := make(map[string]bool, len(recs))
	for _, rec := range recs {
		stored[rec.Name] = true
		if err := g.apply(ctx, rec); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range g.Names() {
		if !stored[name] {
			g.remove(name)
		}
	}
	return errors.Join(errs...)
}

// SyncOne is Sync for the federation name only: what an event about it
// calls for.
func (g *Registry) SyncOne(ctx context.Context, name string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	rec, err := g.cfg.Store.GetFederation(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		g.remove(name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("federation: get %q: %w", name, err)
	}
	return g.apply(ctx, rec)
}

// apply serves rec: a new Router, or an Update of the existing one when
// the version changed; then the Router's stored layers. Called with g.mu
// held.
func (g *Registry) apply(ctx context.Context, rec store.FederationRecord) error {
	g.view.RLock()
	s, ok := g.routers[rec.Name]
	closed := g.closed
	g.view.RUnlock()
	if closed {
		return ErrClosed
	}
	if !ok || s.version != rec.Version {
		f, err := Parse(rec.Name+".yaml", rec.Spec)
		if err == nil && f.Name != rec.Name {
			err = fmt.Errorf("federation: definition is named %q, not %q", f.Name, rec.Name)
		}
		if err != nil {
			return fmt.Errorf("federation: stored definition %q version %d: %w", rec.Name, rec.Version, err)
		}
		if ok {
			if err := s.router.Update(f); err != nil {
				return fmt.Errorf("federation: reload %q version %d: %w", rec.Name, rec.Version, err)
			}
			g.view.Lock()
			s.version = rec.Version
			g.view.Unlock()
		} else {
			r, err := NewRouter(f, g.cfg.Router)
			if err != nil {
				return fmt.Errorf("federation: load %q version %d: %w", rec.Name, rec.Version, err)
			}
			s = &served{router: r, version: rec.Version}
			g.view.Lock()
			g.routers[rec.Name] = s
			g.view.Unlock()
		}
	}
	return s.router.Sync(ctx)
}

// remove stops serving name. Called with g.mu held.
func (g *Registry) remove(name string) {
	g.view.Lock()
	s, ok := g.routers[name]
	delete(g.routers, name)
	g.view.Unlock()
	if ok {
		s.router.Close()
	}
}

// announce publishes that the definition of name changed.
func (g *Registry) announce(ctx context.Context, name string) {
	if g.cfg.Bus == nil {
		return
	}
	ev, err := events.ConfigChanged("", events.ConfigChange{Scope: ConfigScope(name), Keys: []string{ChangedDefinition}})
	if err == nil {
		err = g.cfg.Bus.Publish(ctx, ev)
	}
	if err != nil {
		g.log.Warn("federation: publish config.changed", "federation", name, "error", err)
	}
}

// Run keeps the Registry in step with the store until ctx ends or
// Shutdown is called: it reloads a federation on each config.changed
// event about one (scope "federation/<name>") and rereads them all every
// PollInterval. It returns after its subscription is closed and its loop
// has ended: nil after Shutdown, ctx's error when ctx ended. It may be
// called once.
func (g *Registry) Run(ctx context.Context) error {
	first := false
	g.running.Do(func() { first = true })
	if !first {
		select {
		case <-g.stop: // Shutdown came first
			return nil
		default:
			return errors.New("federation: Registry.Run called twice")
		}
	}
	defer close(g.done)
	if g.cfg.Bus != nil {
		sub, err := g.cfg.Bus.Subscribe(ctx, events.Filter{Types: []events.Type{events.TypeConfigChanged}}, g.onEvent)
		if err != nil {
			return fmt.Errorf("federation: subscribe to config.changed: %w", err)
		}
		defer sub.Close()
	}
	close(g.ready)
	var tick <-chan time.Time
	if g.cfg.PollInterval > 0 {
		t := time.NewTicker(g.cfg.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-g.stop:
			return nil
		case <-tick:
			if err := g.Sync(ctx); err != nil && ctx.Err() == nil {
				g.log.Warn("federation: registry poll", "error", err)
			}
		}
	}
}

// Ready is closed once Run has subscribed to the bus: changes announced
// from then on reach this Registry.
func (g *Registry) Ready() <-chan struct{} { return g.ready }

// onEvent reloads the federation an event is about. A failure is logged
// and not returned: a bus would redeliver it forever, while the poll
// retries anyway.
func (g *Registry) onEvent(ctx context.Context, e events.Event) error {
	name, ok := strings.CutPrefix(e.Subject, "federation/")
	if !ok || name == "" {
		return nil
	}
	if err := g.SyncOne(ctx, name); err != nil && ctx.Err() == nil {
		g.log.Warn("federation: registry reload", "federation", name, "error", err)
	}
	return nil
}

// Shutdown stops Run and waits for it to return, bounded by ctx. It may
// be called before, during or after Run, and more than once; without Run
// it returns at once.
func (g *Registry) Shutdown(ctx context.Context) error {
	g.stopped.Do(func() { close(g.stop) })
	g.running.Do(func() { close(g.done) }) // Run has not started: it never will
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops serving every federation (Router.Close); later reloads fail
// with ErrClosed. Call it after Run has returned. It is idempotent.
func (g *Registry) Close() error {
	g.view.Lock()
	g.closed = true
	routers := g.routers
	g.routers = make(map[string]*served)
	g.view.Unlock()
	for _, s := range routers {
		s.router.Close()
	}
	return nil
}

// served returns the stored version the Registry serves of name.
func (g *Registry) served(name string) (int64, bool) {
	g.view.RLock()
	defer g.view.RUnlock()
	s, ok := g.routers[name]
	if !ok {
		return 0, false
	}
	return s.version, true
}
