package federation

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// TestHotReloadUnderLoad swaps between two federations while clients
// hammer the router: every request must succeed and reach the service its
// path names, in either version. Run with -race.
func TestHotReloadUnderLoad(t *testing.T) {
	up := echoUpstream(t)
	version := func(v int) *Federation {
		// Both versions route the same prefixes to the same services, but
		// with other workspaces, realities and an extra service, so a
		// half-swapped table would show.
		extra := ""
		if v == 2 {
			extra = fmt.Sprintf("\n  - {name: extra, base_path: /extra, reality: real, upstream: %q}", up.URL)
		}
		reality := "mock_v3"
		if v == 2 {
			reality = fmt.Sprintf("real, upstream: %q", up.URL)
		}
		return mustParse(t, fmt.Sprintf(`name: reload
services:
  - {name: a, base_path: /a, workspace: a-v%d, reality: mock_v3}
  - {name: b, base_path: /b, workspace: b-v%d, reality: %s}
  - {name: c, base_path: /a/c, workspace: c-v%d, reality: mock_v3}%s
`, v, v, reality, v, extra))
	}
	v1, v2 := version(1), version(2)
	bad := &Federation{Name: "bad", Services: []Service{{Name: "x", BasePath: "relative", Reality: MockV3}}}
	r := newTestRouter(t, v1, RouterConfig{Mocks: &echoMocks{}})
	srv := front(t, r)
	client := newClient(t)

	var stop atomic.Bool
	var updates, rejected atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			next := v1
			if i%2 == 0 {
				next = v2
			}
			if err := r.Update(next); err != nil {
				t.Errorf("Update: %v", err)
				return
			}
			if err := r.Update(bad); err == nil {
				t.Errorf("Update(bad) succeeded")
				return
			}
			updates.Add(1)
			rejected.Add(1)
		}
	})
	paths := []struct{ path, service string }{
		{"/a/1", "a"}, {"/b/2", "b"}, {"/a/c/3", "c"}, {"/a/cc", "a"},
	}
	var requests atomic.Int64
	var clients sync.WaitGroup
	for w := 0; w < 4; w++ {
		clients.Go(func() {
			for i := 0; i < 150; i++ {
				p := paths[(w+i)%len(paths)]
				resp, err := client.Get(srv.URL + p.path)
				if err != nil {
					t.Errorf("GET %s: %v", p.path, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s = %d %s during reload", p.path, resp.StatusCode, body)
					return
				}
				e := decodeEcho(t, body)
				okMock := e.Service == p.service && (e.Workspace == p.service+"-v1" || e.Workspace == p.service+"-v2")
				okReal := p.service == "b" && e.Workspace == "upstream" && e.RawPath == p.path
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
	if updates.Load() < 2 || requests.Load() != 600 {
		t.Errorf("%d updates, %d good requests; want >= 2 updates during 600 requests", updates.Load(), requests.Load())
	}
	if got := r.Federation(); got != v1 && got != v2 {
		t.Errorf("served federation %q is neither version", got.Name)
	}
	t.Logf("%d swaps, %d rejected updates, %d requests", updates.Load(), rejected.Load(), requests.Load())
}

// A request routed before an Update finishes on the snapshot it started
// with, even when the Update removes its service.
func TestInFlightRequestKeepsItsSnapshot(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	mocks := MockResolverFunc(func(ws string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			rt, _ := RouteFrom(r.Context())
			io.WriteString(w, rt.Federation+"/"+rt.Service)
		}), nil
	})
	old := mustParse(t, "name: old\nservices: [{name: slow, base_path: /slow, reality: mock_v3}]\n")
	r := newTestRouter(t, old, RouterConfig{Mocks: mocks})
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.ServeHTTP(w, httptest.NewRequest("GET", "http://router.test/slow", nil))
	}()
	<-entered
	if err := r.Update(mustParse(t, "name: new\nservices: [{name: other, base_path: /other, reality: mock_v3}]\n")); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("GET", "", "/slow"); ok {
		t.Errorf("/slow still routed after the Update removed it")
	}
	close(release)
	<-done
	if w.Code != 200 || w.Body.String() != "old/slow" {
		t.Errorf("in-flight request = %d %q; want 200 old/slow", w.Code, w.Body)
	}
}

// Transports are made once per upstream origin and survive Updates, so
// warm connections are kept; Close closes their idle connections.
func TestTransportPerOrigin(t *testing.T) {
	up := echoUpstream(t)
	var made []string
	var closed atomic.Int64
	cfg := RouterConfig{NewTransport: func(u *url.URL) http.RoundTripper {
		made = append(made, u.Host)
		return &countingTransport{base: defaultTransport(2, nil), closed: &closed}
	}}
	f := mustParse(t, fmt.Sprintf(`name: tr
services:
  - {name: a, base_path: /a, reality: real, upstream: %q}
  - {name: b, base_path: /b, reality: real, upstream: "%s/base"}
`, up.URL, up.URL))
	r := newTestRouter(t, f, cfg)
	if err := r.Update(f); err != nil {
		t.Fatal(err)
	}
	if len(made) != 1 {
		t.Errorf("transports made for %v; want one for the shared origin, kept across Update", made)
	}
	resp := serve(r, httptest.NewRequest("GET", "http://router.test/b/x", nil))
	body, _ := io.ReadAll(resp.Body)
	if e := decodeEcho(t, body); e.RawPath != "/base/b/x" {
		t.Errorf("upstream with a path got %q; want /base/b/x", e.RawPath)
	}
	r.Close()
	r.Close() // idempotent
	if closed.Load() != 2 {
		t.Errorf("CloseIdleConnections called %d times; want once per Close", closed.Load())
	}
}

type countingTransport struct {
	base   *http.Transport
	closed *atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return c.base.RoundTrip(r)
}
func (c *countingTransport) CloseIdleConnections() {
	c.closed.Add(1)
	c.base.CloseIdleConnections()
}
