package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/mockops/mockops/store"
)

// realityScope is the store.State scope of a federation's reality
// switches: one entry per switched service, its value the level as a JSON
// string. It is apart from the shared state so that mocks cannot list or
// overwrite it by accident.
func realityScope(federation string) string { return "federation-reality/" + federation }

// ErrUnknownService is returned (wrapped) for a service name the
// federation does not define.
var ErrUnknownService = errors.New("federation: unknown service")

// Realities returns the reality switches in effect (SetReality), by service.
func (r *Router) Realities() map[string]RealityLevel {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.realities)
}

// SetReality switches how service is served, over its definition and over
// the active scenario, until it is switched again; level "" removes the
// switch. The new snapshot is validated first (a level that needs an
// upstream the service lacks is refused), then the switch is stored, when
// a Store is set, then served, then announced with a config.changed
// event.
func (r *Router) SetReality(ctx context.Context, service string, level RealityLevel) error {
	r.switching.Lock()
	err := r.setReality(ctx, service, level)
	r.switching.Unlock()
	if err == nil { // announced unlocked, as in switchTo
		r.announce(ctx, r.Definition().Name, ChangedReality)
	}
	return err
}

func (r *Router) setReality(ctx context.Context, service string, level RealityLevel) error {
	r.mu.Lock()
	base, scenario := r.base, r.scenario
	next := maps.Clone(r.realities)
	r.mu.Unlock()
	if _, ok := base.Service(service); !ok {
		return fmt.Errorf("%w %q in federation %q", ErrUnknownService, service, base.Name)
	}
	if level == "" {
		delete(next, service)
	} else {
		if next == nil {
			next = make(map[string]RealityLevel)
		}
		next[service] = level
	}
	f, err := overlay(base, scenario, next)
	if err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("federation: reality %q for service %q: %w", level, service, err)
	}
	if r.cfg.Store != nil {
		scope := realityScope(base.Name)
		if level == "" {
			err = r.cfg.Store.DeleteState(ctx, scope, service, store.AnyVersion)
			if errors.Is(err, store.ErrNotFound) {
				err = nil
			}
		} else {
			v, _ := json.Marshal(string(level))
			_, err = r.cfg.Store.PutState(ctx, store.StateEntry{Scope: scope, Key: service, Value: v, Version: store.AnyVersion})
		}
		if err != nil {
			return fmt.Errorf("federation: store the reality of %q: %w", service, err)
		}
	}
	r.mu.Lock()
	err = r.swap(r.base, r.scenario, next)
	r.mu.Unlock()
	if err != nil {
		// The stored switch may now be ahead of what this Router serves;
		// Sync reports the same error until the definition allows it.
		return fmt.Errorf("federation: serve reality %q for service %q: %w", level, service, err)
	}
	return nil
}

// Sync applies the active scenario and the reality switches stored by
// other replicas (a no-op without a Store, or when nothing changed since
// the last Sync, by version). It switches the routing only: the replica
// that activated a scenario already switched the workspaces, which are
// the host's shared state. A Registry calls it on every config.changed
// event and poll.
func (r *Router) Sync(ctx context.Context) error {
	if r.cfg.Store == nil {
		return nil
	}
	r.switching.Lock()
	defer r.switching.Unlock()
	name := r.Definition().Name
	scenario, version, err := r.storedScenario(ctx, name)
	if err != nil {
		return err
	}
	entries, err := r.cfg.Store.ListState(ctx, realityScope(name))
	if err != nil {
		return fmt.Errorf("federation: read the reality switches of %q: %w", name, err)
	}
	var realities map[string]RealityLevel
	var stamp strings.Builder
	for _, e := range entries {
		var level string
		if err := json.Unmarshal(e.Value, &level); err != nil {
			return fmt.Errorf("federation: stored reality of %q/%q: %w", name, e.Key, err)
		}
		if realities == nil {
			realities = make(map[string]RealityLevel, len(entries))
		}
		realities[e.Key] = RealityLevel(level)
		stamp.WriteString(e.Key + "=" + strconv.FormatInt(e.Version, 10) + ";")
	}
	if version == r.actVersion && stamp.String() == r.realVersion && scenario == r.ActiveScenario() {
		return nil
	}
	r.mu.Lock()
	err = r.swap(r.base, scenario, realities)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("federation: apply the stored scenario %q of %q: %w", scenario, name, err)
	}
	r.actVersion, r.realVersion = version, stamp.String()
	return nil
}
