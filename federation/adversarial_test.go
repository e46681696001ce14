package federation

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Inputs a client controls that net/http cannot always hand over (bad
// escapes) or that mean something else to other software (backslashes,
// encoded dots): each is routed on its cleaned segments, or not at all.
func TestLookupHostilePaths(t *testing.T) {
	r := newTestRouter(t, mustParse(t, routingYAML), RouterConfig{Mocks: &echoMocks{}})
	for _, tc := range []struct {
		path, service, raw string // service "" = no route
	}{
		{`/api\..\admin`, "root", `/api\..\admin`}, // one segment: '\' is no separator
		{`/api/..\admin`, "api", `/api/..\admin`},
		{"/api/.%2e/admin", "admin", "/admin"},
		{"/api/%2E%2e/admin", "admin", "/admin"},
		{"/api/%2e", "api", "/api/"},
		{"/api/%00", "api", "/api/%00"},
		{"/API/x", "root", "/API/x"}, // prefixes are case-sensitive
		{"/%2fapi", "root", "/%2fapi"},
		{"/api/%zz", "", ""},
		{"/api/%", "", ""},
		{"/api%2", "", ""},
		{"/api/%%30", "", ""},
		{"api", "", ""},
	} {
		rt, ok := r.Lookup(http.MethodGet, "", tc.path)
		if ok != (tc.service != "") || rt.Service != tc.service || rt.RawPath != tc.raw {
			t.Errorf("Lookup(%q) = %q %q %v; want %q %q", tc.path, rt.Service, rt.RawPath, ok, tc.service, tc.raw)
		}
	}
	for _, tc := range []struct{ host, service string }{
		{"[::1]:8080", "api"},
		{"[::1]", "api"},
		{"API.EXAMPLE.COM.:443", "hosted"},
		{"api.example.com:", "hosted"},
		{"api.example.com..", "api"},
		{"api.example.com:80:90", "api"},
		{"", "api"},
	} {
		if rt, ok := r.Lookup(http.MethodGet, tc.host, "/api/x"); !ok || rt.Service != tc.service {
			t.Errorf("Lookup(host %q) = %q %v; want %q", tc.host, rt.Service, ok, tc.service)
		}
	}
}

// Each ".." used to rewrite everything kept so far, so a path of n
// segments and n ".." cost O(n²) time and n allocations: a 100 KB request
// line took a second of CPU. Cleaning is linear now; the allocation count
// (which the old code tied to the number of "..") makes that testable
// without timing.
func TestCleanPathIsLinear(t *testing.T) {
	r := newTestRouter(t, mustParse(t, routingYAML), RouterConfig{Mocks: &echoMocks{}})
	const n = 20000
	p := strings.Repeat("/a", n) + strings.Repeat("/..", n) + "/api/x"
	var rt Route
	var ok bool
	allocs := testing.AllocsPerRun(3, func() { rt, ok = r.Lookup(http.MethodGet, "", p) })
	if !ok || rt.Service != "api" || rt.RawPath != "/api/x" {
		t.Fatalf("Lookup(%d segments and as many ..) = %q %q %v; want api /api/x", n, rt.Service, rt.RawPath, ok)
	}
	if allocs > 40 { // the span stack grows by doubling: about log2(n) allocations
		t.Errorf("Lookup of a %d-byte path allocates %v times; want a handful, not one per segment", len(p), allocs)
	}
}

// A CONNECT request asks for a tunnel to its authority-form target; it has
// no path, so it must not fall into a root service.
func TestConnectIsNotRouted(t *testing.T) {
	r := newTestRouter(t, mustParse(t, routingYAML), RouterConfig{Mocks: &echoMocks{}})
	if rt, ok := r.Lookup(http.MethodConnect, "evil.example:443", ""); ok {
		t.Errorf("Lookup(CONNECT) = %s; want no route", rt.Service)
	}
	if _, ok := r.Lookup(http.MethodGet, "", ""); !ok {
		t.Errorf("Lookup(GET, empty path) found nothing; want the root service")
	}
	req := httptest.NewRequest(http.MethodConnect, "evil.example:443", nil)
	p := readProblem(t, serve(r, req), http.StatusNotFound)
	if p["federation"] != "routing" {
		t.Errorf("CONNECT problem = %v; want federation routing", p)
	}
}

// A problem quotes the client's path, clipped: a long request line must
// not come back whole, let alone grown by JSON escaping.
func TestUnroutedProblemIsBounded(t *testing.T) {
	r := newTestRouter(t, mustParse(t, "name: n\nservices: [{name: a, base_path: /a, reality: mock_v3}]\n"), RouterConfig{Mocks: &echoMocks{}})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "http://router.test/"+strings.Repeat("%01", 100<<10), nil))
	if w.Code != http.StatusNotFound || w.Body.Len() > 2<<10 {
		t.Errorf("unrouted 300 KB path = %d with a %d-byte problem; want 404 without the path echoed whole", w.Code, w.Body.Len())
	}
}

// Methods without a body, with one, and HEAD reach a mock as sent; the
// body is streamed to it and counted.
func TestMockMethodsAndBodies(t *testing.T) {
	type seen struct {
		method string
		body   string
	}
	got := make(chan seen, 1)
	mocks := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- seen{r.Method, string(b)}
			io.WriteString(w, "answer")
		}), nil
	})
	obs := &exchanges{}
	f := mustParse(t, "name: m\nservices: [{name: a, base_path: /a, reality: mock_v3}]\n")
	srv := front(t, newTestRouter(t, f, RouterConfig{Mocks: mocks, Observer: obs}))
	client := newClient(t)
	for _, tc := range []struct{ method, body string }{
		{http.MethodGet, ""}, {http.MethodHead, ""}, {http.MethodOptions, ""},
		{http.MethodPost, "payload"}, {http.MethodPut, strings.Repeat("x", 100<<10)}, {http.MethodDelete, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+"/a/x", strings.NewReader(tc.body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s := <-got
		wantBody := "answer"
		if tc.method == http.MethodHead {
			wantBody = ""
		}
		if resp.StatusCode != 200 || string(body) != wantBody || s.method != tc.method || s.body != tc.body {
			t.Errorf("%s: %d %q, mock saw %s with %d bytes; want 200 %q, %s with %d bytes",
				tc.method, resp.StatusCode, body, s.method, len(s.body), wantBody, tc.method, len(tc.body))
		}
	}
	xs := obs.all()
	if len(xs) != 6 || xs[4].Method != http.MethodPut || xs[4].RequestBytes != 100<<10 {
		t.Fatalf("observed %d exchanges, PUT counted %d bytes; want 6 and %d", len(xs), xs[4].RequestBytes, 100<<10)
	}
}

func TestLoopGuardHeaderSpoofing(t *testing.T) {
	r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: &echoMocks{}, MaxHops: 3})
	for _, tc := range []struct {
		values []string
		status int
	}{
		{[]string{"1", "1"}, 400}, // two values could be read either way
		{[]string{"1, 5"}, 400},
		{[]string{"99999999999999999999999"}, 400},
		{[]string{"-9223372036854775808"}, 400},
		{[]string{""}, 400},
		{[]string{" 1"}, 400},
		{[]string{"9223372036854775807"}, 508}, // MaxInt: past the limit, and no overflow
		{[]string{"2"}, 200},
	} {
		req := httptest.NewRequest("GET", "http://router.test/mock/x", nil)
		req.Header[HeaderHops] = tc.values
		resp := serve(r, req)
		if tc.status == 200 {
			if resp.StatusCode != 200 {
				t.Errorf("hops %q = %d; want 200", tc.values, resp.StatusCode)
			}
			continue
		}
		readProblem(t, resp, tc.status)
	}
}

// Host code the router calls can panic. Whatever it is, the client gets a
// problem (or a cut response once one started), the panic is logged, the
// exchange observed, and the server's goroutine does not see the panic.
func TestHostPanicsAreContained(t *testing.T) {
	writeThenPanic := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late handler bug")
	})
	cases := []struct {
		name     string
		cfg      RouterConfig
		status   int  // the response status; 0: the response is cut
		abort    bool // ServeHTTP panics with http.ErrAbortHandler
		logs     int  // error records
		observed int  // the observed status; the exchange always carries an Err
	}{
		{"resolver", RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) { panic("resolver bug") })},
			500, false, 1, 500},
		{"handler before writing", RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip") // for a body never written
				panic("handler bug")
			}), nil
		})}, 500, false, 1, 500},
		{"handler after writing", RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) { return writeThenPanic, nil })},
			0, true, 1, 202},
		{"handler aborts", RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) {
			return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), nil
		})}, 0, true, 0, StatusClientClosed},
		{"authorize", RouterConfig{Mocks: &echoMocks{}, Authorize: func(*http.Request, Service) error { panic("authz bug") }},
			500, false, 1, 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecorder{}
			obs := &exchanges{}
			tc.cfg.Logger, tc.cfg.Observer = slog.New(logs), obs
			r := newTestRouter(t, mustParse(t, safetyYAML), tc.cfg)
			w := httptest.NewRecorder()
			var p any
			func() {
				defer func() { p = recover() }()
				r.ServeHTTP(w, httptest.NewRequest("GET", "http://router.test/mock/x", nil))
			}()
			if tc.abort {
				if p != http.ErrAbortHandler {
					t.Errorf("ServeHTTP panicked with %v; want http.ErrAbortHandler", p)
				}
			} else {
				if p != nil {
					t.Fatalf("ServeHTTP panicked with %v; want it contained", p)
				}
				readProblem(t, w.Result(), tc.status)
				if ce := w.Header().Get("Content-Encoding"); ce != "" {
					t.Errorf("problem sent with Content-Encoding %q", ce)
				}
				if by := w.Header().Get(HeaderServedBy); by != "mock" && by != "router" {
					t.Errorf("%s = %q; want who failed: mock or router", HeaderServedBy, by)
				}
			}
			if n := logs.atLeast(slog.LevelError); n != tc.logs {
				t.Errorf("%d error logs; want %d", n, tc.logs)
			}
			xs := obs.all()
			if len(xs) != 1 || xs[0].Status != tc.observed || xs[0].Err == nil {
				t.Errorf("observed %+v; want one exchange with status %d and an error", xs, tc.observed)
			}
		})
	}
}

func TestUpdateAfterClose(t *testing.T) {
	f := mustParse(t, safetyYAML)
	r := newTestRouter(t, f, RouterConfig{Mocks: &echoMocks{}})
	var wg sync.WaitGroup
	for i := range 8 { // Update and Close racing: -race checks the locking
		wg.Go(func() {
			if i == 4 {
				r.Close()
				return
			}
			if err := r.Update(f); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("Update = %v; want nil or ErrClosed", err)
			}
		})
	}
	wg.Wait()
	if err := r.Update(f); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close = %v; want ErrClosed", err)
	}
	if resp := serve(r, httptest.NewRequest("GET", "http://router.test/mock/x", nil)); resp.StatusCode != 200 {
		t.Errorf("request after Close = %d; want 200 (the server in front decides when to stop)", resp.StatusCode)
	}
}

// A real request still in flight when Close runs puts its connection back
// in the idle pool after Close emptied it; the router closes it then, so
// no connection goroutine outlives the Router (goleak checks the rest).
func TestCloseReachesInFlightConnections(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "late")
	}))
	t.Cleanup(up.Close)
	var closed atomic.Int64
	cfg := RouterConfig{NewTransport: func(*url.URL) http.RoundTripper {
		return &countingTransport{base: defaultTransport(2, nil), closed: &closed}
	}}
	f := mustParse(t, fmt.Sprintf("name: c\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", up.URL))
	r := newTestRouter(t, f, cfg)
	done := make(chan *http.Response)
	go func() { done <- serve(r, httptest.NewRequest("GET", "http://router.test/x", nil)) }()
	<-entered
	r.Close()
	if closed.Load() != 1 {
		t.Fatalf("Close closed idle connections %d times; want 1", closed.Load())
	}
	close(release)
	select {
	case resp := <-done:
		if b, _ := io.ReadAll(resp.Body); string(b) != "late" {
			t.Errorf("in-flight request answered %q; want late", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request never finished")
	}
	if closed.Load() != 2 {
		t.Errorf("idle connections closed %d times; want again when the in-flight request ended", closed.Load())
	}
}

func TestRequestURIReusesTheClientTarget(t *testing.T) {
	for _, tc := range []struct {
		target, path, query string
		force               bool
		want                string
	}{
		{"/svc/users/1?q=2", "/users/1", "q=2", false, "/users/1?q=2"},
		{"/svc/users/1", "/users/1", "", false, "/users/1"},
		{"/svc/users/1?", "/users/1", "", true, "/users/1?"},
		{"http://h/svc/a?q", "/a", "q", false, "/a?q"},
		{"/svc/a?q=1", "/a", "q=2", false, "/a?q=2"}, // query changed by host middleware: built
		{"/svc/other", "/a", "", false, "/a"},
		{"", "/a", "x=1", false, "/a?x=1"},
		{"/svc", "", "", false, "/"},
	} {
		u := &url.URL{Path: tc.path, RawQuery: tc.query, ForceQuery: tc.force}
		if got := requestURI(tc.target, u); got != tc.want || got != u.RequestURI() {
			t.Errorf("requestURI(%q, %q?%q) = %q; want %q (url.RequestURI %q)", tc.target, tc.path, tc.query, got, tc.want, u.RequestURI())
		}
	}
}

// The budget: serving a mock costs at most 5 allocations more
// than calling its handler directly, for a request with the headers a
// browser sends, whether the prefix is stripped or not.
func TestMockAllocationOverhead(t *testing.T) {
	mock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	req := httptest.NewRequest("GET", "http://router.test/orders/42?x=1", nil)
	for k, v := range map[string]string{
		"Accept": "application/json", "Accept-Encoding": "gzip, br", "Accept-Language": "en",
		"User-Agent": "Mozilla/5.0", "Cookie": "session=1", "Referer": "http://router.test/",
		"Cache-Control": "no-cache", "Connection": "keep-alive", "Sec-Fetch-Mode": "cors", "Origin": "http://router.test",
	} {
		req.Header.Set(k, v)
	}
	w := &discardWriter{h: http.Header{}}
	direct := testing.AllocsPerRun(100, func() { clear(w.h); mock.ServeHTTP(w, req) })
	for _, strip := range []bool{false, true} {
		f := &Federation{Name: "a", Services: []Service{{Name: "orders", BasePath: "/orders", Reality: MockV3, StripPrefix: strip}}}
		r := newTestRouter(t, f, RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) { return mock, nil })})
		routed := testing.AllocsPerRun(100, func() { clear(w.h); r.ServeHTTP(w, req) })
		if routed-direct > 5 {
			t.Errorf("strip_prefix %v: ServeHTTP allocates %v times, the handler alone %v; want at most 5 more", strip, routed, direct)
		}
	}
}

// The default transports are tuned (idle connections per host from the
// config) and a host's base Transport is cloned with compression forced
// off, so client encodings pass untouched whatever the host configured.
func TestTransportTuning(t *testing.T) {
	f := mustParse(t, "name: t\nservices: [{name: a, base_path: /, reality: real, upstream: \"http://127.0.0.1:1\"}]\n")
	r := newTestRouter(t, f, RouterConfig{MaxIdleConnsPerHost: 7})
	if len(r.transports) != 1 {
		t.Fatalf("%d transports; want one for the one upstream", len(r.transports))
	}
	for origin, tr := range r.transports {
		if ht, ok := tr.tr.(*http.Transport); !ok || ht.MaxIdleConnsPerHost != 7 || !ht.DisableCompression || ht.Proxy != nil {
			t.Errorf("transport of %s = %+v; want MaxIdleConnsPerHost 7, no compression, no proxy", origin, tr)
		}
	}
	base := &http.Transport{MaxIdleConnsPerHost: 3}
	r = newTestRouter(t, f, RouterConfig{Transport: base})
	if len(r.transports) != 1 {
		t.Fatalf("%d transports; want one for the one upstream", len(r.transports))
	}
	for origin, tr := range r.transports {
		if ht, ok := tr.tr.(*http.Transport); !ok || ht == base || ht.MaxIdleConnsPerHost != 3 || !ht.DisableCompression {
			t.Errorf("transport of %s = %+v; want a clone of the base with compression off", origin, tr)
		}
	}
	if base.DisableCompression {
		t.Errorf("the host's base Transport was modified")
	}
}
