package coverage

import (
	"net/http"
	"testing"
)

// BenchmarkMatch maps Twilio paths to their operations: our matcher, and
// beside it kin-openapi's gorillamux router on the same document and
// paths, the baseline the matcher keeps off the hot path. (kin-openapi's
// legacy router refuses Twilio's document: it validates it first, and
// some of its examples do not match their schemas.)
func BenchmarkMatch(b *testing.B) {
	o := newOracle(b, "twilio-api-v2010.json")
	paths := []string{
		"/2010-04-01/Accounts/AC0123/Calls/CA0123.json",
		"/2010-04-01/Accounts/AC0123/Calls/CA0123/Recordings/RE0123.json",
		"/2010-04-01/Accounts/AC0123/IncomingPhoneNumbers/Local.json",
		"/2010-04-01/Accounts.json",
	}
	reqs := make([]*http.Request, len(paths))
	for i, p := range paths {
		if _, err := o.spec.Match("GET", p); err != nil {
			b.Fatalf("Match(GET, %q) = %v; want an operation", p, err)
		}
		r, err := http.NewRequest("GET", "https://api.twilio.com"+p, nil)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = r
	}
	b.Run("mockops", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := o.spec.Match("GET", paths[i%len(paths)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("kin-openapi-gorillamux", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := o.router.FindRoute(reqs[i%len(reqs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkRecord is the collector's hot path: Record of one request
// whose operation the spec resolves. The baseline is Spec.Match alone,
// the one step Record cannot skip; "matched" adds the service lookup and
// the dense counters, "dimensions" the scenario, persona and CI run
// lookups. The Twilio path (five segments, ".json" suffixes) is a deep
// one; "short-*" are the same on a two-segment Petstore-like path.
func BenchmarkRecord(b *testing.B) {
	o := newOracle(b, "twilio-api-v2010.json")
	pets, err := LoadOpenAPI([]byte(`
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /pets: {get: {responses: {"200": {description: ok}}}}
  /pets/mine: {get: {responses: {"200": {description: ok}}}}
  /pets/{id}: {get: {responses: {"200": {description: ok}, default: {description: error}}}}
`))
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewCollector(Config{Specs: map[string]*Spec{"twilio": o.spec, "pets": pets}})
	if err != nil {
		b.Fatal(err)
	}
	short := Hit{Workspace: "ws", Service: "pets", Method: "GET", Path: "/pets/7", Status: 200}
	c.Record(short)
	path := "/2010-04-01/Accounts/AC0123/Calls/CA0123.json"
	plain := Hit{Workspace: "ws", Service: "twilio", Method: "GET", Path: path, Status: 200}
	dims := plain
	dims.Scenario, dims.Persona, dims.CI, dims.RunID = "happy", "alice", true, "run-1"
	for range 100 {
		c.Record(plain)
		c.Record(dims)
	}
	b.Run("baseline-match-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := o.spec.Match("GET", path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("matched", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Record(plain)
		}
	})
	b.Run("dimensions", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Record(dims)
		}
	})
	b.Run("short-baseline-match-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pets.Match("GET", short.Path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("short-matched", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Record(short)
		}
	})
	b.Run("matched-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Record(plain)
			}
		})
	})
}

// BenchmarkMiddleware serves one request through a trivial handler: bare,
// and wrapped by the collector's middleware.
func BenchmarkMiddleware(b *testing.B) {
	spec, err := LoadOpenAPI([]byte(`
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /pets/{id}:
    get:
      responses: {"200": {description: ok}}
`))
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewCollector(Config{Workspace: "ws", Service: "pets", Specs: map[string]*Spec{"pets": spec}})
	if err != nil {
		b.Fatal(err)
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	wrapped := c.Middleware(bare)
	r, err := http.NewRequest("GET", "http://example.com/pets/7", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("X-Mockops-Run", "ci; id=42")
	w := &nullWriter{h: http.Header{}}
	for name, h := range map[string]http.Handler{"baseline-bare": bare, "middleware": wrapped} {
		b.Run(name, func(b *testing.B) {
			h.ServeHTTP(w, r)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

// nullWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handlers rather than a recorder.
type nullWriter struct{ h http.Header }

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nullWriter) WriteHeader(int)             {}
