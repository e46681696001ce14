package federation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// ScenarioActivator is the host's side of a scenario: it switches the mock
// workspace of every service into a scenario and back. The Router calls it
// once per workspace, in dependency order for activation and in reverse
// order for deactivation, and undoes the workspaces already switched when
// one call fails. Both must honour ctx.
type ScenarioActivator interface {
	// ActivateScenario switches workspace into scenario (from whichever
	// scenario, or none, was active).
	ActivateScenario(ctx context.Context, workspace, scenario string) error
	// DeactivateScenario switches workspace out of scenario, back to its
	// normal behaviour.
	DeactivateScenario(ctx context.Context, workspace, scenario string) error
}

// ErrUnknownScenario is returned (wrapped) by ActivateScenario for a name
// the federation does not define.
var ErrUnknownScenario = errors.New("federation: unknown scenario")

// ConfigScope is the config.changed scope (and the event's subject) under
// which a federation's changes are announced: "federation/" + name.
func ConfigScope(federation string) string { return "federation/" + federation }

// The keys of the config.changed events of a federation.
const (
	ChangedDefinition = "definition" // the stored definition was put or deleted
	ChangedScenario   = "scenario"   // the active scenario changed
	ChangedReality    = "reality"    // a service's reality was switched
)

// ActiveScenario returns the scenario the Router serves, "" for none.
func (r *Router) ActiveScenario() string { return r.snap.Load().scenario }

// ActivateScenario switches the whole federation into the scenario name:
//
//  1. the routing snapshot with the scenario's overrides (reality, blend,
//     chaos; an override's blend or chaos replaces the service's whole
//     block) is built and validated, and nothing is changed if it fails;
//  2. the ScenarioActivator switches every workspace, dependencies first;
//  3. the activation is stored (one per federation), when a Store is set;
//  4. the new snapshot replaces the old one in one atomic swap;
//  5. a config.changed event is published, when a Publisher is set.
//
// If 2, 3 or 4 fails, the workspaces already switched are switched back
// (in reverse order), the stored activation is restored and the old
// snapshot keeps serving; the error says what failed, and joins any
// failure of the rollback itself. Activating the active scenario again
// switches the workspaces again (a way to repair a host that drifted).
func (r *Router) ActivateScenario(ctx context.Context, name string) error {
	base := r.Definition()
	if !slices.ContainsFunc(base.Scenarios, func(s Scenario) bool { return s.Name == name }) {
		return fmt.Errorf("%w %q in federation %q", ErrUnknownScenario, name, base.Name)
	}
	return r.switchTo(ctx, name)
}

// DeactivateScenario switches the federation out of its active scenario,
// with the same steps and rollback as ActivateScenario (the workspaces
// are switched back in reverse dependency order). Without an active
// scenario it does nothing.
func (r *Router) DeactivateScenario(ctx context.Context) error {
	return r.switchTo(ctx, "")
}

// switchTo runs switchScenario under r.switching and announces a change
// once the lock is released: a bus may block a publish until a subscriber
// has room, and a subscriber may be waiting for the lock (Sync).
func (r *Router) switchTo(ctx context.Context, next string) error {
	r.switching.Lock()
	name := r.Definition().Name
	before := r.ActiveScenario()
	err := r.switchScenario(ctx, r.Definition(), next)
	r.switching.Unlock()
	if err == nil && (before != "" || next != "") {
		r.announce(ctx, name, ChangedScenario)
	}
	return err
}

// switchScenario moves the federation from its active scenario to next
// ("" = none). Called with r.switching held.
func (r *Router) switchScenario(ctx context.Context, base *Federation, next string) error {
	prev, prevVersion, err := r.storedScenario(ctx, base.Name)
	if err != nil {
		return err
	}
	if prev == "" && next == "" {
		if r.ActiveScenario() == "" {
			return nil
		}
		// Another replica deactivated it and this Router has not synced
		// yet: the workspaces are switched back already; the routing
		// follows.
		r.mu.Lock()
		err := r.swap(r.base, "", r.realities)
		r.mu.Unlock()
		if err == nil {
			r.actVersion = prevVersion
		}
		return err
	}
	r.mu.Lock()
	realities := r.realities
	r.mu.Unlock()
	// Step 1: validate the layered federation before anything changes.
	f, err := overlay(base, next, realities)
	if err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("federation: scenario %q of %q does not validate: %w", next, base.Name, err)
	}
	// Step 2: the workspaces.
	undo, err := r.switchWorkspaces(ctx, base, prev, next)
	if err != nil {
		return errors.Join(err, undo())
	}
	// Step 3: the store.
	version := prevVersion
	if r.cfg.Store != nil {
		a, err := r.cfg.Store.PutActivation(ctx, store.ScenarioActivation{Federation: base.Name, Scenario: next, Version: prevVersion})
		if err != nil {
			err = fmt.Errorf("federation: store the active scenario of %q: %w", base.Name, err)
			return errors.Join(err, undo())
		}
		version = a.Version
	}
	// Step 4: the snapshot, over the latest definition (an Update may have
	// come meanwhile).
	r.mu.Lock()
	err = r.swap(r.base, next, r.realities)
	r.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("federation: serve scenario %q of %q: %w", next, base.Name, err)
		if r.cfg.Store != nil {
			a, rerr := r.cfg.Store.PutActivation(context.WithoutCancel(ctx), store.ScenarioActivation{Federation: base.Name, Scenario: prev, Version: version})
			if rerr != nil {
				err = errors.Join(err, fmt.Errorf("federation: restore the stored scenario of %q: %w", base.Name, rerr))
			} else {
				version = a.Version
			}
		}
		r.actVersion = version
		return errors.Join(err, undo())
	}
	r.actVersion = version
	return nil
}

// storedScenario returns the active scenario and its store version: the
// store's when there is one (another replica may have switched it), else
// this Router's.
func (r *Router) storedScenario(ctx context.Context, federation string) (string, int64, error) {
	if r.cfg.Store == nil {
		return r.ActiveScenario(), 0, nil
	}
	a, err := r.cfg.Store.GetActivation(ctx, federation)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", 0, nil
	case err != nil:
		return "", 0, fmt.Errorf("federation: read the active scenario of %q: %w", federation, err)
	}
	return a.Scenario, a.Version, nil
}

// switchWorkspaces asks the ScenarioActivator to move every workspace of
// f from prev to next. On failure it returns the error and a function
// that switches the workspaces already moved back, in reverse order; on
// success that function undoes them all (for a later step's failure).
func (r *Router) switchWorkspaces(ctx context.Context, f *Federation, prev, next string) (undo func() error, err error) {
	act := r.cfg.Scenarios
	if act == nil {
		return func() error { return nil }, nil
	}
	order := workspaces(f)
	if next == "" { // leaving: dependents first
		slices.Reverse(order)
	}
	to := func(ctx context.Context, ws, from, to string) error {
		if to == "" {
			return act.DeactivateScenario(ctx, ws, from)
		}
		return act.ActivateScenario(ctx, ws, to)
	}
	var done []string
	undo = func() error {
		// The rollback must run even when ctx is what failed the switch.
		uctx := context.WithoutCancel(ctx)
		var errs []error
		for _, ws := range slices.Backward(done) {
			if err := r.call(uctx, ws, func(ctx context.Context) error { return to(ctx, ws, next, prev) }); err != nil {
				errs = append(errs, fmt.Errorf("federation: roll back workspace %q to scenario %q: %w", ws, prev, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, ws := range order {
		if err := ctx.Err(); err != nil {
			return undo, fmt.Errorf("federation: switch scenario of %q: %w", f.Name, err)
		}
		if err := r.call(ctx, ws, func(ctx context.Context) error { return to(ctx, ws, prev, next) }); err != nil {
			return undo, fmt.Errorf("federation: switch workspace %q from scenario %q to %q: %w", ws, prev, next, err)
		}
		done = append(done, ws)
	}
	return undo, nil
}

// call runs one activator call, turning a panic into an error: host code
// must not leave the federation half switched.
func (r *Router) call(ctx context.Context, ws string, fn func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("federation: scenario activator panicked", "workspace", ws, "panic", p)
			err = fmt.Errorf("federation: scenario activator panicked: %v", p)
		}
	}()
	return fn(ctx)
}

// workspaces lists the distinct workspaces of f in dependency order.
func workspaces(f *Federation) []string {
	var out []string
	seen := make(map[string]bool)
	for _, s := range f.Order() {
		if ws := s.WorkspaceName(); !seen[ws] {
			seen[ws] = true
			out = append(out, ws)
		}
	}
	return out
}

// announce publishes that what the federation serves changed. A failure
// is logged, not returned: the change is stored, and replicas that miss
// the event find it on their next poll.
func (r *Router) announce(ctx context.Context, federation, key string) {
	if r.cfg.Publisher == nil {
		return
	}
	ev, err := events.ConfigChanged("", events.ConfigChange{Scope: ConfigScope(federation), Keys: []string{key}})
	if err == nil {
		err = r.cfg.Publisher.Publish(ctx, ev)
	}
	if err != nil {
		r.log.Warn("federation: publish config.changed", "federation", federation, "key", key, "error", err)
	}
}

// overlay returns f with the scenario's overrides and then the reality
// switches applied (a switch is the operator's latest word, so it wins),
// or f itself when there is nothing to apply. f is not modified.
func overlay(f *Federation, scenario string, realities map[string]RealityLevel) (*Federation, error) {
	if scenario == "" && len(realities) == 0 {
		return f, nil
	}
	g := *f
	g.Services = slices.Clone(f.Services)
	index := make(map[string]int, len(g.Services))
	for i := range g.Services {
		index[g.Services[i].Name] = i
	}
	if scenario != "" {
		i := slices.IndexFunc(f.Scenarios, func(s Scenario) bool { return s.Name == scenario })
		if i < 0 {
			return nil, fmt.Errorf("%w %q in federation %q (deactivate it before removing it)", ErrUnknownScenario, scenario, f.Name)
		}
		for _, o := range f.Scenarios[i].Services {
			j, ok := index[o.Service]
			if !ok {
				return nil, fmt.Errorf("federation: scenario %q overrides unknown service %q", scenario, o.Service)
			}
			s := &g.Services[j]
			if o.Reality != "" {
				s.Reality = o.Reality
			}
			if o.Blend != nil {
				s.Blend = o.Blend
			}
			if o.Chaos != nil {
				s.Chaos = o.Chaos
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(realities)) {
		j, ok := index[name]
		if !ok {
			// The service left the definition: its switch no longer applies.
			continue
		}
		g.Services[j].Reality = realities[name]
	}
	return &g, nil
}
