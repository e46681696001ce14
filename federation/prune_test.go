package federation

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// transportOrigins lists the origins the router holds a transport for.
func transportOrigins(r *Router) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for origin := range r.transports {
		out = append(out, origin)
	}
	slices.Sort(out)
	return out
}

// closingTransports makes countingTransports and counts, per upstream
// host, how often their idle connections were closed.
type closingTransports struct {
	mu     sync.Mutex
	closed map[string]*atomic.Int64
}

func (c *closingTransports) new(u *url.URL) http.RoundTripper {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		c.closed = map[string]*atomic.Int64{}
	}
	n := &atomic.Int64{}
	c.closed[u.Host] = n
	return &countingTransport{base: defaultTransport(2, nil), closed: n}
}

func (c *closingTransports) count(host string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.closed[host]; n != nil {
		return n.Load()
	}
	return 0
}

// A failed Update leaves no transport behind.
func TestFailedUpdateLeavesNoTransport(t *testing.T) {
	up := echoUpstream(t)
	u, _ := url.Parse(up.URL)
	made := &closingTransports{}
	r := newTestRouter(t, mustParse(t, "name: m\nservices: [{name: m, base_path: /m, reality: real, upstream: \"http://127.0.0.1:1\"}]\n"),
		RouterConfig{NewTransport: made.new})
	// The real service registers its transport before the mock_v3 one
	// fails the build (no RouterConfig.Mocks).
	bad := mustParse(t, fmt.Sprintf(`name: bad
services:
  - {name: a, base_path: /a, reality: real, upstream: %q}
  - {name: b, base_path: /b, reality: mock_v3}
`, up.URL))
	if err := r.Update(bad); err == nil {
		t.Fatal("Update without Mocks for a mock_v3 service succeeded")
	}
	if diff := cmp.Diff([]string{"http://127.0.0.1:1"}, transportOrigins(r)); diff != "" {
		t.Errorf("transports after a failed Update (-want +got):\n%s", diff)
	}
	if made.count(u.Host) != 1 {
		t.Errorf("the failed Update's transport closed %d times; want 1", made.count(u.Host))
	}
}

// The transport of an upstream no snapshot uses any more is pruned, but
// only once the requests still in flight on it have ended.
func TestTransportsPrunedAfterInFlightRequestsEnd(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "late")
	}))
	t.Cleanup(slow.Close)
	other := echoUpstream(t)
	made := &closingTransports{}
	oldFed := mustParse(t, fmt.Sprintf("name: p\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", slow.URL))
	newFed := mustParse(t, fmt.Sprintf("name: p\nservices: [{name: b, base_path: /, reality: real, upstream: %q}]\n", other.URL))
	r := newTestRouter(t, oldFed, RouterConfig{NewTransport: made.new})
	done := make(chan *http.Response)
	go func() { done <- serve(r, httptest.NewRequest("GET", "http://router.test/x", nil)) }()
	<-entered
	if err := r.Update(newFed); err != nil {
		t.Fatal(err)
	}
	both := []string{other.URL, slow.URL}
	slices.Sort(both)
	if diff := cmp.Diff(both, transportOrigins(r)); diff != "" {
		t.Errorf("transports while a request is in flight on the old upstream (-want +got):\n%s", diff)
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
	if diff := cmp.Diff([]string{other.URL}, transportOrigins(r)); diff != "" {
		t.Errorf("transports once the old upstream's request ended (-want +got):\n%s", diff)
	}
	su, _ := url.Parse(slow.URL)
	if n := made.count(su.Host); n < 1 {
		t.Errorf("the pruned transport's idle connections were closed %d times; want at least once", n)
	}
	// With nothing in flight, an Update prunes at once; an upstream that
	// comes back gets a transport anew.
	if err := r.Update(oldFed); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{slow.URL}, transportOrigins(r)); diff != "" {
		t.Errorf("transports after switching back (-want +got):\n%s", diff)
	}
}
