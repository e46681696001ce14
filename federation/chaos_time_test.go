package federation

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// oracleLatency recomputes the delay of the request with sequence number
// seq from the seed: draws 16 and 17 are the latency's own.
func oracleLatency(c *Chaos, service string, seq uint64) time.Duration {
	l, k := c.Latency, oracleKey{seq: seq}
	switch {
	case l.Lognormal != nil:
		u1, u2 := 1-oracleDraw(c.Seed, service, 16, k), oracleDraw(c.Seed, service, 17, k)
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		return time.Duration(float64(l.Lognormal.Median) * math.Exp(l.Lognormal.Sigma*z))
	case l.Uniform[1] > 0:
		return l.Uniform[0] + time.Duration(float64(l.Uniform[1]-l.Uniform[0])*oracleDraw(c.Seed, service, 16, k))
	}
	return l.Fixed
}

// The time a request takes is read on synctest's fake clock, so the
// delays are exact and the tests wait for nothing.
func TestChaosTiming(t *testing.T) {
	body := strings.Repeat("x", 1000)
	tests := []struct {
		name    string
		chaos   string
		leaveAt time.Duration // the client cancels then; 0 = stays
		want    time.Duration // -1: the oracle's latency of the first request
		status  int           // the Exchange's status
		bodyLen int
	}{
		{"fixed latency", "{latency: {p: 1, fixed: 10s}}", 0, 10 * time.Second, 200, 1000},
		{"fixed latency, client leaves", "{latency: {p: 1, fixed: 10s}}", 3 * time.Second, 3 * time.Second, StatusClientClosed, 0},
		{"uniform latency", "{seed: 5, latency: {p: 1, uniform: [1s, 9s]}}", 0, -1, 200, 1000},
		{"lognormal latency", "{seed: 5, latency: {p: 1, lognormal: {median: 2s, sigma: 0.5}}}", 0, -1, 200, 1000},
		{"bandwidth", "{bandwidth: {p: 1, bytes_per_second: 100}}", 0, 10 * time.Second, 200, 1000},
		// Ten-byte slices leave at 0s, 0.1s, ... 4.0s: 41 of them before 4.05s.
		{"bandwidth, client leaves", "{bandwidth: {p: 1, bytes_per_second: 100}}", 4050 * time.Millisecond, 4050 * time.Millisecond, 200, 410},
		{"hang for its duration", "{hang: {p: 1, duration: 5s}}", 0, 5 * time.Second, 504, -1},
		{"hang bounded by the service timeout", "{hang: {p: 1}}", 0, 2 * time.Second, 504, -1},
		{"hang until the client leaves", "{hang: {p: 1}}", time.Second, time.Second, StatusClientClosed, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := "name: shop\nservices:\n  - {name: pay, base_path: /pay, reality: chaos_driven, timeout: 2s, chaos: " + tc.chaos + "}\n"
				f := mustParse(t, src)
				mock := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
				obs := &exchanges{}
				r := newTestRouter(t, f, RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) { return mock, nil }), Observer: obs})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				rec := httptest.NewRecorder()
				start := time.Now()
				took := make(chan time.Duration)
				go func() {
					r.ServeHTTP(rec, httptest.NewRequest("GET", "http://router.test/pay/x", nil).WithContext(ctx))
					took <- time.Since(start)
				}()
				if tc.leaveAt > 0 {
					time.Sleep(tc.leaveAt)
					cancel()
				}
				got := <-took
				want := tc.want
				if want < 0 {
					want = oracleLatency(f.Services[0].Chaos, "pay", 0)
				}
				if got != want {
					t.Errorf("the request took %v; want %v", got, want)
				}
				x := lastExchange(t, obs)
				if x.Status != tc.status {
					t.Errorf("exchange status %d (%v); want %d", x.Status, x.Err, tc.status)
				}
				if tc.leaveAt > 0 && !errors.Is(x.Err, errClientGone) {
					t.Errorf("exchange error %v; want client gone", x.Err)
				}
				if tc.bodyLen >= 0 && rec.Body.Len() != tc.bodyLen {
					t.Errorf("the client got %d body bytes; want %d", rec.Body.Len(), tc.bodyLen)
				}
			})
		})
	}
}
