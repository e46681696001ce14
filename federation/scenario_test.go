package federation

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

func realityOf(t *testing.T, r *Router, path string) RealityLevel {
	t.Helper()
	rt, ok := r.Lookup("GET", "shop.test", path)
	if !ok {
		t.Fatalf("Lookup(%q) found no route", path)
	}
	return rt.Reality
}

func TestActivateScenario(t *testing.T) {
	tests := []struct {
		name      string
		scenario  string
		fail      string // workspace whose activation fails
		panics    bool
		wantErr   bool
		wantCalls []string
		wantIn    map[string]string
		wantOrder RealityLevel // /orders after the call
		wantPay   RealityLevel // /payments after the call
	}{
		{
			name: "success in dependency order", scenario: "real-orders",
			wantCalls: []string{"activate auth-ws real-orders", "activate orders-ws real-orders", "activate payments-ws real-orders"},
			wantIn:    map[string]string{"auth-ws": "real-orders", "orders-ws": "real-orders", "payments-ws": "real-orders"},
			wantOrder: Real, wantPay: MockV3,
		},
		{
			name: "last workspace fails: all rolled back", scenario: "outage", fail: "payments-ws", wantErr: true,
			wantCalls: []string{"activate auth-ws outage", "activate orders-ws outage", "activate payments-ws outage",
				"deactivate orders-ws outage", "deactivate auth-ws outage"},
			wantIn:    map[string]string{},
			wantOrder: MockV3, wantPay: MockV3,
		},
		{
			name: "middle workspace panics: rolled back", scenario: "outage", fail: "orders-ws", panics: true, wantErr: true,
			wantCalls: []string{"activate auth-ws outage", "activate orders-ws outage", "deactivate auth-ws outage"},
			wantIn:    map[string]string{},
			wantOrder: MockV3, wantPay: MockV3,
		},
		{
			name: "unknown scenario changes nothing", scenario: "nope", wantErr: true,
			wantIn:    map[string]string{},
			wantOrder: MockV3, wantPay: MockV3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			st := openSQLite(t, filepath.Join(t.TempDir(), "fed.db"))
			bus := events.NewMemoryBus(events.MemoryConfig{})
			defer bus.Close()
			got := make(chan events.Event, 4)
			sub, err := bus.Subscribe(ctx, events.Filter{Types: []events.Type{events.TypeConfigChanged}}, func(_ context.Context, e events.Event) error {
				got <- e
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			act := &activator{fail: tt.fail, panics: tt.panics}
			r := newTestRouter(t, shop(t, "http://127.0.0.1:1"), RouterConfig{Mocks: &echoMocks{}, Scenarios: act, Store: st, Publisher: bus})
			before := r.Federation()

			err = r.ActivateScenario(ctx, tt.scenario)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ActivateScenario(%q) = %v; want error %v", tt.scenario, err, tt.wantErr)
			}
			in, calls := act.state()
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("activator calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIn, in); diff != "" {
				t.Errorf("workspaces' scenarios (-want +got):\n%s", diff)
			}
			if g := realityOf(t, r, "/orders/1"); g != tt.wantOrder {
				t.Errorf("orders reality = %s; want %s", g, tt.wantOrder)
			}
			if g := realityOf(t, r, "/payments/1"); g != tt.wantPay {
				t.Errorf("payments reality = %s; want %s", g, tt.wantPay)
			}
			a, aerr := st.GetActivation(ctx, "shop")
			if tt.wantErr {
				if r.Federation() != before {
					t.Error("a failed activation replaced the snapshot")
				}
				if r.ActiveScenario() != "" {
					t.Errorf("ActiveScenario() = %q after a failure; want none", r.ActiveScenario())
				}
				if !errors.Is(aerr, store.ErrNotFound) {
					t.Errorf("stored activation after a failure = %+v, %v; want none", a, aerr)
				}
				if err := r.DeactivateScenario(ctx); err != nil {
					t.Errorf("DeactivateScenario with none active = %v", err)
				}
				bus.Shutdown(context.Background()) // delivers what was published
				select {
				case e := <-got:
					t.Errorf("a failed activation or a no-op published %s %s", e.Type, e.Data)
				default:
				}
				return
			}
			if r.ActiveScenario() != tt.scenario || aerr != nil || a.Scenario != tt.scenario {
				t.Errorf("active = %q, stored = %+v, %v; want %q both", r.ActiveScenario(), a, aerr, tt.scenario)
			}
			select {
			case e := <-got:
				if e.Subject != ConfigScope("shop") || e.Get("keys.0").String() != ChangedScenario {
					t.Errorf("event subject %q data %s; want %q with key %q", e.Subject, e.Data, ConfigScope("shop"), ChangedScenario)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no config.changed event")
			}
		})
	}
}

func TestDeactivateScenario(t *testing.T) {
	ctx := t.Context()
	act := &activator{}
	r := newTestRouter(t, shop(t, "http://127.0.0.1:1"), RouterConfig{Mocks: &echoMocks{}, Scenarios: act})
	if err := r.DeactivateScenario(ctx); err != nil {
		t.Fatalf("DeactivateScenario with none active = %v", err)
	}
	if err := r.ActivateScenario(ctx, "outage"); err != nil {
		t.Fatal(err)
	}
	if got := realityOf(t, r, "/payments"); got != ChaosDriven {
		t.Fatalf("payments reality under outage = %s", got)
	}
	// Switching straight to another scenario moves every workspace.
	if err := r.ActivateScenario(ctx, "real-orders"); err != nil {
		t.Fatal(err)
	}
	if got := realityOf(t, r, "/payments"); got != MockV3 {
		t.Errorf("payments reality after switching to real-orders = %s; want mock_v3", got)
	}
	if err := r.DeactivateScenario(ctx); err != nil {
		t.Fatal(err)
	}
	in, calls := act.state()
	want := []string{
		"activate auth-ws outage", "activate orders-ws outage", "activate payments-ws outage",
		"activate auth-ws real-orders", "activate orders-ws real-orders", "activate payments-ws real-orders",
		"deactivate payments-ws real-orders", "deactivate orders-ws real-orders", "deactivate auth-ws real-orders",
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if len(in) != 0 || r.ActiveScenario() != "" || realityOf(t, r, "/orders") != MockV3 {
		t.Errorf("after deactivation: workspaces %v, active %q, orders %s", in, r.ActiveScenario(), realityOf(t, r, "/orders"))
	}
}

func TestScenarioSwitchFailureKeepsPrevious(t *testing.T) {
	ctx := t.Context()
	act := &activator{}
	st := openSQLite(t, filepath.Join(t.TempDir(), "fed.db"))
	r := newTestRouter(t, shop(t, "http://127.0.0.1:1"), RouterConfig{Mocks: &echoMocks{}, Scenarios: act, Store: st})
	if err := r.ActivateScenario(ctx, "real-orders"); err != nil {
		t.Fatal(err)
	}
	act.mu.Lock()
	act.fail = "payments-ws"
	act.mu.Unlock()
	if err := r.ActivateScenario(ctx, "outage"); err == nil {
		t.Fatal("ActivateScenario(outage) with a failing workspace succeeded")
	}
	in, _ := act.state()
	want := map[string]string{"auth-ws": "real-orders", "orders-ws": "real-orders", "payments-ws": "real-orders"}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("workspaces after a failed switch (-want +got):\n%s", diff)
	}
	a, err := st.GetActivation(ctx, "shop")
	if err != nil || a.Scenario != "real-orders" || r.ActiveScenario() != "real-orders" || realityOf(t, r, "/orders") != Real {
		t.Errorf("after a failed switch: stored %+v %v, active %q; want real-orders kept", a, err, r.ActiveScenario())
	}
}

func TestScenarioSeenByReplica(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) { testScenarioSeenByReplica(t, db.open(t)) })
	}
}

func testScenarioSeenByReplica(t *testing.T, open func() *sqlstore.Store) {
	ctx := t.Context()
	up := "http://127.0.0.1:1"
	r1 := newTestRouter(t, shop(t, up), RouterConfig{Mocks: &echoMocks{}, Store: open()})
	r2 := newTestRouter(t, shop(t, up), RouterConfig{Mocks: &echoMocks{}, Store: open()})
	if err := r1.ActivateScenario(ctx, "outage"); err != nil {
		t.Fatal(err)
	}
	if err := r1.SetReality(ctx, "auth", Real); err != nil {
		t.Fatal(err)
	}
	if got := r2.ActiveScenario(); got != "" {
		t.Fatalf("replica switched before Sync: %q", got)
	}
	if err := r2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r2.ActiveScenario(); got != "outage" {
		t.Errorf("replica's active scenario = %q; want outage", got)
	}
	if realityOf(t, r2, "/payments") != ChaosDriven || realityOf(t, r2, "/auth") != Real {
		t.Errorf("replica serves payments %s, auth %s; want chaos_driven, real", realityOf(t, r2, "/payments"), realityOf(t, r2, "/auth"))
	}
	// Deactivation and clearing the switch travel the same way.
	if err := r1.DeactivateScenario(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r1.SetReality(ctx, "auth", ""); err != nil {
		t.Fatal(err)
	}
	if err := r2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r2.ActiveScenario() != "" || realityOf(t, r2, "/payments") != MockV3 || realityOf(t, r2, "/auth") != MockV3 {
		t.Errorf("replica after deactivation: %q, payments %s, auth %s", r2.ActiveScenario(), realityOf(t, r2, "/payments"), realityOf(t, r2, "/auth"))
	}
}

func TestSetReality(t *testing.T) {
	tests := []struct {
		name    string
		service string
		level   RealityLevel
		wantErr bool
	}{
		{"mock to real", "orders", Real, false},
		{"no upstream", "payments", Real, true},
		{"unknown service", "nope", Real, true},
		{"unknown level", "orders", "imaginary", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRouter(t, shop(t, "http://127.0.0.1:1"), RouterConfig{Mocks: &echoMocks{}})
			before := r.Federation()
			err := r.SetReality(t.Context(), tt.service, tt.level)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SetReality(%q, %q) = %v; want error %v", tt.service, tt.level, err, tt.wantErr)
			}
			if tt.wantErr {
				if r.Federation() != before {
					t.Error("a refused switch replaced the snapshot")
				}
				return
			}
			if got := realityOf(t, r, "/"+tt.service); got != tt.level {
				t.Errorf("reality = %s; want %s", got, tt.level)
			}
			if r.Definition().Services[1].Reality != MockV3 {
				t.Error("SetReality modified the definition")
			}
		})
	}
}

func TestUpdateKeepsScenario(t *testing.T) {
	ctx := t.Context()
	up := "http://127.0.0.1:1"
	r := newTestRouter(t, shop(t, up), RouterConfig{Mocks: &echoMocks{}})
	if err := r.ActivateScenario(ctx, "real-orders"); err != nil {
		t.Fatal(err)
	}
	if err := r.Update(shop(t, up)); err != nil {
		t.Fatal(err)
	}
	if realityOf(t, r, "/orders") != Real {
		t.Error("Update dropped the active scenario's overrides")
	}
	bare := mustParse(t, "name: shop\nservices:\n  - {name: orders, base_path: /orders, reality: mock_v3}\n")
	if err := r.Update(bare); !errors.Is(err, ErrUnknownScenario) {
		t.Errorf("Update without the active scenario = %v; want ErrUnknownScenario", err)
	}
	other := mustParse(t, "name: other\nservices:\n  - {name: orders, base_path: /orders, reality: mock_v3}\n")
	withStore := newTestRouter(t, shop(t, up), RouterConfig{Mocks: &echoMocks{}, Store: openSQLite(t, filepath.Join(t.TempDir(), "s.db"))})
	if err := withStore.Update(other); err == nil {
		t.Error("Update renamed a federation whose state is stored under its name")
	}
}

// A replica that has not synced yet and is asked to deactivate a scenario
// another replica already deactivated serves without it.
func TestDeactivateOnStaleReplica(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "fed.db")
	act := &activator{}
	r1 := newTestRouter(t, shop(t, "http://127.0.0.1:1"), RouterConfig{Mocks: &echoMocks{}, Store: openSQLite(t, db), Scenarios: act})
	r2 := newTestRouter(t, shop(t, "http://127.0.0.1:1"), RouterConfig{Mocks: &echoMocks{}, Store: openSQLite(t, db), Scenarios: act})
	if err := r1.ActivateScenario(ctx, "outage"); err != nil {
		t.Fatal(err)
	}
	if err := r2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r1.DeactivateScenario(ctx); err != nil {
		t.Fatal(err)
	}
	_, before := act.state()
	if err := r2.DeactivateScenario(ctx); err != nil {
		t.Fatal(err)
	}
	if _, after := act.state(); len(after) != len(before) {
		t.Errorf("the stale replica switched workspaces again: %v", after[len(before):])
	}
	if r2.ActiveScenario() != "" || realityOf(t, r2, "/payments") != MockV3 {
		t.Errorf("stale replica after DeactivateScenario: %q, payments %s", r2.ActiveScenario(), realityOf(t, r2, "/payments"))
	}
}
