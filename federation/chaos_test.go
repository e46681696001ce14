package federation

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// chaosYAML is a federation with one chaos_driven service on the echo mock.
func chaosYAML(chaos string) string {
	return "name: shop\nservices:\n  - {name: pay, base_path: /pay, reality: chaos_driven, chaos: " + chaos + "}\n"
}

// signalled is an Observer that keeps every exchange and signals each
// one: a hijacked connection (reset, empty) can reach the client before
// its handler has returned, so tests wait for the signal, not the server.
type signalled struct {
	exchanges
	seen chan struct{}
}

func (o *signalled) Observe(x Exchange) {
	o.exchanges.Observe(x)
	o.seen <- struct{}{}
}

// chaosServer serves a router for chaos over a real connection.
func chaosServer(t *testing.T, chaos string) (*httptest.Server, *Router, *signalled) {
	t.Helper()
	obs := &signalled{seen: make(chan struct{}, 16)}
	r := newTestRouter(t, mustParse(t, chaosYAML(chaos)), RouterConfig{Mocks: &echoMocks{}, Observer: obs})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, r, obs
}

func lastExchange(t *testing.T, obs *exchanges) Exchange {
	t.Helper()
	xs := obs.all()
	if len(xs) == 0 {
		t.Fatal("no exchange observed")
	}
	return xs[len(xs)-1]
}

func TestChaosFaultsOverRealConnections(t *testing.T) {
	tests := []struct {
		name   string
		chaos  string
		check  func(t *testing.T, resp *http.Response, err error)
		fired  ChaosFaults
		failed bool // the fault failed the exchange (Err wraps ErrChaosFault)
	}{
		{
			name: "latency serves the mock", chaos: "{latency: {p: 1, fixed: 1ms}}",
			fired: ChaosFaults(0).with(FaultLatency),
			check: func(t *testing.T, resp *http.Response, err error) {
				if err != nil || resp.StatusCode != 200 || resp.Header.Get(HeaderServedBy) != "mock" {
					t.Fatalf("got %v, %v; want 200 served by mock", resp, err)
				}
			},
		},
		{
			name: "abort with retry-after", chaos: "{abort: {p: 1, status: 503, retry_after: 1500ms}}",
			fired: ChaosFaults(0).with(FaultAbort), failed: true,
			check: func(t *testing.T, resp *http.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if got := resp.Header.Get("Retry-After"); got != "2" {
					t.Errorf("Retry-After = %q; want 2 (1.5s rounded up)", got)
				}
				if got := resp.Header.Get(HeaderServedBy); got != string(ServedByChaos) {
					t.Errorf("served by %q; want chaos", got)
				}
				p := readProblem(t, resp, http.StatusServiceUnavailable)
				if p["service"] != "pay" {
					t.Errorf("problem service = %v; want pay", p["service"])
				}
			},
		},
		{
			name: "reset", chaos: "{reset: {p: 1}}", fired: ChaosFaults(0).with(FaultReset), failed: true,
			check: func(t *testing.T, resp *http.Response, err error) {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("got %v, %v; want a connection reset by peer", resp, err)
				}
			},
		},
		{
			name: "empty", chaos: "{empty: {p: 1}}", fired: ChaosFaults(0).with(FaultEmpty), failed: true,
			check: func(t *testing.T, resp *http.Response, err error) {
				if !errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("got %v, %v; want an empty reply (EOF, not a reset)", resp, err)
				}
			},
		},
		{
			name: "truncate", chaos: "{truncate: {p: 1, after: 10}}", fired: ChaosFaults(0).with(FaultTruncate), failed: true,
			check: func(t *testing.T, resp *http.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 10 {
					t.Fatalf("body %q, %v; want 10 bytes then an unexpected EOF", body, err)
				}
			},
		},
		{
			name: "hang gives up at its duration", chaos: "{hang: {p: 1, duration: 1ms}}",
			fired: ChaosFaults(0).with(FaultHang), failed: true,
			check: func(t *testing.T, resp *http.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				readProblem(t, resp, http.StatusGatewayTimeout)
			},
		},
		{
			name: "bandwidth delivers the whole body", chaos: "{bandwidth: {p: 1, bytes_per_second: 100000}}",
			fired: ChaosFaults(0).with(FaultBandwidth),
			check: func(t *testing.T, resp *http.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				decodeEcho(t, body)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, r, obs := chaosServer(t, tc.chaos)
			client := newClient(t)
			resp, err := client.Get(srv.URL + "/pay/x")
			if resp != nil {
				defer resp.Body.Close()
			}
			tc.check(t, resp, err)
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			<-obs.seen
			x := lastExchange(t, &obs.exchanges)
			if x.Faults != tc.fired {
				t.Errorf("Exchange.Faults = %v; want %v", x.Faults, tc.fired)
			}
			if got := errors.Is(x.Err, ErrChaosFault); got != tc.failed {
				t.Errorf("Exchange.Err = %v: wraps ErrChaosFault %v; want %v", x.Err, got, tc.failed)
			}
			st := r.ChaosStats()["pay"]
			if st.Requests != 1 {
				t.Errorf("ChaosStats.Requests = %d; want 1", st.Requests)
			}
		})
	}
}

// On HTTP/2 a handler cannot take the connection: reset and empty reset
// the stream, and the connection serves the next request.
func TestChaosConnectionFaultsOnHTTP2ResetTheStream(t *testing.T) {
	for _, fault := range []string{"reset", "empty"} {
		t.Run(fault, func(t *testing.T) {
			obs := &signalled{seen: make(chan struct{}, 16)}
			r := newTestRouter(t, mustParse(t, chaosYAML("{header_faults: true, "+fault+": {p: 0}}")), RouterConfig{Mocks: &echoMocks{}, Observer: obs})
			srv := httptest.NewUnstartedServer(r)
			srv.EnableHTTP2 = true
			var conns atomic.Int32
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
			srv.StartTLS()
			defer srv.Close()
			client := srv.Client()
			defer client.CloseIdleConnections()
			req, _ := http.NewRequest("GET", srv.URL+"/pay/x", nil)
			req.Header.Set(HeaderChaos, fault)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got %d over %s; want a stream error", resp.StatusCode, resp.Proto)
			}
			<-obs.seen
			if x := lastExchange(t, &obs.exchanges); !errors.Is(x.Err, ErrChaosFault) {
				t.Errorf("Exchange.Err = %v; want ErrChaosFault", x.Err)
			}
			resp, err = client.Get(srv.URL + "/pay/x")
			if err != nil {
				t.Fatalf("after the reset stream: %v; want the connection to serve on", err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
				t.Errorf("got %d over %s; want 200 over HTTP/2", resp.StatusCode, resp.Proto)
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d connections; want 1 (only the stream was reset)", n)
			}
		})
	}
}

func TestChaosProbabilityEdges(t *testing.T) {
	const n = 200
	all := "latency: {p: %[1]s, fixed: 1ns}, bandwidth: {p: %[1]s, bytes_per_second: 1000000000}, abort: {p: %[1]s, status: 500}, " +
		"reset: {p: %[1]s}, empty: {p: %[1]s}, truncate: {p: %[1]s, after: 1}, hang: {p: %[1]s, duration: 1ns}"
	tests := []struct {
		p    string
		want ChaosStats
	}{
		{"0", ChaosStats{Requests: n}},
		// p: 1 fires every fault; the delays all apply, of the terminal
		// ones only the first (abort).
		{"1", ChaosStats{Requests: n, Latency: n, Bandwidth: n, Abort: n}},
	}
	for _, tc := range tests {
		t.Run("p="+tc.p, func(t *testing.T) {
			r := newTestRouter(t, mustParse(t, chaosYAML("{seed: 3, "+fmt.Sprintf(all, tc.p)+"}")), RouterConfig{Mocks: &echoMocks{}})
			for range n {
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, httptest.NewRequest("GET", "http://router.test/pay/x", nil))
			}
			if diff := cmp.Diff(tc.want, r.ChaosStats()["pay"]); diff != "" {
				t.Errorf("ChaosStats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChaosAbortRateIsBinomial(t *testing.T) {
	const n, p = 10000, 0.05
	r := newTestRouter(t, mustParse(t, chaosYAML("{seed: 11, abort: {p: 0.05, status: 503}}")), RouterConfig{Mocks: &echoMocks{}})
	aborted := 0
	for range n {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "http://router.test/pay/x", nil))
		if rec.Code == http.StatusServiceUnavailable {
			aborted++
		}
	}
	// 99.9% two-sided normal approximation: n p ± 3.29 sqrt(n p (1-p)) = [428.3, 571.7].
	if aborted < 429 || aborted > 571 {
		t.Errorf("%d of %d requests aborted at p %v; want within the binomial 99.9%% interval [429, 571]", aborted, n, p)
	}
	if got := r.ChaosStats()["pay"].Abort; got != uint64(aborted) {
		t.Errorf("ChaosStats.Abort = %d; want %d (the aborts seen)", got, aborted)
	}
}

func TestChaosHeaderFaults(t *testing.T) {
	tests := []struct {
		name   string
		chaos  string
		header string
		status int
		fired  ChaosFaults
	}{
		{"enabled", "{header_faults: true, abort: {p: 0, status: 502}}", "abort", 502, ChaosFaults(0).with(FaultAbort)},
		{"disabled", "{abort: {p: 0, status: 502}}", "abort", 200, 0},
		{"unconfigured fault ignored", "{header_faults: true, abort: {p: 0, status: 502}}", "reset, hang", 200, 0},
		{"capped", "{header_faults: true, max_active_faults: 1, latency: {p: 1, fixed: 1ns}, abort: {p: 0, status: 502}}",
			"Abort", 200, ChaosFaults(0).with(FaultLatency)},
		{"cap of two", "{header_faults: true, max_active_faults: 2, latency: {p: 1, fixed: 1ns}, abort: {p: 0, status: 502}}",
			"abort", 502, ChaosFaults(0).with(FaultLatency).with(FaultAbort)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := &exchanges{}
			r := newTestRouter(t, mustParse(t, chaosYAML(tc.chaos)), RouterConfig{Mocks: &echoMocks{}, Observer: obs})
			req := httptest.NewRequest("GET", "http://router.test/pay/x", nil)
			req.Header.Set(HeaderChaos, tc.header)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status = %d; want %d", rec.Code, tc.status)
			}
			if got := lastExchange(t, obs).Faults; got != tc.fired {
				t.Errorf("faults = %v; want %v", got, tc.fired)
			}
		})
	}
}

func TestChaosOnRealBase(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("real!", 100))
	}))
	defer upstream.Close()
	tests := []struct {
		name  string
		chaos string
		want  string
		err   error
	}{
		{"no fault", "{base: real, truncate: {p: 0, after: 7}}", strings.Repeat("real!", 100), nil},
		{"truncated", "{base: real, truncate: {p: 1, after: 7}}", "real!re", io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "name: shop\nservices:\n  - {name: pay, base_path: /pay, reality: chaos_driven, upstream: \"" + upstream.URL + "\", chaos: " + tc.chaos + "}\n"
			obs := &exchanges{}
			r := newTestRouter(t, mustParse(t, src), RouterConfig{Observer: obs})
			srv := httptest.NewServer(r)
			defer srv.Close()
			resp, err := newClient(t).Get(srv.URL + "/pay/x")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if string(body) != tc.want || !errors.Is(err, tc.err) && err != tc.err {
				t.Errorf("body %q, %v; want %q, %v", body, err, tc.want, tc.err)
			}
			if got := resp.Header.Get(HeaderServedBy); got != "real" {
				t.Errorf("served by %q; want real", got)
			}
			resp.Body.Close()
			srv.Close() // the handler has returned: the exchange was observed
			x := lastExchange(t, obs)
			if got, want := errors.Is(x.Err, ErrChaosFault), tc.err != nil; got != want {
				t.Errorf("Exchange.Err = %v: wraps ErrChaosFault %v; want %v", x.Err, got, want)
			}
			if x.Request == nil && x.ServedBy != ServedByReal {
				t.Errorf("exchange served by %q; want real", x.ServedBy)
			}
		})
	}
}

func TestChaosNeedsMocksForMockBase(t *testing.T) {
	_, err := NewRouter(mustParse(t, chaosYAML("{abort: {p: 1, status: 503}}")), RouterConfig{})
	if err == nil {
		t.Fatal("NewRouter without Mocks for chaos on mock = nil error; want one")
	}
}

// keyObserver records the faults of each request by its X-Request-Id,
// and counts them by fault set.
type keyObserver struct {
	mu     sync.Mutex
	byKey  map[string]ChaosFaults
	counts map[ChaosFaults]int
}

func (o *keyObserver) Observe(x Exchange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if k := x.Request.Header.Get("X-Request-Id"); k != "" {
		o.byKey[k] = x.Faults
	}
	o.counts[x.Faults]++
}

// The two runs of one seed must decide alike per key whatever the
// goroutine order, and as the oracle recomputes from the seed.
func TestChaosSeededRunsAreReproducible(t *testing.T) {
	const chaos = "{seed: 42, key_header: X-Request-Id, latency: {p: 0.3, fixed: 1ns}, abort: {p: 0.2, status: 503}, " +
		"empty: {p: 0.1}, truncate: {p: 0.2, after: 100000}}"
	const goroutines, each = 8, 100
	cfg := mustParse(t, chaosYAML(chaos)).Services[0].Chaos
	run := func(byHeader bool) *keyObserver {
		obs := &keyObserver{byKey: map[string]ChaosFaults{}, counts: map[ChaosFaults]int{}}
		r := newTestRouter(t, mustParse(t, chaosYAML(chaos)), RouterConfig{Mocks: &echoMocks{}, Observer: obs})
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					req := httptest.NewRequest("GET", "http://router.test/pay/x", nil)
					if byHeader {
						req.Header.Set("X-Request-Id", fmt.Sprintf("req-%d-%d", g, i))
					}
					func() {
						defer func() { recover() }() // empty aborts the handler (no connection to close)
						r.ServeHTTP(httptest.NewRecorder(), req)
					}()
				}
			})
		}
		wg.Wait()
		return obs
	}
	t.Run("by key header", func(t *testing.T) {
		first, second := run(true), run(true)
		if diff := cmp.Diff(first.byKey, second.byKey); diff != "" {
			t.Errorf("second run differs (-first +second):\n%s", diff)
		}
		want := map[string]ChaosFaults{}
		for g := range goroutines {
			for i := range each {
				k := fmt.Sprintf("req-%d-%d", g, i)
				want[k] = oracle(cfg, "pay", oracleKey{header: k, byName: true})
			}
		}
		if diff := cmp.Diff(want, first.byKey); diff != "" {
			t.Errorf("decisions differ from the oracle (-oracle +got):\n%s", diff)
		}
		if len(first.counts) < 4 {
			t.Errorf("only %d distinct fault sets in %d requests: %v; want the probabilities to mix", len(first.counts), goroutines*each, first.counts)
		}
	})
	t.Run("by sequence", func(t *testing.T) {
		first, second := run(false), run(false)
		if diff := cmp.Diff(first.counts, second.counts); diff != "" {
			t.Errorf("second run's fault counts differ (-first +second):\n%s", diff)
		}
		want := map[ChaosFaults]int{}
		for seq := range uint64(goroutines * each) {
			want[oracle(cfg, "pay", oracleKey{seq: seq})]++
		}
		if diff := cmp.Diff(want, first.counts); diff != "" {
			t.Errorf("fault counts differ from the oracle's over the sequence (-oracle +got):\n%s", diff)
		}
	})
}

func TestChaosDrawRange(t *testing.T) {
	for _, h := range []uint64{0, 1 << 11, 1<<64 - 1} {
		if u := unit(h); !(u >= 0 && u < 1) {
			t.Errorf("unit(%#x) = %v; want within [0, 1)", h, u)
		}
	}
	if got := unit(1<<64 - 1); got < 1-1e-15 {
		t.Errorf("unit(max) = %v; want just below 1", got)
	}
}

func TestChaosDecisionAllocatesNothing(t *testing.T) {
	c := mustParse(t, chaosYAML("{seed: 1, header_faults: true, latency: {p: 1, lognormal: {median: 1s, sigma: 1}}, abort: {p: 0.5, status: 503}, hang: {p: 1}}")).Services[0].Chaos
	h := http.Header{HeaderChaos: {"abort, reset"}}
	allocs := testing.AllocsPerRun(100, func() {
		decide(c, "pay", chaosKey{header: "k", byName: true}, forcedFaults(c, h))
		decide(c, "pay", chaosKey{seq: 9}, 0)
	})
	if allocs != 0 {
		t.Errorf("a chaos decision allocates %v times; want 0", allocs)
	}
}
