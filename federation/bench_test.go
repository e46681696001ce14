package federation

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// benchFederation has n mock services with two-segment prefixes.
func benchFederation(n int) *Federation {
	f := &Federation{Name: "bench"}
	for i := range n {
		f.Services = append(f.Services, Service{
			Name: fmt.Sprintf("svc%d", i), BasePath: fmt.Sprintf("/team%d/svc%d", i%97, i), Reality: MockV3,
		})
	}
	return f
}

// hasSegmentPrefix reports whether the clean path p lies under prefix on a
// segment boundary.
func hasSegmentPrefix(p, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
}

// linearLookup is the baseline: MockForge's O(n) scan, made segment-aware
// so that it answers what the radix snapshot answers.
func linearLookup(svcs []Service, path string) (string, bool) {
	best, bestLen := "", -1
	for i := range svcs {
		p := svcs[i].BasePath
		if hasSegmentPrefix(path, p) && len(p) > bestLen {
			best, bestLen = svcs[i].Name, len(p)
		}
	}
	return best, bestLen >= 0
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		f := benchFederation(n)
		r, err := NewRouter(f, RouterConfig{Mocks: &echoMocks{}})
		if err != nil {
			b.Fatal(err)
		}
		paths := make([]string, 64)
		for i := range paths {
			j := (i * 7919) % n
			paths[i] = fmt.Sprintf("/team%d/svc%d/orders/42", j%97, j)
		}
		// Both must agree before being timed.
		for _, p := range paths {
			rt, _ := r.Lookup("GET", "", p)
			if name, _ := linearLookup(f.Services, p); name != rt.Service {
				b.Fatalf("radix %s, linear %s for %s", rt.Service, name, p)
			}
		}
		b.Run(fmt.Sprintf("radix-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok := r.Lookup("GET", "", paths[i%len(paths)]); !ok {
					b.Fatal("no route")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("linear-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok := linearLookup(f.Services, paths[i%len(paths)]); !ok {
					b.Fatal("no route")
				}
				i++
			}
		})
		r.Close()
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so a benchmark
// measures the handler and not the recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) Flush()                      {} // as a server's writer can

func BenchmarkServeMock(b *testing.B) {
	mock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	f := &Federation{Name: "bench", Services: []Service{
		{Name: "orders", BasePath: "/orders", Reality: MockV3},
	}}
	r, err := NewRouter(f, RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) { return mock, nil })})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	req := httptest.NewRequest("GET", "http://router.test/orders/42?x=1", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench")
	w := &discardWriter{h: http.Header{}}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			mock.ServeHTTP(w, req)
		}
	})
	b.Run("router", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			r.ServeHTTP(w, req)
		}
	})
	// A browser sends about ten headers: too many for the smallest map,
	// so the copy the mock sees costs more than with the two above.
	browser := req.Clone(req.Context())
	for _, k := range []string{"Accept-Encoding", "Accept-Language", "Cookie", "Referer", "Cache-Control", "Origin", "Sec-Fetch-Mode", "Connection"} {
		browser.Header.Set(k, "x")
	}
	b.Run("router-browser-headers", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			r.ServeHTTP(w, browser)
		}
	})
}

func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":42,"status":"shipped"}`)
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	f := &Federation{Name: "bench", Services: []Service{
		{Name: "orders", BasePath: "/orders", Reality: Real, Upstream: up.URL},
	}}
	r, err := NewRouter(f, RouterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	// The baseline: a bare ReverseProxy to the same upstream with the same
	// kind of transport and the same streaming (flush every write).
	tr := defaultTransport(DefaultMaxIdleConnsPerHost, nil)
	defer tr.CloseIdleConnections()
	bare := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport:     tr,
		FlushInterval: -1,
	}
	// And the same bare proxy with a buffer pool, as the router has: the
	// difference to this one is the router's own per-request work.
	pooled := *bare
	pooled.BufferPool = &bufferPool{}
	req := httptest.NewRequest("GET", "http://router.test/orders/42", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"bare-pooled", &pooled}, {"router", r}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkChaosDecision measures deciding one request's faults (target:
// no allocation) beside plain mock serving, and a chaos request whose
// faults all stayed off, in the same run.
func BenchmarkChaosDecision(b *testing.B) {
	f, err := Parse("bench.yaml", []byte(`name: bench
services:
  - {name: orders, base_path: /orders, reality: mock_v3}
  - name: pay
    base_path: /pay
    reality: chaos_driven
    chaos:
      seed: 7
      key_header: X-Request-Id
      latency: {p: 0, lognormal: {median: 50ms, sigma: 0.5}}
      abort: {p: 0, status: 503}
      reset: {p: 0}
      truncate: {p: 0, after: 10}
      bandwidth: {p: 0, bytes_per_second: 1000}
`))
	if err != nil {
		b.Fatal(err)
	}
	mock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r, err := NewRouter(f, RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) { return mock, nil })})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	w := &discardWriter{h: http.Header{}}
	c := f.Services[1].Chaos
	lognormal := *c
	lognormal.Latency = &LatencyFault{P: 1, Lognormal: c.Latency.Lognormal}
	b.Run("decide", func(b *testing.B) {
		b.ReportAllocs()
		seq := uint64(0)
		for b.Loop() {
			decide(c, "pay", chaosKey{seq: seq}, 0)
			seq++
		}
	})
	b.Run("decide-lognormal-fires", func(b *testing.B) {
		b.ReportAllocs()
		seq := uint64(0)
		for b.Loop() {
			decide(&lognormal, "pay", chaosKey{seq: seq}, 0)
			seq++
		}
	})
	b.Run("decide-by-header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decide(c, "pay", chaosKey{header: "8c1f0e2a-request", byName: true}, 0)
		}
	})
	plain := httptest.NewRequest("GET", "http://router.test/orders/42", nil)
	b.Run("serve-mock", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			r.ServeHTTP(w, plain)
		}
	})
	chaos := httptest.NewRequest("GET", "http://router.test/pay/42", nil)
	b.Run("serve-chaos-no-fault", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			r.ServeHTTP(w, chaos)
		}
	})
}
