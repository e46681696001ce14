package coverage

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/federation"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// allRollups reads every rollup of a store, without LastSeen when asked
// (a collector's LastSeen is its flush time, which replicas do not share).
func allRollups(t *testing.T, st Store) []store.Rollup {
	t.Helper()
	var out []store.Rollup
	q := store.RollupQuery{}
	for {
		p, err := st.ListRollups(testCtx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Rollups...)
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
}

// Two collectors flushing into one store give exactly the totals of one
// collector that saw all the traffic: rollups are additive.
func TestReplicasAddUp(t *testing.T) {
	for name, open := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			clock := newClock(t0)
			specs := map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)}
			shared := open(t)
			single := open(t)
			cfg := func(st Store) Config {
				return Config{Store: st, Clock: clock.Now, Specs: specs, Personas: []string{"alice"}}
			}
			a, b := newCollector(t, cfg(shared)), newCollector(t, cfg(shared))
			one := newCollector(t, cfg(single))
			ctx := testCtx(t)
			hits := goldenHits()
			for round := range 3 {
				for i, h := range hits {
					h.Scenario = h.Scenario + "-" + string(rune('a'+round))
					one.Record(h)
					if i%2 == 0 {
						a.Record(h)
					} else {
						b.Record(h)
					}
				}
				if round == 1 {
					for _, c := range []*Collector{a, b, one} {
						if err := c.Flush(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
				clock.Add(40 * time.Minute)
			}
			for _, c := range []*Collector{a, b, one} {
				if err := c.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			}
			got, want := allRollups(t, shared), allRollups(t, single)
			if len(want) == 0 {
				t.Fatal("the single collector flushed nothing")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rollups of two replicas (-one collector +two):\n%s", diff)
			}
			ra, err := a.Report(ctx, Query{From: t0.Add(-time.Hour), To: t0.Add(4 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			r1, err := one.Report(ctx, Query{From: t0.Add(-time.Hour), To: t0.Add(4 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r1, ra); diff != "" {
				t.Errorf("report of a replica (-one collector +replica):\n%s", diff)
			}
		})
	}
}

// Crossing the drift budget publishes drift.threshold_exceeded once, even
// with two replicas seeing it; falling below budget minus hysteresis and
// crossing again publishes a second one.
func TestDriftCrossingOnce(t *testing.T) {
	for name, open := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			clock := newClock(t0)
			st := open(t)
			log := newEventLog(t)
			specs := map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)}
			cfg := Config{Store: st, Publisher: log.bus, Clock: clock.Now, Specs: specs, DriftBudget: 30, DriftHysteresis: 10, DriftWindow: time.Hour}
			a, b := newCollector(t, cfg), newCollector(t, cfg)
			ctx := testCtx(t)
			report := func(c *Collector, path string, compared, drifted int64) {
				t.Helper()
				if err := c.ReportDrift(DriftReport{Workspace: "shop", Service: "pets", Method: "GET", Path: path, Status: 200, Compared: compared, Drifted: drifted}); err != nil {
					t.Fatal(err)
				}
			}
			flush := func() {
				t.Helper()
				for _, c := range []*Collector{a, b} {
					if err := c.Flush(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			// 1 of 2 branches drifting: 50% > 30%, seen by both replicas.
			report(a, "/pets", 3, 1)
			report(b, "/pets/1", 3, 0)
			flush()
			flush() // still above: no new crossing
			// Four more clean branches: 1/6 = 16.7% < 30-10: the crossing ends.
			report(a, "/stores", 1, 0)
			report(b, "/pets/{id}", 1, 0) // same branch as /pets/1
			a.Observe(federation.Exchange{Service: "pets", Workspace: "shop", Method: "POST", Path: "/pets", Status: 201, Comparison: &federation.Comparison{}})
			a.Observe(federation.Exchange{Service: "pets", Workspace: "shop", Method: "GET", Path: "/pets", Status: 500, Comparison: &federation.Comparison{}})
			b.Observe(federation.Exchange{Service: "pets", Workspace: "shop", Method: "GET", Path: "/pets/9", Status: 404, Comparison: &federation.Comparison{}})
			flush()
			// Two hours pass (the flush seals the bucket): only new
			// comparisons count, all drifting.
			clock.Add(2 * time.Hour)
			flush()
			report(b, "/pets", 2, 2)
			flush()
			evs := log.drain(t)
			if len(evs) != 2 {
				t.Fatalf("published %d events; want 2 (two crossings): %v", len(evs), evs)
			}
			for _, e := range evs {
				if e.Type != events.TypeDriftThresholdExceeded || e.Workspace != "shop" {
					t.Errorf("event %s in %q; want drift.threshold_exceeded in shop", e.Type, e.Workspace)
				}
				var p events.DriftThreshold
				if err := json.Unmarshal(e.Data, &p); err != nil {
					t.Fatal(err)
				}
				if p.Service != "pets" || p.Endpoint != "GET /pets" || p.Budget != 30 || p.DriftPercent <= 30 {
					t.Errorf("payload %+v; want pets, GET /pets, over the budget of 30", p)
				}
			}
		})
	}
}

// Staleness ages at read time; a changed contract hash flips the service
// to stale_by_content and publishes one schema.changed naming the
// operation that changed.
func TestStalenessAndSchemaChange(t *testing.T) {
	clock := newClock(t0)
	log := newEventLog(t)
	st := memory.New()
	v1 := mustSpec(t, goldenSpecSrc)
	v2 := mustSpec(t, strings.Replace(goldenSpecSrc, `"404": {description: not found}`, `"410": {description: gone}`, 1))
	cfg := Config{Store: st, Publisher: log.bus, Clock: clock.Now, Workspaces: map[string]string{"pets": "shop"}}
	c := newCollector(t, cfg)
	replica := newCollector(t, cfg)
	ctx := testCtx(t)
	state := func() ServiceStaleness {
		t.Helper()
		s, err := c.staleness(ctx, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, ss := range s.Services {
			if ss.Service == "pets" {
				return ss
			}
		}
		return ServiceStaleness{State: StaleNever}
	}
	steps := []struct {
		do   func()
		want StalenessState
	}{
		{func() {}, StaleNever},
		{func() { must(t, c.SetSpec(ctx, "pets", v1)) }, StaleFresh},
		{func() { clock.Add(8 * 24 * time.Hour) }, StaleAging},
		{func() { must(t, c.Verify(ctx, "pets", "", v1)) }, StaleFresh},
		{func() { clock.Add(31 * 24 * time.Hour) }, StaleByAge},
		{func() { must(t, c.Verify(ctx, "pets", "", v2)) }, StaleByContent},
		// A replica verifying the same change finds it recorded: no event.
		{func() { must(t, replica.Verify(ctx, "pets", "", v2)) }, StaleByContent},
		{func() { clock.Add(time.Hour) }, StaleByContent},
	}
	for i, s := range steps {
		s.do()
		if got := state().State; got != s.want {
			t.Errorf("step %d: state %s; want %s", i, got, s.want)
		}
	}
	evs := log.drain(t)
	if len(evs) != 1 {
		t.Fatalf("published %d events; want one schema.changed: %v", len(evs), evs)
	}
	var p events.SchemaChange
	if err := json.Unmarshal(evs[0].Data, &p); err != nil {
		t.Fatal(err)
	}
	want := events.SchemaChange{SchemaType: "openapi", Path: "pets", Changes: []string{"changed GET /pets/{id}: response 410 added, response 404 removed"}, Breaking: true}
	if evs[0].Type != events.TypeSchemaChanged || evs[0].Workspace != "shop" {
		t.Errorf("event %s in %q; want schema.changed in shop", evs[0].Type, evs[0].Workspace)
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("schema.changed payload (-want +got):\n%s", diff)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiffSpecs(t *testing.T) {
	v1 := mustSpec(t, goldenSpecSrc)
	tests := []struct {
		name string
		new  string
		want SchemaDiff
	}{
		{"same", goldenSpecSrc, SchemaDiff{}},
		{"added", strings.Replace(goldenSpecSrc, "  /stores:", "  /owners:\n    get:\n      responses: {\"200\": {description: ok}}\n  /stores:", 1),
			SchemaDiff{Added: []string{"GET /owners"}}},
		{"removed", strings.Replace(goldenSpecSrc, "  /stores:\n    get:\n      operationId: listStores\n      responses:\n        \"200\": {description: ok}\n", "", 1),
			SchemaDiff{Removed: []string{"GET /stores"}, Breaking: true}},
		{"body optional", strings.Replace(goldenSpecSrc, "required: true", "required: false", 1),
			SchemaDiff{Changed: []string{"POST /pets: request body required -> optional"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DiffSpecs(v1, mustSpec(t, tt.new))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DiffSpecs (-want +got):\n%s", diff)
			}
		})
	}
}

// Record allocates nothing once its keys are known.
func TestRecordAllocs(t *testing.T) {
	c := newCollector(t, Config{Specs: map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)}})
	h := Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets/7", Status: 200, Scenario: "happy", Persona: "alice", CI: true, RunID: "r1"}
	miss := Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/nope", Status: 200}
	for range 100 { // past the republishing of the key maps
		c.Record(h)
		c.Record(miss)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Record(h); c.Record(miss) }); n != 0 {
		t.Errorf("Record allocates %v times per run; want 0", n)
	}
}

// The middleware learns the status, the route and the CI attribution.
func TestMiddleware(t *testing.T) {
	c := newCollector(t, Config{
		Workspace: "shop", Service: "pets",
		Specs:        map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)},
		CIUserAgents: []string{"GitHub-Actions"},
		CINetworks:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pets/7" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write([]byte("[]"))
	}))
	tests := []struct {
		method, path, run, ua, remote string
		wantKey                       string
	}{
		{"GET", "/pets", "ci; id=build-1", "", "192.0.2.1:1", "GET /pets\tresponse:200\tci"},
		{"GET", "/pets", "local", "GitHub-Actions/2", "10.1.1.1:1", "GET /pets\tresponse:200\tlocal"},
		{"GET", "/pets/7", "", "GitHub-Actions/2", "192.0.2.2:1", "GET /pets/{id}\tresponse:404\tci"},
		{"GET", "/stores", "", "curl/8", "10.2.3.4:5", "GET /stores\tresponse:200\tci"},
		{"GET", "/stores", "", "curl/8", "192.0.2.3:1", "GET /stores\tresponse:200\tlocal"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		r.RemoteAddr = tt.remote
		r.Header.Set("User-Agent", tt.ua)
		if tt.run != "" {
			r.Header.Set("X-Mockops-Run", tt.run)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	ctx := testCtx(t)
	must(t, c.Flush(ctx))
	rs := allRollups(t, c.st)
	keys := map[string]int64{}
	for _, r := range rs {
		if r.Kind == KindEndpoint {
			keys[r.Key] += r.Count
		}
	}
	for _, tt := range tests {
		if keys[tt.wantKey] == 0 {
			t.Errorf("%s %s (run %q, ua %q, from %s): no rollup %q in %v", tt.method, tt.path, tt.run, tt.ua, tt.remote, tt.wantKey, keys)
		}
	}
}

func TestParseRun(t *testing.T) {
	tests := []struct {
		in   string
		want runAttr
	}{
		{"ci; id=build-42", runAttr{set: true, ci: true, id: "build-42"}},
		{"CI;id=\"7\"", runAttr{set: true, ci: true, id: "7"}},
		{"ci", runAttr{set: true, ci: true}},
		{"local; id=x", runAttr{set: true, id: "x"}},
		{"nightly", runAttr{}},
		{"", runAttr{}},
		{"ci; foo=bar; id=z", runAttr{set: true, ci: true, id: "z"}},
	}
	for _, tt := range tests {
		if got := parseRun(tt.in); got != tt.want {
			t.Errorf("parseRun(%q) = %+v; want %+v", tt.in, got, tt.want)
		}
	}
}

// Concurrent writers and flushes lose no count (run with -race).
func TestConcurrentRecordAndFlush(t *testing.T) {
	clock := newClock(t0)
	c := newCollector(t, Config{Clock: clock.Now, Specs: map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)}, MaxKeys: 8})
	ctx := testCtx(t)
	const writers, per = 4, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				c.Record(Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Scenario: "s" + string(rune('a'+(i+w)%16))})
			}
		})
	}
	done := make(chan struct{})
	var fwg sync.WaitGroup
	fwg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			clock.Add(7 * time.Minute) // buckets rotate under the writers
			if err := c.Flush(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	fwg.Wait()
	must(t, c.Shutdown(ctx))
	var reqs, scen, ops int64
	for _, r := range allRollups(t, c.st) {
		switch {
		case r.Kind == KindRequests:
			reqs += r.Count
		case r.Kind == KindScenario:
			scen += r.Count
		case r.Kind == KindEndpoint && r.Key == "GET /pets\toperation\tlocal":
			ops += r.Count
		}
	}
	for name, got := range map[string]int64{"requests": reqs, "scenarios": scen, "operation hits": ops} {
		if got != writers*per {
			t.Errorf("%s = %d; want %d", name, got, writers*per)
		}
	}
}

// Run flushes on its interval; Shutdown stops it and flushes the rest.
func TestRunShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memory.New()
		c := newCollector(t, Config{Store: st, FlushInterval: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()
		c.Record(Hit{Workspace: "w", Service: "s", Method: "GET", Path: "/", Status: 200})
		time.Sleep(1500 * time.Millisecond) // synctest: virtual time
		synctest.Wait()
		if n := countKind(t, st, KindRequests); n != 1 {
			t.Errorf("after one flush interval: %d requests flushed; want 1", n)
		}
		c.Record(Hit{Workspace: "w", Service: "s", Method: "GET", Path: "/", Status: 200})
		if err := c.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Errorf("Run = %v; want nil after Shutdown", err)
		}
		if n := countKind(t, st, KindRequests); n != 2 {
			t.Errorf("after Shutdown: %d requests flushed; want 2", n)
		}
		if err := c.Run(ctx); err == nil {
			t.Error("Run after Shutdown = nil; want an error")
		}
	})
}

func countKind(t *testing.T, st Store, kind string) int64 {
	var n int64
	for _, r := range allRollups(t, st) {
		if r.Kind == kind {
			n += r.Count
		}
	}
	return n
}

// A flush whose write fails keeps its rollups for the next one.
func TestFlushRetriesAfterFailure(t *testing.T) {
	st := &failingStore{Store: memory.New(), fail: true}
	c := newCollector(t, Config{Store: st})
	c.Record(Hit{Workspace: "w", Service: "s", Method: "GET", Path: "/", Status: 200})
	ctx := testCtx(t)
	if err := c.Flush(ctx); err == nil {
		t.Fatal("Flush with a failing store = nil; want the error")
	}
	st.fail = false
	c.Record(Hit{Workspace: "w", Service: "s", Method: "GET", Path: "/", Status: 200})
	must(t, c.Flush(ctx))
	if n := countKind(t, st, KindRequests); n != 2 {
		t.Errorf("%d requests stored; want 2 (nothing lost to the failed flush)", n)
	}
}

// failingStore is a real in-memory store whose AddRollups can be made to
// fail, to test the retry (not a mock: everything else is the store's).
type failingStore struct {
	*memory.Store
	fail bool
}

func (s *failingStore) AddRollups(ctx context.Context, rs []store.Rollup) error {
	if s.fail {
		return context.DeadlineExceeded
	}
	return s.Store.AddRollups(ctx, rs)
}

// Observe takes routed traffic and comparisons; a shadow call counts for
// drift only, an unrouted exchange not at all.
func TestObserve(t *testing.T) {
	c := newCollector(t, Config{Specs: map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)}})
	req := httptest.NewRequest("GET", "/pets", nil)
	req.Header.Set("X-Mockops-Scenario", "happy")
	req.Header.Set("X-Mockops-Run", "ci; id=9")
	drift := &federation.Comparison{Differences: []federation.Difference{{Path: "status", Kind: federation.DiffStatus}}}
	c.Observe(federation.Exchange{Service: "pets", Workspace: "shop", Method: "GET", Path: "/pets", Status: 200, Request: req})
	c.Observe(federation.Exchange{Service: "pets", Workspace: "shop", Method: "GET", Path: "/pets", Status: 200, Shadow: true, Comparison: drift})
	c.Observe(federation.Exchange{Method: "GET", Path: "/x", Status: 404})
	must(t, c.Flush(testCtx(t)))
	got := map[string]int64{}
	for _, r := range allRollups(t, c.st) {
		got[r.Kind+" "+r.Key] += r.Count
	}
	want := map[string]int64{
		"requests ci":                             1,
		"endpoint GET /pets\toperation\tci":       1,
		"endpoint GET /pets\tresponse:200\tci":    1,
		"scenario happy":                          1,
		"drift GET /pets\tresponse:200\tcompared": 1,
		"drift GET /pets\tresponse:200\tdrifted":  1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rollups (-want +got):\n%s", diff)
	}
}

// SetSpec at run time: the new spec matches from the next request on,
// the counts made under the old one are kept, and a changed contract
// publishes one schema.changed (none for the first spec, none for the
// same one again).
func TestSetSpecAtRunTime(t *testing.T) {
	log := newEventLog(t)
	c := newCollector(t, Config{Publisher: log.bus, Workspace: "shop"})
	ctx := testCtx(t)
	hit := Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/stores", Status: 200}
	c.Record(hit) // no spec yet: a request, no endpoint
	v1 := mustSpec(t, goldenSpecSrc)
	must(t, c.SetSpec(ctx, "pets", v1))
	c.Record(hit)
	v2 := mustSpec(t, strings.Replace(goldenSpecSrc, "  /stores:", "  /owners:\n    get:\n      responses: {\"200\": {description: ok}}\n  /stores:", 1))
	must(t, c.SetSpec(ctx, "pets", v2))
	must(t, c.SetSpec(ctx, "pets", v2))
	c.Record(hit)
	c.Record(Hit{Workspace: "shop", Service: "pets", Method: "GET", Path: "/owners", Status: 200})
	must(t, c.Flush(ctx))
	got := map[string]int64{}
	for _, r := range allRollups(t, c.st) {
		got[r.Kind+" "+r.Key] += r.Count
	}
	want := map[string]int64{
		"requests local":                            4,
		"endpoint GET /stores\toperation\tlocal":    2,
		"endpoint GET /stores\tresponse:200\tlocal": 2,
		"endpoint GET /owners\toperation\tlocal":    1,
		"endpoint GET /owners\tresponse:200\tlocal": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rollups (-want +got):\n%s", diff)
	}
	evs := log.drain(t)
	if len(evs) != 1 {
		t.Fatalf("published %d events; want 1", len(evs))
	}
	var p events.SchemaChange
	must(t, json.Unmarshal(evs[0].Data, &p))
	if want := []string{"added GET /owners"}; !cmp.Equal(p.Changes, want) || p.Breaking {
		t.Errorf("changes %q, breaking %v; want %q, not breaking", p.Changes, p.Breaking, want)
	}
}

// Past MaxServices, traffic counts under the overflow service.
func TestServiceOverflow(t *testing.T) {
	c := newCollector(t, Config{MaxServices: 2})
	for _, s := range []string{"a", "b", "c", "d"} {
		c.Record(Hit{Workspace: "w", Service: s, Method: "GET", Path: "/", Status: 200, Scenario: "x"})
	}
	must(t, c.Flush(testCtx(t)))
	got := map[string]int64{}
	for _, r := range allRollups(t, c.st) {
		if r.Kind == KindRequests {
			got[r.Workspace+"/"+r.Service] += r.Count
		}
	}
	want := map[string]int64{"w/a": 1, "w/b": 1, "/" + OverflowKey: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests by service (-want +got):\n%s", diff)
	}
}

// A spec given in Config counts as the known contract: replacing it with
// a different one is a schema change, published by one replica only.
func TestConfigSpecThenChange(t *testing.T) {
	log := newEventLog(t)
	st := memory.New()
	v1 := mustSpec(t, goldenSpecSrc)
	v2 := mustSpec(t, strings.Replace(goldenSpecSrc, "deprecated: true", "deprecated: false", 1))
	cfg := Config{Store: st, Publisher: log.bus, Specs: map[string]*Spec{"pets": v1}}
	a, b := newCollector(t, cfg), newCollector(t, cfg)
	ctx := testCtx(t)
	must(t, a.SetSpec(ctx, "pets", v2))
	must(t, b.SetSpec(ctx, "pets", v2))
	evs := log.drain(t)
	if len(evs) != 1 {
		t.Fatalf("published %d events; want 1", len(evs))
	}
	var p events.SchemaChange
	must(t, json.Unmarshal(evs[0].Data, &p))
	if want := []string{"changed DELETE /pets/{id}: deprecated false"}; !cmp.Equal(p.Changes, want) {
		t.Errorf("changes %q; want %q", p.Changes, want)
	}
}

// Observe and the middleware allocate nothing per request either.
func TestObserveAndMiddlewareAllocs(t *testing.T) {
	c := newCollector(t, Config{Workspace: "shop", Service: "pets", Specs: map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)},
		CIUserAgents: []string{"CI"}})
	req := httptest.NewRequest("GET", "/pets/7", nil)
	req.Header.Set("X-Mockops-Scenario", "happy")
	req.Header.Set("X-Mockops-Persona", "alice")
	req.Header.Set("X-Mockops-Run", "ci; id=9")
	x := federation.Exchange{Service: "pets", Workspace: "shop", Method: "GET", Path: "/pets/7", Status: 200, Request: req, Comparison: &federation.Comparison{}}
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	w := &nullWriter{h: http.Header{}}
	for range 100 {
		c.Observe(x)
		h.ServeHTTP(w, req)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Observe(x) }); n != 0 {
		t.Errorf("Observe allocates %v times per run; want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("Middleware allocates %v times per request; want 0", n)
	}
}

// A replica without a Publisher (a dashboard or gate process sharing the
// store) does not record drift crossings: it cannot publish them, and a
// crossing it recorded would fence away the replica that can.
func TestDriftCrossingNeedsPublisher(t *testing.T) {
	for name, open := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			clock := newClock(t0)
			st := open(t)
			log := newEventLog(t)
			cfg := Config{Store: st, Clock: clock.Now, DriftBudget: 10, DriftWindow: time.Hour}
			silent := newCollector(t, cfg)
			cfg.Publisher = log.bus
			loud := newCollector(t, cfg)
			ctx := testCtx(t)
			if err := silent.ReportDrift(DriftReport{Workspace: "shop", Service: "pets", Method: "GET", Path: "/pets", Compared: 2, Drifted: 2}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []*Collector{silent, loud} {
				if err := c.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if evs := log.drain(t); len(evs) != 1 {
				t.Fatalf("published %d events; want 1 (the crossing, by the replica with a publisher): %v", len(evs), evs)
			}
		})
	}
}

// Values longer than MaxKeyBytes (a header or path a client made huge)
// count under the overflow key instead of being kept: the key cap bounds
// the count of values, this bounds their bytes, in memory and in the
// store's rollups.
func TestLongKeysOverflow(t *testing.T) {
	c := newCollector(t, Config{Specs: map[string]*Spec{"pets": mustSpec(t, goldenSpecSrc)}})
	long := strings.Repeat("x", 64<<10)
	hits := []Hit{
		{Workspace: "w", Service: "pets", Method: "GET", Path: "/" + long, Status: 200},
		{Workspace: "w", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Scenario: long},
		{Workspace: "w", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Persona: long, CI: true, RunID: "r1"},
		{Workspace: "w", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Persona: "p", CI: true, RunID: long},
		{Workspace: "w", Service: "pets", Method: "GET", Path: "/pets", Status: 200, Persona: "p", CI: true, RunID: "r2"},
	}
	for _, h := range hits {
		c.Record(h)
	}
	if err := c.ReportDrift(DriftReport{Workspace: "w", Service: "pets", Method: "GET", Path: "/" + long, Compared: 1, Drifted: 1}); err != nil {
		t.Fatal(err)
	}
	must(t, c.Flush(testCtx(t)))
	kinds := map[string]int{}
	for _, r := range allRollups(t, c.st) {
		if len(r.Key) > 2*MaxKeyBytes+64 {
			t.Errorf("%s rollup keeps a key of %d bytes", r.Kind, len(r.Key))
		}
		if strings.Contains(r.Key, OverflowKey) {
			kinds[r.Kind]++
		}
	}
	for _, k := range []string{KindMissing, KindScenario, KindPersona, KindDrift} {
		if kinds[k] == 0 {
			t.Errorf("no %s rollup under %s; got overflow kinds %v", k, OverflowKey, kinds)
		}
	}
	mw := c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, run := range []string{"ci; id=r1", "ci; id=" + long} {
		r := httptest.NewRequest("GET", "/pets", nil)
		r.Header.Set("X-Mockops-Run", run)
		mw.ServeHTTP(httptest.NewRecorder(), r)
	}
	if n := c.ci.nRuns.Load(); n != 1 {
		t.Errorf("%d run header values cached; want 1 (none over MaxKeyBytes)", n)
	}
}
