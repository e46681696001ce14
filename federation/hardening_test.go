package federation

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// The loop guard holds for every request the router answers, the ones a
// fallback handler serves included, and reads digits only.
func TestLoopGuardCoversFallbackAndSigns(t *testing.T) {
	called := 0
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called++
		w.WriteHeader(http.StatusTeapot)
	})
	r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: &echoMocks{}, MaxHops: 3, FallbackHandler: fallback})
	for _, tc := range []struct {
		path, hops string
		status     int
		fallback   bool // the fallback handler must have served it
	}{
		{"/nowhere", "", http.StatusTeapot, true},
		{"/nowhere", "2", http.StatusTeapot, true},
		{"/nowhere", "3", http.StatusLoopDetected, false},
		{"/nowhere", "+7", http.StatusBadRequest, false},
		{"/nowhere", "+1", http.StatusBadRequest, false},
		{"/mock/x", "+1", http.StatusBadRequest, false},
		{"/mock/x", "+0", http.StatusBadRequest, false},
		{"/mock/x", "-0", http.StatusBadRequest, false},
		{"/mock/x", "0x1", http.StatusBadRequest, false},
		{"/mock/x", "1_0", http.StatusBadRequest, false},
		{"/mock/x", "02", http.StatusOK, false},
	} {
		called = 0
		req := httptest.NewRequest("GET", "http://router.test"+tc.path, nil)
		if tc.hops != "" {
			req.Header.Set(HeaderHops, tc.hops)
		}
		resp := serve(r, req)
		if resp.StatusCode != tc.status || (called == 1) != tc.fallback {
			t.Errorf("%s with hops %q = %d, fallback called %d times; want %d, fallback %v", tc.path, tc.hops, resp.StatusCode, called, tc.status, tc.fallback)
			continue
		}
		if tc.status == http.StatusLoopDetected || tc.status == http.StatusBadRequest {
			readProblem(t, resp, tc.status)
		}
	}
}

// A 500 after a panic must not carry what the handler set for the answer
// it never wrote, but keeps what the host set in front of the router.
func TestPanicProblemStartsFromCleanHeaders(t *testing.T) {
	mocks := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "public, max-age=86400")
			h.Set("Set-Cookie", "session=abc")
			h.Set("ETag", `"v1"`)
			h.Set("Content-Encoding", "gzip")
			h.Set("X-Frame-Options", "ALLOW") // overrides the host's value
			panic("handler bug")
		}), nil
	})
	r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: mocks})
	for _, preset := range []bool{false, true} {
		w := httptest.NewRecorder()
		if preset {
			w.Header().Set("X-Frame-Options", "DENY") // a host middleware's header
		}
		r.ServeHTTP(w, httptest.NewRequest("GET", "http://router.test/mock/x", nil))
		resp := w.Result()
		for _, k := range []string{"Cache-Control", "Set-Cookie", "Etag", "Content-Encoding"} {
			if v := resp.Header.Get(k); v != "" {
				t.Errorf("preset %v: problem sent with %s %q", preset, k, v)
			}
		}
		want := ""
		if preset {
			want = "DENY"
		}
		if got := resp.Header.Get("X-Frame-Options"); got != want {
			t.Errorf("preset %v: X-Frame-Options = %q; want %q", preset, got, want)
		}
		readProblem(t, resp, http.StatusInternalServerError)
	}
}

// With no logger, the error of a failing MockResolver still reaches the
// host: the Observer's exchange carries it.
func TestMockResolverErrorReachesObserver(t *testing.T) {
	errResolve := errors.New("workspace store is down")
	for _, tc := range []struct {
		name     string
		resolver MockResolverFunc
		want     error
	}{
		{"error", func(string) (http.Handler, error) { return nil, errResolve }, errResolve},
		{"nil handler", func(string) (http.Handler, error) { return nil, nil }, ErrNoMockHandler},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &exchanges{}
			r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: tc.resolver, Observer: obs})
			resp := serve(r, httptest.NewRequest("GET", "http://router.test/mock/x", nil))
			readProblem(t, resp, http.StatusBadGateway)
			xs := obs.all()
			if len(xs) != 1 || !errors.Is(xs[0].Err, tc.want) || !errors.Is(xs[0].Err, ErrMockUnavailable) {
				t.Fatalf("observed %+v; want one exchange whose Err wraps %v and ErrMockUnavailable", xs, tc.want)
			}
		})
	}
}

// sawObserver passes on what Exchange.Request said, copied during Observe.
type sawObserver chan echo

func (o sawObserver) Observe(x Exchange) {
	e := echo{Service: x.Service, Path: x.Request.URL.Path, RawPath: x.Request.URL.EscapedPath(), Host: x.Request.Host, Header: map[string]string{}}
	for k := range x.Request.Header {
		e.Header[k] = strings.Join(x.Request.Header.Values(k), ", ")
	}
	o <- e
}

// Exchange.Request is the request the service saw, for real and mock_v3
// alike: the rewritten path, no Connection-listed or hop-by-hop headers,
// the router's own headers. It agrees with what the upstream (or mock)
// itself reports receiving.
func TestExchangeRequestIsWhatTheServiceSaw(t *testing.T) {
	up := echoUpstream(t)
	f := mustParse(t, fmt.Sprintf(`name: saw
services:
  - {name: real, base_path: /svc, reality: real, upstream: %q, strip_prefix: true}
  - {name: mock, base_path: /mocked, reality: mock_v3, upstream: %q, strip_prefix: true}
`, up.URL, up.URL))
	obs := make(sawObserver, 1)
	srv := front(t, newTestRouter(t, f, RouterConfig{Mocks: &echoMocks{}, Observer: obs}))
	client := newClient(t)
	for _, tc := range []struct{ service, path string }{{"real", "/svc/a%21b/c"}, {"mock", "/mocked/a%21b/c"}} {
		t.Run(tc.service, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.Header.Set("Connection", "X-Secret-Hop")
			req.Header.Set("X-Secret-Hop", "1")
			req.Header.Set("Keep-Alive", "timeout=5")
			req.Header.Set("X-Kept", "yes")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			served := decodeEcho(t, body)
			var got echo
			select { // a streamed response can arrive just before its exchange is observed
			case got = <-obs:
			case <-time.After(10 * time.Second):
				t.Fatal("the exchange was never observed")
			}
			if got.Service != tc.service {
				t.Fatalf("observed service %q; want %q", got.Service, tc.service)
			}
			if got.Path != "/a!b/c" || got.RawPath != "/a%21b/c" {
				t.Errorf("Exchange.Request path = %q (raw %q); want /a!b/c (raw /a%%21b/c)", got.Path, got.RawPath)
			}
			for _, k := range []string{"Connection", "X-Secret-Hop", "Keep-Alive"} {
				if v, ok := got.Header[k]; ok {
					t.Errorf("Exchange.Request has %s: %q; the service never saw it", k, v)
				}
			}
			for _, k := range []string{"X-Kept", HeaderHops, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix"} {
				if got.Header[k] == "" || got.Header[k] != served.Header[k] {
					t.Errorf("Exchange.Request %s = %q; the service saw %q", k, got.Header[k], served.Header[k])
				}
			}
			if got.Host != served.Host {
				t.Errorf("Exchange.Request Host = %q; the service saw %q", got.Host, served.Host)
			}
		})
	}
}

// The exchange is a routed request's one allocation; the state added for
// deadlines, Exchange.Request and clean problem headers must not push it
// into a larger size class: with the 8-byte header the allocator adds to
// objects over 512 bytes that hold pointers, 840 bytes used the 896-byte
// class before.
func TestExchangeSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(exchange{}); size+8 > 896 {
		t.Errorf("exchange is %d bytes (+8 header); want at most 896 (its size class)", size)
	}
	mock := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil
	})
	r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: mock})
	req := httptest.NewRequest("GET", "http://router.test/mock/x", nil)
	w := &discardWriter{h: http.Header{}}
	if allocs := testing.AllocsPerRun(100, func() { clear(w.h); r.ServeHTTP(w, req) }); allocs > 3 {
		t.Errorf("a mock request costs %v allocations; want at most 3", allocs)
	}
}
