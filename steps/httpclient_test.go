package steps

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// answer is one scripted reply of a test server.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// scripted serves answers in order (the last one repeats) and records
// what each request carried.
type scripted struct {
	mu       sync.Mutex
	answers  []answer
	bodies   []string
	keys     []string
	agents   []string
	requests int
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	a := s.answers[min(s.requests, len(s.answers)-1)]
	s.requests++
	s.bodies = append(s.bodies, string(b))
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	s.agents = append(s.agents, r.Header.Get("User-Agent"))
	s.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// recordSleep replaces the retry wait: it records the durations asked for.
type recordSleep struct{ waits []time.Duration }

func (r *recordSleep) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func newTestClient(t *testing.T, cfg HTTPConfig) *http.Client {
	t.Helper()
	c := NewHTTPClient(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestClientRetries(t *testing.T) {
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name         string
		answers      []answer
		maxRetryWait time.Duration
		replayable   bool
		wantRequests int
		wantWaits    []time.Duration // nil: no fixed expectation (backoff)
		wantStatus   int
	}{
		{"400 is not retried", []answer{{status: 400, body: "bad"}}, 0, true, 1, []time.Duration{}, 400},
		{"404 is not retried", []answer{{status: 404}}, 0, true, 1, []time.Duration{}, 404},
		{"500 is not retried", []answer{{status: 500}}, 0, true, 1, []time.Duration{}, 500},
		{"503 with Retry-After then 200", []answer{{status: 503, retryAfter: "2"}, {status: 200}}, 0, true, 2, []time.Duration{2 * time.Second}, 200},
		{"429 with Retry-After until attempts are spent", []answer{{status: 429, retryAfter: "1"}}, 0, true, 3, []time.Duration{time.Second, time.Second}, 429},
		{"504 then 502 then 200", []answer{{status: 504, retryAfter: "1"}, {status: 502, retryAfter: "3"}, {status: 200}}, 0, true, 3, []time.Duration{time.Second, 3 * time.Second}, 200},
		{"Retry-After beyond the bound is not waited", []answer{{status: 503, retryAfter: "120"}, {status: 200}}, 30 * time.Second, true, 1, []time.Duration{}, 503},
		{"Retry-After as an HTTP date beyond the bound", []answer{{status: 429, retryAfter: date}, {status: 200}}, 0, true, 1, []time.Duration{}, 429},
		{"a body that cannot be replayed is sent once", []answer{{status: 503, retryAfter: "1"}, {status: 200}}, 0, false, 1, []time.Duration{}, 503},
		{"no Retry-After: backoff", []answer{{status: 502}, {status: 200}}, 0, true, 2, nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &scripted{answers: tt.answers}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			rec := &recordSleep{waits: []time.Duration{}}
			c := newTestClient(t, HTTPConfig{MaxRetryWait: tt.maxRetryWait, sleep: rec.sleep, UserAgent: "test-agent/1"})
			var body io.Reader = strings.NewReader(`{"n":1}`)
			if !tt.replayable {
				body = io.MultiReader(body) // http.NewRequest cannot replay it
			}
			req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/hook", body)
			req.Header.Set("Idempotency-Key", "key-1")
			resp, data, err := send(c, req)
			if err != nil {
				t.Fatalf("send = %v; want an answer", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d (body %q); want %d", resp.StatusCode, data, tt.wantStatus)
			}
			if srv.requests != tt.wantRequests {
				t.Errorf("server saw %d requests; want %d", srv.requests, tt.wantRequests)
			}
			if tt.wantWaits != nil {
				if diff := cmp.Diff(tt.wantWaits, rec.waits); diff != "" {
					t.Errorf("retry waits (-want +got):\n%s", diff)
				}
			} else {
				for _, w := range rec.waits {
					if w < 250*time.Millisecond || w > 500*time.Millisecond {
						t.Errorf("first backoff = %v; want within [250ms, 500ms]", w)
					}
				}
			}
			for i := range srv.requests {
				if srv.bodies[i] != `{"n":1}` || srv.keys[i] != "key-1" || srv.agents[i] != "test-agent/1" {
					t.Errorf("request %d: body %q, Idempotency-Key %q, User-Agent %q; want the same body, key and agent on every attempt",
						i+1, srv.bodies[i], srv.keys[i], srv.agents[i])
				}
			}
		})
	}
}

func TestClientDefaultUserAgent(t *testing.T) {
	srv := &scripted{answers: []answer{{status: 204}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.URL, nil)
	if _, _, err := send(newTestClient(t, HTTPConfig{}), req); err != nil {
		t.Fatal(err)
	}
	if got := srv.agents[0]; got != DefaultUserAgent {
		t.Errorf("User-Agent = %q; want %q", got, DefaultUserAgent)
	}
}

func TestClientRetryWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the caller gives up while the answer says "later"
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(503)
	}))
	defer ts.Close()
	c := newTestClient(t, HTTPConfig{}) // the real wait: it must end with ctx
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
	_, _, err := send(c, req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("send while cancelled in a retry wait = %v; want context.Canceled", err)
	}
}

func TestClientRetryDoesNotOutwaitDeadline(t *testing.T) {
	srv := &scripted{answers: []answer{{status: 503, retryAfter: "7200"}, {status: 200}}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rec := &recordSleep{}
	c := newTestClient(t, HTTPConfig{MaxRetryWait: 3 * time.Hour, Timeout: time.Hour, sleep: rec.sleep})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.URL, nil)
	resp, _, err := send(c, req)
	if err != nil || resp.StatusCode != 503 || len(rec.waits) != 0 {
		t.Errorf("send = %v, %v, waits %v; want the 503 at once (the wait passes the deadline)", resp, err, rec.waits)
	}
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	c := newTestClient(t, HTTPConfig{Timeout: 50 * time.Millisecond})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/slow?token=s3cret", nil)
	_, _, err := send(c, req)
	var re *RequestError
	if !errors.As(err, &re) || !re.Timeout() {
		t.Fatalf("send to a hanging server = %v; want a *RequestError that is a timeout", err)
	}
	if IsPermanent(err) {
		t.Errorf("IsPermanent(timeout) = true; want false")
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "/slow") {
		t.Errorf("error %q shows the URL's path or query", err)
	}
}

func TestClientEgress(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer ts.Close()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	dns := fakeDNS(t, map[string]netip.Addr{
		"metadata.attacker.test": netip.MustParseAddr("169.254.169.254"),
		"good.test":              netip.MustParseAddr("127.0.0.1"),
	})
	tests := []struct {
		name     string
		cfg      HTTPConfig
		url      string
		wantDeny bool
	}{
		{"metadata address", HTTPConfig{}, "http://169.254.169.254/latest/meta-data/", true},
		{"name resolving to the metadata address", HTTPConfig{Resolver: dns}, "http://metadata.attacker.test:" + port + "/", true},
		{"metadata name", HTTPConfig{}, "http://metadata.google.internal/computeMetadata/v1/", true},
		{"name resolving to loopback passes", HTTPConfig{Resolver: dns}, "http://good.test:" + port + "/", false},
		{"loopback denied by the host", HTTPConfig{Resolver: dns, Egress: EgressPolicy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, "http://good.test:" + port + "/", true},
		{"name outside AllowNames", HTTPConfig{Resolver: dns, Egress: EgressPolicy{AllowNames: []string{"*.example.com"}}}, "http://good.test:" + port + "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.cfg)
			req, _ := http.NewRequestWithContext(t.Context(), "GET", tt.url, nil)
			resp, _, err := send(c, req)
			if !tt.wantDeny {
				if err != nil || resp.StatusCode != 204 {
					t.Fatalf("send(%s) = %v, %v; want 204", tt.url, resp, err)
				}
				return
			}
			if !errors.Is(err, ErrEgressDenied) || !IsPermanent(err) {
				t.Fatalf("send(%s) = %v; want a permanent ErrEgressDenied", tt.url, err)
			}
		})
	}
}

func TestClientMalformedAndTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			io.ReadAtLeast(conn, make([]byte, 1), 1)
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n{}")
			conn.Close()
		}
	})
	defer wg.Wait()
	defer ln.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsSrv.Close()
	tlsSrv.Config.ErrorLog = quietLog()

	tests := []struct {
		name  string
		url   string
		check func(error) bool
	}{
		{"malformed answer", "http://" + ln.Addr().String() + "/x?k=secret", func(err error) bool { return err != nil }},
		{"untrusted certificate", tlsSrv.URL + "/x?k=secret", func(err error) bool {
			var ce *tls.CertificateVerificationError
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ce) || errors.As(err, &ua)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", tt.url, nil)
			_, _, err := send(newTestClient(t, HTTPConfig{}), req)
			var re *RequestError
			if !errors.As(err, &re) || !tt.check(err) {
				t.Fatalf("send = %v; want a *RequestError of the right kind", err)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "/x") {
				t.Errorf("error %q shows the URL's path or query", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"5", 5 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestStatusErr(t *testing.T) {
	req, _ := http.NewRequest("POST", "https://user:pw@hooks.slack.com/services/T0/B0/XYZ?x=1", nil)
	tests := []struct {
		status    int
		body      string
		permanent bool
		want      string
	}{
		{400, "invalid_blocks", true, "steps: POST https://hooks.slack.com: status 400 Bad Request: invalid_blocks"},
		{404, "<html>lots of markup</html>", true, "steps: POST https://hooks.slack.com: status 404 Not Found"},
		{408, "", false, "steps: POST https://hooks.slack.com: status 408 Request Timeout"},
		{429, "", false, "steps: POST https://hooks.slack.com: status 429 Too Many Requests"},
		{503, "", false, "steps: POST https://hooks.slack.com: status 503 Service Unavailable"},
	}
	for _, tt := range tests {
		err := statusErr(req, tt.status, []byte(tt.body), func(s string) string { return s })
		if got := err.Error(); got != tt.want {
			t.Errorf("statusErr(%d, %q) = %q; want %q", tt.status, tt.body, got, tt.want)
		}
		if IsPermanent(err) != tt.permanent {
			t.Errorf("IsPermanent(statusErr(%d)) = %v; want %v", tt.status, !tt.permanent, tt.permanent)
		}
	}
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// BenchmarkSend measures one request through the steps' client (User-Agent,
// retry wrapper, egress-checked dials) beside a plain http.Client on the
// same kind of transport, the baseline.
func BenchmarkSend(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer ts.Close()
	plainTransport := http.DefaultTransport.(*http.Transport).Clone()
	defer plainTransport.CloseIdleConnections()
	clients := []struct {
		name string
		c    *http.Client
	}{
		{"net-http", &http.Client{Transport: plainTransport, Timeout: 30 * time.Second}},
		{"steps-client", NewHTTPClient(HTTPConfig{})},
	}
	for _, cl := range clients {
		b.Run(cl.name, func(b *testing.B) {
			defer cl.c.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("POST", ts.URL+"/hook", strings.NewReader(`{"text":"hi"}`))
				resp, body, err := send(cl.c, req)
				if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
					b.Fatalf("send = %v, %q, %v", resp, body, err)
				}
			}
		})
	}
}

func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"", "0", "120", "-3", "Fri, 02 Jan 2026 03:05:05 GMT", "1e3", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := retryAfter(s, now)
		if d < 0 || d > 24*time.Hour {
			t.Errorf("retryAfter(%q) = %v, %v; want a wait in [0, 24h]", s, d, ok)
		}
		if !ok && d != 0 {
			t.Errorf("retryAfter(%q) = %v, false; want 0 when not ok", s, d)
		}
	})
}
