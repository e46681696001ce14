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
	"testing"
	"time"
)

const safetyYAML = `name: safe
services:
  - {name: mock, base_path: /mock, reality: mock_v3}
  - {name: secret, base_path: /secret, reality: mock_v3}
  - {name: blend, base_path: /blend, reality: blended, upstream: "http://127.0.0.1:1"}
  - {name: chaos, base_path: /chaos, reality: chaos_driven}
  - {name: nows, base_path: /nows, workspace: missing, reality: mock_v3}
`

func serve(r http.Handler, req *http.Request) *http.Response {
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w.Result()
}

func TestLoopGuard(t *testing.T) {
	r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: &echoMocks{}, MaxHops: 3})
	for _, tc := range []struct {
		hops   string
		status int
	}{{"", 200}, {"0", 200}, {"2", 200}, {"3", 508}, {"99", 508}, {"-1", 400}, {"x", 400}} {
		req := httptest.NewRequest("GET", "http://router.test/mock/x", nil)
		if tc.hops != "" {
			req.Header.Set(HeaderHops, tc.hops)
		}
		resp := serve(r, req)
		if tc.status != 200 {
			p := readProblem(t, resp, tc.status)
			if p["service"] != "mock" {
				t.Errorf("hops %q: problem %v; want service mock", tc.hops, p)
			}
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		e := decodeEcho(t, body)
		want := "1"
		if tc.hops != "" {
			want = fmt.Sprint(int(tc.hops[0]-'0') + 1)
		}
		if e.Header[HeaderHops] != want {
			t.Errorf("hops %q: forwarded %s = %q; want %s", tc.hops, HeaderHops, e.Header[HeaderHops], want)
		}
	}
}

// A federation whose service points back at its own router loops until the
// guard stops it, instead of forever.
func TestLoopGuardStopsRealLoop(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil) // its address is known before it starts
	self := "http://" + srv.Listener.Addr().String()
	f := mustParse(t, fmt.Sprintf("name: loop\nservices: [{name: me, base_path: /, reality: real, upstream: %q}]\n", self))
	r := newTestRouter(t, f, RouterConfig{MaxHops: 4})
	srv.Config.Handler = r
	srv.Start()
	t.Cleanup(srv.Close)
	resp, err := newClient(t).Get(self + "/x")
	if err != nil {
		t.Fatal(err)
	}
	readProblem(t, resp, http.StatusLoopDetected)
}

func TestAuthorize(t *testing.T) {
	denied := errors.New("not in your workspaces")
	var sawRoute bool
	cfg := RouterConfig{Mocks: &echoMocks{}, Authorize: func(r *http.Request, svc Service) error {
		rt, ok := RouteFrom(r.Context())
		sawRoute = ok && rt.Service == svc.Name
		if svc.Name == "secret" {
			return denied
		}
		return nil
	}}
	obs := &exchanges{}
	cfg.Observer = obs
	r := newTestRouter(t, mustParse(t, safetyYAML), cfg)
	p := readProblem(t, serve(r, httptest.NewRequest("GET", "http://router.test/secret/x", nil)), http.StatusForbidden)
	if p["service"] != "secret" || strings.Contains(fmt.Sprint(p["detail"]), denied.Error()) {
		t.Errorf("problem = %v; want service secret, without the authorizer's reason", p)
	}
	if !sawRoute {
		t.Errorf("Authorize did not find the route of the request in its context")
	}
	if xs := obs.all(); len(xs) != 1 || !errors.Is(xs[0].Err, denied) || xs[0].ServedBy != ServedByRouter {
		t.Errorf("observed %+v; want the denial, served by router", xs)
	}
	if resp := serve(r, httptest.NewRequest("GET", "http://router.test/mock/x", nil)); resp.StatusCode != 200 {
		t.Errorf("allowed service answered %d; want 200", resp.StatusCode)
	}
}

func TestMockWorkspaceUnavailable(t *testing.T) {
	r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: &echoMocks{}})
	resp := serve(r, httptest.NewRequest("GET", "http://router.test/nows", nil))
	p := readProblem(t, resp, http.StatusBadGateway)
	if p["service"] != "nows" || resp.Header.Get(HeaderServedBy) != "mock" {
		t.Errorf("problem %v served by %q; want service nows, mock", p, resp.Header.Get(HeaderServedBy))
	}
}

func TestRouterConfigErrors(t *testing.T) {
	f := mustParse(t, safetyYAML)
	if _, err := NewRouter(f, RouterConfig{}); err == nil || !strings.Contains(err.Error(), "Mocks is nil") {
		t.Errorf("NewRouter without Mocks = %v; want an error naming Mocks", err)
	}
	deny := errors.New("not on the allow-list")
	cfg := RouterConfig{Mocks: &echoMocks{}, AllowUpstream: func(u *url.URL) error {
		if u.Hostname() != "127.0.0.1" {
			return deny
		}
		return nil
	}}
	r := newTestRouter(t, f, cfg)
	bad := mustParse(t, "name: bad\nservices: [{name: a, base_path: /, reality: real, upstream: \"http://169.254.169.254\"}]\n")
	if err := r.Update(bad); !errors.Is(err, deny) {
		t.Errorf("Update with a denied upstream = %v; want %v", err, deny)
	}
	if _, err := NewRouter(bad, cfg); !errors.Is(err, deny) {
		t.Errorf("NewRouter with a denied upstream = %v; want %v", err, deny)
	}
	invalid := &Federation{Name: "x", Services: []Service{{Name: "a", BasePath: "nope", Reality: MockV3}}}
	err := r.Update(invalid)
	var list ErrorList
	if !errors.As(err, &list) || !strings.HasPrefix(err.Error(), "federation: ") {
		t.Errorf("Update(invalid) = %v; want a federation: error wrapping an ErrorList", err)
	}
	if r.Federation() != f {
		t.Errorf("a rejected Update replaced the served federation")
	}
	if rt, ok := r.Lookup("GET", "", "/mock"); !ok || rt.Service != "mock" {
		t.Errorf("after rejected updates Lookup(/mock) = %v %v; want the old route", rt, ok)
	}
}

func TestObserverExchanges(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "created!")
	}))
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf(`name: obs
services:
  - {name: real, base_path: /real, workspace: real-ws, reality: real, upstream: %q, strip_prefix: true}
  - {name: mock, base_path: /mock, reality: mock_v3}
`, up.URL))
	obs := make(chanObserver, 3)
	mocks := MockResolverFunc(func(ws string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, "mocked")
		}), nil
	})
	srv := front(t, newTestRouter(t, f, RouterConfig{Mocks: mocks, Observer: obs}))
	client := newClient(t)
	for _, p := range []string{"/real/a", "/mock/b", "/none"} {
		resp, err := client.Post(srv.URL+p, "text/plain", strings.NewReader("12345"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A streamed (real) response can reach the client an instant before
	// its exchange is observed: collect all three, in any order.
	xs := make([]Exchange, 3)
	for range 3 {
		select {
		case x := <-obs:
			xs[map[string]int{"real": 0, "mock": 1, "": 2}[x.Service]] = x
		case <-time.After(10 * time.Second):
			t.Fatal("an exchange was never observed")
		}
	}
	type summary struct {
		Service, Workspace, Route, Path, Method string
		ServedBy                                ServedBy
		Reality                                 RealityLevel
		Status                                  int
		In, Out                                 int64
	}
	want := []summary{
		{"real", "real-ws", "/real", "/a", "POST", ServedByReal, Real, 201, 5, 8},
		{"mock", "mock", "/mock", "/mock/b", "POST", ServedByMock, MockV3, 202, 5, 6},
		{"", "", "", "", "POST", ServedByRouter, "", 404, 0, -1},
	}
	for i, x := range xs {
		got := summary{x.Service, x.Workspace, x.Route, x.Path, x.Method, x.ServedBy, x.Reality, x.Status, x.RequestBytes, x.ResponseBytes}
		if i == 2 {
			got.Out = -1 // the problem body's size is not this test's business
		}
		if got != want[i] {
			t.Errorf("exchange %d = %+v; want %+v", i, got, want[i])
		}
		if x.Federation != "obs" || x.Latency <= 0 || x.Start.IsZero() {
			t.Errorf("exchange %d: federation %q latency %v start %v", i, x.Federation, x.Latency, x.Start)
		}
	}
}

type panickyObserver struct{}

func (panickyObserver) Observe(Exchange) { panic("observer bug") }

func TestObserverPanicIsContained(t *testing.T) {
	logs := &logRecorder{}
	r := newTestRouter(t, mustParse(t, safetyYAML), RouterConfig{Mocks: &echoMocks{}, Observer: panickyObserver{}, Logger: slog.New(logs)})
	resp := serve(r, httptest.NewRequest("GET", "http://router.test/mock", nil))
	if resp.StatusCode != 200 || logs.atLeast(slog.LevelError) != 1 {
		t.Errorf("status %d, %d error logs; want 200 and the panic logged once", resp.StatusCode, logs.atLeast(slog.LevelError))
	}
}

// A mock handler can take over the connection for a protocol upgrade
// through the router's response writer.
func TestMockUpgradeHijack(t *testing.T) {
	mocks := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") != "echo" || r.Header.Get("Connection") != "Upgrade" {
				http.Error(w, "want an upgrade request", http.StatusBadRequest)
				return
			}
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			brw.Flush()
			line, _ := brw.ReadString('\n')
			brw.WriteString("mock: " + line)
			brw.Flush()
		}), nil
	})
	obs := make(chanObserver, 1)
	f := mustParse(t, "name: up\nservices: [{name: ws, base_path: /, reality: mock_v3}]\n")
	srv := front(t, newTestRouter(t, f, RouterConfig{Mocks: mocks, Observer: obs}))
	conn, br, resp := dialUpgrade(t, srv.URL)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answer = %v; want 101", resp.Status)
	}
	fmt.Fprintf(conn, "hi\n")
	if line, err := br.ReadString('\n'); err != nil || line != "mock: hi\n" {
		t.Errorf("upgraded stream said %q, %v; want mock: hi", line, err)
	}
	conn.Close()
	// The server does not wait for hijacked connections: wait for the
	// exchange itself, which is observed when the handler returns.
	select {
	case x := <-obs:
		if x.Status != http.StatusSwitchingProtocols || x.ServedBy != ServedByMock {
			t.Errorf("observed %+v; want status 101 served by mock", x)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upgraded exchange was never observed")
	}
}

// chanObserver hands each exchange to the test.
type chanObserver chan Exchange

func (c chanObserver) Observe(x Exchange) { c <- x }
