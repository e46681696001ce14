package federation

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

// replica is one registry of a test, on its own handle of a shared
// database, running until the test ends.
type replica struct {
	reg *Registry
	st  *sqlstore.Store
}

func newReplica(t *testing.T, db string, withBus bool, cfg RegistryConfig) *replica {
	t.Helper()
	return newReplicaOn(t, openSQLite(t, db), withBus, cfg)
}

func newReplicaOn(t *testing.T, st *sqlstore.Store, withBus bool, cfg RegistryConfig) *replica {
	t.Helper()
	cfg.Store = st
	if cfg.Router.Mocks == nil {
		cfg.Router.Mocks = &echoMocks{}
	}
	if withBus {
		bus := st.Bus(sqlstore.BusConfig{PollInterval: 10 * time.Millisecond})
		t.Cleanup(func() { bus.Close() })
		cfg.Bus = bus
	}
	reg, err := NewRegistry(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	return &replica{reg: reg, st: st}
}

// run runs the registry until the test ends.
func (p *replica) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.reg.Run(ctx) }()
	select {
	case <-p.reg.Ready():
	case err := <-errc:
		t.Fatalf("Run = %v before it was ready", err)
	}
	t.Cleanup(func() {
		if err := p.reg.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v; want nil after Shutdown", err)
		}
	})
}

// eventually waits for cond, which asynchronous delivery makes true: the
// wait is bounded, and what is asserted is the condition, not the time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shopSpec(upstream string) []byte { return fmt.Appendf(nil, shopSrc, upstream, upstream) }

func TestRegistryPut(t *testing.T) {
	up := "http://127.0.0.1:1"
	tests := []struct {
		name    string
		put     string
		spec    []byte
		version int64
		noMocks bool
		check   func(error) bool
	}{
		{"created", "shop", shopSpec(up), 0, false, func(err error) bool { return err == nil }},
		{"syntax error with position", "shop", []byte("name: shop\nservices: [\n"), 0, false, func(err error) bool {
			var l ErrorList
			return errors.As(err, &l) && l[0].Pos.Line > 0
		}},
		{"invalid with position", "shop", []byte("name: shop\nservices:\n  - {name: a, base_path: nope, reality: mock_v3}\n"), 0, false, func(err error) bool {
			var l ErrorList
			return errors.As(err, &l) && l[0].Pos.Line == 3
		}},
		{"name mismatch", "other", shopSpec(up), 0, false, func(err error) bool { return err != nil }},
		{"router refuses (mock without resolver)", "shop", []byte("name: shop\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n"), 0,
			true, func(err error) bool { return err != nil }},
		{"stale version", "shop", shopSpec(up), 7, false, func(err error) bool { return errors.Is(err, store.ErrConflict) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newReplica(t, filepath.Join(t.TempDir(), "reg.db"), false, RegistryConfig{})
			if tt.noMocks {
				p.reg.cfg.Router.Mocks = nil
			}
			rec, err := p.reg.Put(t.Context(), tt.put, tt.spec, tt.version)
			if !tt.check(err) {
				t.Fatalf("Put(%q) = %v", tt.put, err)
			}
			_, served := p.reg.Router(tt.put)
			if served != (err == nil) || (err == nil && rec.Version != 1) {
				t.Errorf("after Put: served %v, record %+v, err %v", served, rec, err)
			}
			if _, gerr := p.st.GetFederation(t.Context(), tt.put); (gerr == nil) != (err == nil) {
				t.Errorf("stored = %v after Put error %v", gerr, err)
			}
		})
	}
}

func TestRegistryReplicas(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) { testRegistryReplicas(t, db.open(t)) })
	}
}

// testRegistryReplicas: with the poll off, the durable bus alone carries
// every change from one replica to the other.
func testRegistryReplicas(t *testing.T, open func() *sqlstore.Store) {
	ctx := t.Context()
	act := &activator{}
	a := newReplicaOn(t, open(), true, RegistryConfig{Router: RouterConfig{Mocks: &echoMocks{}, Scenarios: act}, PollInterval: -1})
	b := newReplicaOn(t, open(), true, RegistryConfig{PollInterval: -1})
	a.run(t)
	b.run(t)

	rec, err := a.reg.Put(ctx, "shop", shopSpec("http://127.0.0.1:1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "replica b to serve shop", func() bool { _, ok := b.reg.Router("shop"); return ok })

	// A new version replaces the Router's snapshot on the other replica.
	v2 := append(shopSpec("http://127.0.0.1:2"), []byte("description: v2\n")...)
	if _, err := a.reg.Put(ctx, "shop", v2, rec.Version); err != nil {
		t.Fatal(err)
	}
	rb, _ := b.reg.Router("shop")
	eventually(t, "replica b to load version 2", func() bool { return rb.Federation().Description == "v2" })

	// A scenario activated on a reaches b's routing.
	ra, _ := a.reg.Router("shop")
	if err := ra.ActivateScenario(ctx, "real-orders"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replica b to serve the scenario", func() bool { return rb.ActiveScenario() == "real-orders" })
	if rt, _ := rb.Lookup("GET", "", "/orders"); rt.Reality != Real {
		t.Errorf("replica b routes orders as %s under real-orders; want real", rt.Reality)
	}
	// Deletion is refused while the scenario is active, then travels too.
	if err := a.reg.Delete(ctx, "shop", store.AnyVersion); !errors.Is(err, ErrScenarioActive) {
		t.Errorf("Delete with an active scenario = %v; want ErrScenarioActive", err)
	}
	if err := ra.DeactivateScenario(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.reg.Delete(ctx, "shop", store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replica b to drop shop", func() bool { _, ok := b.reg.Router("shop"); return !ok })
}

// TestRegistrySelfHeal: a replica that hears no event (no bus) catches up
// on its next poll, by version, and a poll with nothing new changes
// nothing.
func TestRegistrySelfHeal(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "reg.db")
	a := newReplica(t, db, false, RegistryConfig{})
	b := newReplica(t, db, false, RegistryConfig{})
	rec, err := a.reg.Put(ctx, "shop", shopSpec("http://127.0.0.1:1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.reg.Router("shop"); ok {
		t.Fatal("b serves shop before any poll")
	}
	if err := b.reg.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	rb, ok := b.reg.Router("shop")
	if !ok {
		t.Fatal("b does not serve shop after Sync")
	}
	snap := rb.Federation()
	if err := b.reg.Sync(ctx); err != nil || rb.Federation() != snap {
		t.Errorf("a Sync with nothing new = %v and replaced the snapshot %v", err, rb.Federation() != snap)
	}
	ra, _ := a.reg.Router("shop")
	if err := ra.ActivateScenario(ctx, "outage"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.Put(ctx, "shop", append(shopSpec("http://127.0.0.1:1"), "description: v2\n"...), rec.Version); err != nil {
		t.Fatal(err)
	}
	if err := b.reg.SyncOne(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if rb.Federation().Description != "v2" || rb.ActiveScenario() != "outage" {
		t.Errorf("after the poll: description %q, scenario %q; want v2 and outage", rb.Federation().Description, rb.ActiveScenario())
	}
	// A definition dropping the active scenario is refused.
	if _, err := a.reg.Put(ctx, "shop", []byte("name: shop\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n"), store.AnyVersion); !errors.Is(err, ErrScenarioActive) {
		t.Errorf("Put without the active scenario = %v; want ErrScenarioActive", err)
	}
}

// TestRegistryPoll: Run's poll alone (no bus) picks up another replica's
// change.
func TestRegistryPoll(t *testing.T) {
	db := filepath.Join(t.TempDir(), "reg.db")
	a := newReplica(t, db, false, RegistryConfig{})
	b := newReplica(t, db, false, RegistryConfig{PollInterval: 10 * time.Millisecond})
	b.run(t)
	if _, err := a.reg.Put(t.Context(), "shop", shopSpec("http://127.0.0.1:1"), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the poll to load shop", func() bool { _, ok := b.reg.Router("shop"); return ok })
}

func TestRegistryLifecycle(t *testing.T) {
	if _, err := NewRegistry(t.Context(), RegistryConfig{}); err == nil {
		t.Error("NewRegistry without a Store succeeded")
	}
	p := newReplica(t, filepath.Join(t.TempDir(), "reg.db"), true, RegistryConfig{})
	if err := p.reg.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown before Run = %v", err)
	}
	if err := p.reg.Run(t.Context()); err != nil {
		t.Errorf("Run after Shutdown = %v; want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	q := newReplica(t, filepath.Join(t.TempDir(), "reg2.db"), true, RegistryConfig{})
	if err := q.reg.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with an ended ctx = %v; want context.Canceled", err)
	}
	if err := q.reg.Run(t.Context()); err == nil {
		t.Error("a second Run succeeded")
	}
	q.reg.Close()
	if _, err := q.reg.Put(t.Context(), "shop", shopSpec("http://127.0.0.1:1"), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v; want ErrClosed", err)
	}
}

// TestRegistryPutChecksLayers: a definition is checked under the reality
// switches in effect, and a deletion takes the switches with it.
func TestRegistryPutChecksLayers(t *testing.T) {
	ctx := t.Context()
	p := newReplica(t, filepath.Join(t.TempDir(), "reg.db"), false, RegistryConfig{})
	rec, err := p.reg.Put(ctx, "shop", shopSpec("http://127.0.0.1:1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := p.reg.Router("shop")
	if err := rt.SetReality(ctx, "orders", Real); err != nil {
		t.Fatal(err)
	}
	noUpstream := []byte("name: shop\nservices:\n  - {name: orders, base_path: /orders, reality: mock_v3}\n")
	if _, err := p.reg.Put(ctx, "shop", noUpstream, rec.Version); !errors.Is(err, ErrInvalidDefinition) {
		t.Fatalf("Put of a definition the switch cannot serve = %v; want ErrInvalidDefinition", err)
	}
	if got, _ := p.st.GetFederation(ctx, "shop"); got.Version != rec.Version {
		t.Errorf("the refused definition was stored: version %d", got.Version)
	}
	if err := p.reg.Delete(ctx, "shop", rec.Version); err != nil {
		t.Fatal(err)
	}
	if left, err := p.st.ListState(ctx, realityScope("shop")); err != nil || len(left) != 0 {
		t.Errorf("reality switches after Delete = %v, %v; want none", left, err)
	}
	if _, err := p.reg.Put(ctx, "shop", noUpstream, 0); err != nil {
		t.Errorf("Put after Delete = %v; the old switch must not apply", err)
	}
}

// A stored definition this replica cannot serve (written by a replica
// with another RouterConfig, or by hand) is left out and reported, and
// the others are served.
func TestRegistryUnservableDefinition(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "reg.db")
	st := openSQLite(t, db)
	if _, err := st.PutFederation(ctx, store.FederationRecord{Name: "broken", Spec: []byte("name: broken\nservices: nope\n")}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutFederation(ctx, store.FederationRecord{Name: "shop", Spec: shopSpec("http://127.0.0.1:1")}); err != nil {
		t.Fatal(err)
	}
	p := newReplica(t, db, false, RegistryConfig{})
	if got := p.reg.Names(); len(got) != 1 || got[0] != "shop" {
		t.Errorf("Names() = %v; want [shop]", got)
	}
	var list ErrorList
	if err := p.reg.Sync(ctx); !errors.As(err, &list) {
		t.Errorf("Sync = %v; want the broken definition's ErrorList", err)
	}
}
