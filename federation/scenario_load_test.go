package federation

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestScenarioSwitchUnderLoad switches scenarios and reality levels,
// fails activations (rolled back) and reloads the definition while
// clients hammer the router: every request must succeed and reach the
// service its path names, by its mock or its upstream. Run with -race.
func TestScenarioSwitchUnderLoad(t *testing.T) {
	up := echoUpstream(t)
	act := &activator{fail: "payments-ws", only: "outage"} // outage would answer 503: it must never apply
	r := newTestRouter(t, shop(t, up.URL), RouterConfig{Mocks: &echoMocks{}, Scenarios: act})
	srv := front(t, r)
	client := newClient(t)
	ctx := t.Context()

	var stop atomic.Bool
	var switches atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		steps := []func() error{
			func() error { return r.ActivateScenario(ctx, "real-orders") },
			func() error { return r.SetReality(ctx, "auth", Real) },
			func() error { return r.ActivateScenario(ctx, "slow") },
			func() error { return r.Update(shop(t, up.URL)) },
			func() error { return r.SetReality(ctx, "auth", "") },
			func() error { return r.DeactivateScenario(ctx) },
		}
		for i := 0; !stop.Load(); i++ {
			if err := steps[i%len(steps)](); err != nil {
				t.Errorf("step %d: %v", i%len(steps), err)
				return
			}
			if err := r.ActivateScenario(ctx, "outage"); err == nil {
				t.Error("ActivateScenario(outage) succeeded with a failing workspace")
				return
			}
			switches.Add(1)
		}
	})
	paths := []struct{ path, service string }{{"/orders/1", "orders"}, {"/auth/2", "auth"}, {"/payments/3", "payments"}}
	var requests atomic.Int64
	var clients sync.WaitGroup
	for w := range 4 {
		clients.Go(func() {
			for i := range 150 {
				p := paths[(w+i)%len(paths)]
				resp, err := client.Get(srv.URL + p.path)
				if err != nil {
					t.Errorf("GET %s: %v", p.path, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s = %d %s during scenario switches", p.path, resp.StatusCode, body)
					return
				}
				e := decodeEcho(t, body)
				okMock := e.Service == p.service && e.Workspace == p.service+"-ws"
				okReal := p.service != "payments" && e.Workspace == "upstream" && e.RawPath == p.path
				if !okMock && !okReal {
					t.Errorf("GET %s reached %+v; want service %s", p.path, e, p.service)
					return
				}
				requests.Add(1)
			}
		})
	}
	clients.Wait()
	stop.Store(true)
	wg.Wait()
	if switches.Load() < 2 || requests.Load() != 600 {
		t.Errorf("%d switches, %d good requests; want >= 2 switches during 600 requests", switches.Load(), requests.Load())
	}
	t.Logf("%d switch rounds, %d requests", switches.Load(), requests.Load())
}

// TestRegistryReloadUnderLoad: replica b serves traffic while replica a
// replaces the definition and switches scenarios, and b follows by Sync
// (what its events and poll call): zero failed requests on b.
func TestRegistryReloadUnderLoad(t *testing.T) {
	up := echoUpstream(t)
	db := filepath.Join(t.TempDir(), "load.db")
	a := newReplica(t, db, false, RegistryConfig{})
	b := newReplica(t, db, false, RegistryConfig{})
	ctx := t.Context()
	rec, err := a.reg.Put(ctx, "shop", shopSpec(up.URL), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.reg.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	srv := front(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := b.reg.Router("shop")
		if !ok {
			http.Error(w, "shop is not served", http.StatusServiceUnavailable)
			return
		}
		rt.ServeHTTP(w, r)
	}))
	client := newClient(t)

	var stop atomic.Bool
	var rounds atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		ra, _ := a.reg.Router("shop")
		version := rec.Version
		for i := 0; !stop.Load(); i++ {
			spec := shopSpec(up.URL)
			if i%2 == 0 {
				spec = append(spec, "description: even\n"...)
			}
			r, err := a.reg.Put(ctx, "shop", spec, version)
			if err != nil {
				t.Errorf("Put: %v", err)
				return
			}
			version = r.Version
			scenario := ra.DeactivateScenario
			if i%3 != 0 {
				scenario = func(ctx context.Context) error { return ra.ActivateScenario(ctx, "real-orders") }
			}
			if err := scenario(ctx); err != nil {
				t.Errorf("scenario switch: %v", err)
				return
			}
			rounds.Add(1)
		}
	})
	wg.Go(func() {
		for !stop.Load() {
			if err := b.reg.Sync(ctx); err != nil {
				t.Errorf("Sync: %v", err)
				return
			}
		}
	})
	paths := []struct{ path, service string }{{"/orders/1", "orders"}, {"/auth/2", "auth"}, {"/payments/3", "payments"}}
	var requests atomic.Int64
	var clients sync.WaitGroup
	for w := range 4 {
		clients.Go(func() {
			for i := range 100 {
				p := paths[(w+i)%len(paths)]
				resp, err := client.Get(srv.URL + p.path)
				if err != nil {
					t.Errorf("GET %s: %v", p.path, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s = %d %s during reloads", p.path, resp.StatusCode, body)
					return
				}
				requests.Add(1)
			}
		})
	}
	clients.Wait()
	stop.Store(true)
	wg.Wait()
	if rounds.Load() < 2 || requests.Load() != 400 {
		t.Errorf("%d rounds, %d good requests; want >= 2 rounds during 400 requests", rounds.Load(), requests.Load())
	}
	t.Logf("%d rounds of definition and scenario changes, %d requests", rounds.Load(), requests.Load())
}
