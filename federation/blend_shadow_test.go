package federation

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// shadowMocks is blendMock plus /block, which waits for release and
// records whether its context was still live and bounded.
type shadowMocks struct {
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
	ctxOK   atomic.Bool
}

func (m *shadowMocks) MockHandler(ws string) (http.Handler, error) {
	h, _ := blendMock(&m.calls).MockHandler(ws)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			m.entered <- struct{}{}
			<-m.release
			_, hasDeadline := r.Context().Deadline()
			_, routed := RouteFrom(r.Context())
			m.ctxOK.Store(r.Context().Err() == nil && hasDeadline && routed)
			io.WriteString(w, `{"from":"mock"}`)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

func shadowRouter(t *testing.T, obs Observer, mocks MockResolver, maxShadows int) (*httptest.Server, *Router) {
	up, dead := blendUpstream(t).URL, deadAddr(t)
	f := mustParse(t, fmt.Sprintf(`name: shadow
services:
  - {name: s, base_path: /s, strip_prefix: true, reality: blended, upstream: %[1]q, blend: {strategy: shadow}}
  - {name: sm, base_path: /sm, strip_prefix: true, reality: blended, upstream: %[1]q, blend: {strategy: shadow, primary: mock}}
  - {name: sdown, base_path: /sdown, strip_prefix: true, reality: blended, upstream: %[2]q, blend: {strategy: shadow}}
  - {name: s0, base_path: /s0, strip_prefix: true, reality: blended, upstream: %[1]q, blend: {strategy: shadow, sample: 0}}
  - {name: rfc, base_path: /rfc, strip_prefix: true, reality: blended, upstream: %[1]q, blend: {strategy: real_first, compare_sample: 1, fallback_status: [503]}}
  - {name: rfc0, base_path: /rfc0, strip_prefix: true, reality: blended, upstream: %[1]q, blend: {strategy: real_first, compare_sample: 0}}
`, up, dead))
	r := newTestRouter(t, f, RouterConfig{Mocks: mocks, Observer: obs, MaxShadows: maxShadows})
	return front(t, r), r
}

func TestBlendShadow(t *testing.T) {
	emailDiff := []Difference{{Path: "$.email", Kind: DiffValue, Mock: `"ada@mock.example"`, Real: `"ada@real.example"`}}
	tests := []struct {
		name, method, path string
		status             int
		servedBy           ServedBy
		bodyHas            string
		shadowBy           ServedBy // "" when no shadow call
		diffs              []Difference
		stats              ShadowStats
	}{
		{name: "real primary, mock shadow", method: "GET", path: "/s/user", status: 200, servedBy: ServedByReal, bodyHas: "ada@real.example",
			shadowBy: ServedByMock, diffs: emailDiff, stats: ShadowStats{Started: 1}},
		{name: "mock primary, real shadow", method: "GET", path: "/sm/user", status: 200, servedBy: ServedByMock, bodyHas: "ada@mock.example",
			shadowBy: ServedByReal, diffs: emailDiff, stats: ShadowStats{Started: 1}},
		{name: "real primary, POST shadowed to the mock", method: "POST", path: "/s/user", status: 200, servedBy: ServedByReal,
			shadowBy: ServedByMock, diffs: emailDiff, stats: ShadowStats{Started: 1}},
		{name: "mock primary, POST not sent to real", method: "POST", path: "/sm/user", status: 200, servedBy: ServedByMock, stats: ShadowStats{Skipped: 1}},
		{name: "primary upstream down", method: "GET", path: "/sdown/x", status: http.StatusBadGateway, servedBy: ServedByReal, stats: ShadowStats{Skipped: 1}},
		{name: "sample 0", method: "GET", path: "/s0/user", status: 200, servedBy: ServedByReal},
		{name: "real_first sampled comparison", method: "GET", path: "/rfc/user", status: 200, servedBy: ServedByReal, bodyHas: "ada@real.example",
			shadowBy: ServedByMock, diffs: emailDiff, stats: ShadowStats{Started: 1}},
		{name: "real_first fallback: nothing to compare", method: "GET", path: "/rfc/503", status: 200, servedBy: ServedByMock},
		{name: "real_first compare_sample 0", method: "GET", path: "/rfc0/user", status: 200, servedBy: ServedByReal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &exchanges{}
			var calls atomic.Int64
			srv, r := shadowRouter(t, obs, blendMock(&calls), 0)
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := newClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			srv.Close()
			if err := r.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown = %v", err)
			}
			if resp.StatusCode != tt.status || resp.Header.Get(HeaderServedBy) != string(tt.servedBy) || !strings.Contains(string(body), tt.bodyHas) {
				t.Errorf("got %d served by %q %s; want %d served by %s with %q", resp.StatusCode, resp.Header.Get(HeaderServedBy), body, tt.status, tt.servedBy, tt.bodyHas)
			}
			if got := r.ShadowStats(); got != tt.stats {
				t.Errorf("ShadowStats = %+v; want %+v", got, tt.stats)
			}
			xs := obs.all()
			if len(xs) == 2 && xs[0].Shadow { // the shadow may end before the primary is observed
				xs[0], xs[1] = xs[1], xs[0]
			}
			want := 1
			if tt.shadowBy != "" {
				want = 2
			}
			if len(xs) != want {
				t.Fatalf("observed %d exchanges; want %d", len(xs), want)
			}
			if xs[0].Shadow || xs[0].ServedBy != tt.servedBy || xs[0].Comparison != nil {
				t.Errorf("primary Exchange = %+v; want not shadow, served by %s, no comparison", xs[0], tt.servedBy)
			}
			if want == 1 {
				return
			}
			sh := xs[1]
			if !sh.Shadow || sh.ServedBy != tt.shadowBy || sh.Comparison == nil || sh.Service != strings.Split(tt.path, "/")[1] {
				t.Fatalf("shadow Exchange = %+v; want shadow, served by %s, compared", sh, tt.shadowBy)
			}
			if diff := cmp.Diff(tt.diffs, sh.Comparison.Differences); diff != "" {
				t.Errorf("shadow Comparison mismatch (-want +got):\n%s", diff)
			}
			if got := r.RecentDiffs(sh.Service); len(got) != 1 || got[0].Comparison != sh.Comparison {
				t.Errorf("RecentDiffs = %+v; want the shadow's comparison", got)
			}
		})
	}
}

// TestBlendShadowBounded: with MaxShadows 1 and one shadow call held, a
// second request is served but its shadow dropped and counted; the held
// one runs on a live, bounded context after its client got its answer,
// and Shutdown waits for it.
func TestBlendShadowBounded(t *testing.T) {
	obs := &exchanges{}
	m := &shadowMocks{entered: make(chan struct{}, 2), release: make(chan struct{})}
	srv, r := shadowRouter(t, obs, m, 1)
	client := newClient(t)
	for i := range 2 {
		resp, err := client.Get(srv.URL + "/s/block")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get(HeaderServedBy) != "real" {
			t.Errorf("request %d served by %q; want real", i, resp.Header.Get(HeaderServedBy))
		}
		if i == 0 {
			<-m.entered // the shadow holds the only slot
		}
	}
	srv.Close() // waits for both handlers, which start their shadows after answering
	if got, want := r.ShadowStats(), (ShadowStats{Started: 1, Dropped: 1}); got != want {
		t.Errorf("ShadowStats = %+v; want %+v", got, want)
	}
	done := make(chan error, 1)
	go func() { done <- r.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a shadow call was running", err)
	default:
	}
	close(m.release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if !m.ctxOK.Load() {
		t.Errorf("the shadow call's context was cancelled, unbounded or unrouted; want live, with a deadline, routed")
	}
	if got := r.ShadowStats(); got.Started != 1 {
		t.Errorf("ShadowStats after Shutdown = %+v; want Started 1", got)
	}
	var shadows int
	for _, x := range obs.all() {
		if x.Shadow {
			shadows++
		}
	}
	if shadows != 1 {
		t.Errorf("observed %d shadow exchanges; want 1", shadows)
	}
}
