package federation

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// blendAnswer is what both the test upstream and the test mock answer:
// who they are and the request body they read.
type blendAnswer struct {
	From string `json:"from"`
	Body string `json:"body"`
}

// blendUpstream is a real upstream server: /ok answers JSON, /503 a 503,
// /slow never answers, /gzip a gzip-encoded body, /text plain text.
func blendUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/slow":
			<-r.Context().Done()
			return
		case "/503":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"busy"}`)
			return
		case "/gzip":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped(t, `{"from":"real"}`))
			return
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "plain real")
			return
		case "/user", "/plus":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "real-1")
			io.WriteString(w, `{"id":7,"name":"Ada","email":"ada@real.example","request_id":"r-1","updated_at":"2026-01-02T03:04:05Z"}`)
			return
		case "/big":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"pad":"`+strings.Repeat("x", 300)+`"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(blendAnswer{From: "real", Body: string(body)})
	}))
	t.Cleanup(up.Close)
	return up
}

// blendMock is the mock workspace: /miss* answers with the miss header
// (reading the body first unless the path says noread), /404 a 404,
// anything else JSON. calls counts its requests.
func blendMock(calls *atomic.Int64) MockResolver {
	return MockResolverFunc(func(ws string) (http.Handler, error) {
		if ws == "nows" {
			return nil, errors.New("no such workspace")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			var body []byte
			if !strings.Contains(r.URL.Path, "noread") {
				body, _ = io.ReadAll(r.Body)
				r.Body.Close()
			}
			switch {
			case strings.HasPrefix(r.URL.Path, "/miss"):
				w.Header().Set("X-Mock-Junk", "1")
				w.Header().Set("X-Custom-Miss", "no stub")
				w.WriteHeader(http.StatusTeapot)
				io.WriteString(w, "mock garbage")
				return
			case r.URL.Path == "/404":
				http.NotFound(w, r)
				return
			case r.URL.Path == "/user", r.URL.Path == "/plus":
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("X-Request-Id", "mock-1")
				extra := ""
				if r.URL.Path == "/plus" {
					extra = `,"nickname":"ada"`
				}
				io.WriteString(w, `{"id":7,"name":"Ada","email":"ada@mock.example","request_id":"m-9","updated_at":"2025-05-05T05:05:05Z"`+extra+`}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(blendAnswer{From: "mock", Body: string(body)})
		}), nil
	})
}

// deadAddr is the URL of a port nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func blendRouter(t *testing.T, obs Observer, calls *atomic.Int64) *httptest.Server {
	up, dead := blendUpstream(t).URL, deadAddr(t)
	f := mustParse(t, fmt.Sprintf(`name: blend
services:
  - {name: mf, base_path: /mf, strip_prefix: true, reality: blended, upstream: %[1]q,
     blend: {strategy: mock_first, miss_header: X-Custom-Miss, miss_status: [404], max_body: 16}}
  - {name: mfdown, base_path: /mfdown, strip_prefix: true, reality: blended, upstream: %[2]q,
     blend: {strategy: mock_first, miss_header: X-Custom-Miss}}
  - {name: rf, base_path: /rf, strip_prefix: true, reality: blended, upstream: %[1]q, timeout: 100ms,
     blend: {strategy: real_first, fallback_status: [503], max_body: 16}}
  - {name: rfdown, base_path: /rfdown, strip_prefix: true, reality: blended, upstream: %[2]q,
     blend: {strategy: real_first, max_body: 16}}
  - {name: dflt, base_path: /dflt, strip_prefix: true, reality: blended, upstream: %[2]q}
`, up, dead))
	return front(t, newTestRouter(t, f, RouterConfig{Mocks: blendMock(calls), Observer: obs}))
}

func TestBlendMockFirstAndRealFirst(t *testing.T) {
	long := strings.Repeat("x", 32) // over max_body: 16
	tests := []struct {
		name, method, path, body string
		status                   int
		servedBy                 ServedBy
		want                     *blendAnswer // nil: not a blendAnswer body
		wantErr                  error
		mockCalls                int64
	}{
		{name: "mock_first hit", method: "GET", path: "/mf/ok", status: 200, servedBy: ServedByMock, want: &blendAnswer{From: "mock"}, mockCalls: 1},
		{name: "mock_first miss header, body replayed", method: "POST", path: "/mf/miss", body: "hello", status: 200, servedBy: ServedByReal,
			want: &blendAnswer{From: "real", Body: "hello"}, mockCalls: 1},
		{name: "mock_first miss status", method: "GET", path: "/mf/404", status: 200, servedBy: ServedByReal, want: &blendAnswer{From: "real"}, mockCalls: 1},
		{name: "mock_first miss after reading a body over the limit", method: "POST", path: "/mf/miss", body: long,
			status: http.StatusBadGateway, servedBy: ServedByRouter, wantErr: ErrBodyNotReplayable, mockCalls: 1},
		{name: "mock_first miss without reading a long body", method: "POST", path: "/mf/miss-noread", body: long, status: 200, servedBy: ServedByReal,
			want: &blendAnswer{From: "real", Body: long}, mockCalls: 1},
		{name: "mock_first miss, upstream down", method: "GET", path: "/mfdown/miss", status: http.StatusBadGateway, servedBy: ServedByReal, wantErr: nil, mockCalls: 1},
		{name: "real_first ok", method: "POST", path: "/rf/ok", body: "hi", status: 200, servedBy: ServedByReal, want: &blendAnswer{From: "real", Body: "hi"}},
		{name: "real_first fallback status", method: "POST", path: "/rf/503", body: "hi", status: 200, servedBy: ServedByMock,
			want: &blendAnswer{From: "mock", Body: "hi"}, mockCalls: 1},
		{name: "real_first timeout", method: "GET", path: "/rf/slow", status: 200, servedBy: ServedByMock, want: &blendAnswer{From: "mock"}, mockCalls: 1},
		{name: "real_first upstream down", method: "POST", path: "/rfdown/x", body: "hi", status: 200, servedBy: ServedByMock,
			want: &blendAnswer{From: "mock", Body: "hi"}, mockCalls: 1},
		{name: "real_first is the default strategy", method: "GET", path: "/dflt/x", status: 200, servedBy: ServedByMock, want: &blendAnswer{From: "mock"}, mockCalls: 1},
		{name: "real_first fallback status, body over the limit", method: "POST", path: "/rf/503", body: long,
			status: http.StatusServiceUnavailable, servedBy: ServedByReal, wantErr: ErrBodyNotReplayable},
		{name: "real_first upstream down, body over the limit", method: "POST", path: "/rfdown/x", body: long,
			status: http.StatusBadGateway, servedBy: ServedByReal, wantErr: ErrBodyNotReplayable},
		{name: "real_first non-JSON answer", method: "GET", path: "/rf/text", status: 200, servedBy: ServedByReal},
		{name: "real_first gzip answer untouched", method: "GET", path: "/rf/gzip", status: 200, servedBy: ServedByReal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &exchanges{}
			var calls atomic.Int64
			srv := blendRouter(t, obs, &calls)
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := newClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d (%s); want %d", resp.StatusCode, body, tt.status)
			}
			if got := resp.Header.Get(HeaderServedBy); got != string(tt.servedBy) {
				t.Errorf("%s = %q; want %q", HeaderServedBy, got, tt.servedBy)
			}
			if resp.Header.Get("X-Mock-Junk") != "" || resp.Header.Get("X-Custom-Miss") != "" {
				t.Errorf("a missed mock's headers reached the client: %v", resp.Header)
			}
			if bytes.Contains(body, []byte("mock garbage")) {
				t.Errorf("a missed mock's body reached the client: %q", body)
			}
			if tt.want != nil {
				var got blendAnswer
				if err := json.Unmarshal(body, &got); err != nil || got != *tt.want {
					t.Errorf("body = %s; want %+v", body, *tt.want)
				}
			}
			switch tt.path {
			case "/rf/text":
				if string(body) != "plain real" {
					t.Errorf("body = %q; want the upstream's text", body)
				}
			case "/rf/gzip":
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("body is not the upstream's gzip (%v, %v)", err, resp.Header)
				}
				plain, _ := io.ReadAll(zr)
				if string(plain) != `{"from":"real"}` {
					t.Errorf("decoded body = %q; want the upstream's", plain)
				}
			}
			if got := calls.Load(); got != tt.mockCalls {
				t.Errorf("mock called %d times; want %d", got, tt.mockCalls)
			}
			srv.Close() // waits for the router's handler: the exchange is observed
			xs := obs.all()
			if len(xs) != 1 {
				t.Fatalf("observed %d exchanges; want 1", len(xs))
			}
			if xs[0].ServedBy != tt.servedBy || xs[0].Status != tt.status {
				t.Errorf("Exchange = served by %s, status %d; want %s, %d", xs[0].ServedBy, xs[0].Status, tt.servedBy, tt.status)
			}
			if tt.wantErr != nil && !errors.Is(xs[0].Err, tt.wantErr) {
				t.Errorf("Exchange.Err = %v; want %v", xs[0].Err, tt.wantErr)
			}
			if tt.status < 400 && xs[0].Err != nil {
				t.Errorf("Exchange.Err = %v; want nil for a served answer", xs[0].Err)
			}
		})
	}
}

// TestBlendClientGone: a client that leaves while the upstream is slow
// gets nothing, whatever the strategy: no mock is asked in its stead, no
// shadow starts, and the exchange says the client went away.
func TestBlendClientGone(t *testing.T) {
	for _, strategy := range []string{MockFirst, RealFirst, Merge, Shadow} {
		t.Run(strategy, func(t *testing.T) {
			arrived := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(arrived)
				<-r.Context().Done()
			}))
			t.Cleanup(up.Close)
			obs := &exchanges{}
			var calls atomic.Int64
			f := mustParse(t, fmt.Sprintf("name: gone\nservices: [{name: s, base_path: /, reality: blended, upstream: %q, blend: {strategy: %s, miss_header: X-Custom-Miss}}]\n", up.URL, strategy))
			r := newTestRouter(t, f, RouterConfig{Mocks: blendMock(&calls), Observer: obs})
			srv := front(t, r)
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/miss", nil)
			done := make(chan error, 1)
			go func() {
				resp, err := newClient(t).Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			<-arrived
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Do = %v; want context.Canceled", err)
			}
			srv.Close() // waits for the router's handler: the exchange is observed
			if err := r.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			xs := obs.all()
			if len(xs) != 1 {
				t.Fatalf("observed %d exchanges; want 1", len(xs))
			}
			wantCalls := map[string]int64{MockFirst: 1, Merge: 1}[strategy] // asked before (or while) the upstream was
			if calls.Load() != wantCalls {
				t.Errorf("mock called %d times; want %d", calls.Load(), wantCalls)
			}
			if !errors.Is(xs[0].Err, errClientGone) || xs[0].Status != StatusClientClosed {
				t.Errorf("Exchange = status %d, Err %v; want %d, errClientGone", xs[0].Status, xs[0].Err, StatusClientClosed)
			}
			if st := r.ShadowStats(); st.Started != 0 {
				t.Errorf("ShadowStats = %+v; want no shadow started", st)
			}
		})
	}
}
