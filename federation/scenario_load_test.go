package federation

import (
	"io"
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
