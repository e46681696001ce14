package coverage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/federation"
)

// The closed loop: a blended merge service answers from a real upstream
// (an httptest server) and a mock that disagree; the Router reports the
// comparisons to the collector as its Observer; past the budget the
// collector publishes drift.threshold_exceeded naming the endpoint.
func TestFederationDriftLoop(t *testing.T) {
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":7,"name":"Rex"}`)
	}))
	defer real.Close()
	mock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/stores" {
			fmt.Fprint(w, `{"id":7,"name":"Rex"}`) // agrees with the real answer
			return
		}
		fmt.Fprint(w, `{"id":7,"name":"Fido"}`)
	})
	fed, err := federation.Parse("shop.yaml", []byte(fmt.Sprintf(`name: shop
services:
  - {name: pets, base_path: /pets-api, strip_prefix: true, workspace: shop, reality: blended, upstream: %q, blend: {strategy: merge}}
`, real.URL)))
	if err != nil {
		t.Fatal(err)
	}
	log := newEventLog(t)
	c := newCollector(t, Config{Publisher: log.bus, Specs: map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)}, DriftBudget: 40})
	router, err := federation.NewRouter(fed, federation.RouterConfig{
		Mocks:    federation.MockResolverFunc(func(string) (http.Handler, error) { return mock, nil }),
		Observer: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer router.Close()
	for _, p := range []string{"/pets-api/pets/7", "/pets-api/pets/7", "/pets-api/stores"} {
		w := httptest.NewRecorder()
		router.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d; want 200", p, w.Code)
		}
	}
	rep, err := c.Report(testCtx(t), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Drift.Services) != 1 {
		t.Fatalf("drift of %d services; want 1: %+v", len(rep.Drift.Services), rep.Drift)
	}
	d := rep.Drift.Services[0]
	if d.Branches.Numerator != 1 || d.Branches.Denominator != 2 || d.Requests.Numerator != 2 || d.Requests.Denominator != 3 {
		t.Errorf("drift branches %+v, requests %+v; want 1/2 and 2/3", d.Branches, d.Requests)
	}
	evs := log.drain(t)
	if len(evs) != 1 || evs[0].Type != events.TypeDriftThresholdExceeded {
		t.Fatalf("events %v; want one drift.threshold_exceeded", evs)
	}
	var p events.DriftThreshold
	if err := json.Unmarshal(evs[0].Data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Service != "pets" || p.Endpoint != "GET /pets/{id}" || p.DriftPercent != 50 {
		t.Errorf("payload %+v; want pets, GET /pets/{id}, 50%%", p)
	}
}
