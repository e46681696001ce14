package federation

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoUpstream is a real upstream server answering what it received, in
// the same shape as echoMocks, so that real and mock answers compare.
func echoUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := echo{Workspace: "upstream", Path: r.URL.Path, RawPath: r.URL.EscapedPath(),
			URI: r.RequestURI, Host: r.Host, Header: map[string]string{}}
		for k := range r.Header {
			e.Header[k] = strings.Join(r.Header.Values(k), ", ")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(e)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// front serves r on a loopback server, as a host application would.
func front(t *testing.T, r http.Handler) *httptest.Server {
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestProxyForwardedAndHopByHopHeaders(t *testing.T) {
	up := echoUpstream(t)
	f := mustParse(t, fmt.Sprintf(`name: hdr
services:
  - {name: real, base_path: /svc, reality: real, upstream: %q, strip_prefix: true}
  - {name: mock, base_path: /mocked, reality: mock_v3, upstream: %q, strip_prefix: true}
  - {name: kept, base_path: /kept, reality: real, upstream: %q, preserve_host: true}
`, up.URL, up.URL, up.URL))
	r := newTestRouter(t, f, RouterConfig{Mocks: &echoMocks{}})
	srv := front(t, r)
	client := newClient(t)

	get := func(path string) (echo, *http.Response) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		// Hop-by-hop headers, and a Connection header that tries to remove
		// the proxy's own headers.
		req.Header.Set("Connection", "X-Forwarded-For, X-Forwarded-Host, X-Mockops-Hops, X-Custom-Hop")
		req.Header.Set("X-Custom-Hop", "dropped")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
		req.Header.Set("X-Forwarded-For", "6.6.6.6")
		req.Header.Set("X-Forwarded-Host", "forged.example")
		req.Header.Set("X-Forwarded-Prefix", "/forged")
		req.Header.Set("X-End-To-End", "kept")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		return decodeEcho(t, body), resp
	}

	frontHost := strings.TrimPrefix(srv.URL, "http://")
	upHost := strings.TrimPrefix(up.URL, "http://")
	real, resp := get("/svc/users/1?q=2")
	if got := resp.Header.Get(HeaderServedBy); got != "real" {
		t.Errorf("%s = %q; want real", HeaderServedBy, got)
	}
	if real.Workspace != "upstream" || real.RawPath != "/users/1" || real.URI != "/users/1?q=2" || real.Host != upHost {
		t.Errorf("upstream got path %q uri %q host %q; want /users/1, /users/1?q=2, %s", real.RawPath, real.URI, real.Host, upHost)
	}
	want := map[string]string{
		"X-Forwarded-For":    "127.0.0.1",
		"X-Forwarded-Host":   frontHost,
		"X-Forwarded-Proto":  "http",
		"X-Forwarded-Prefix": "/svc",
		"X-Mockops-Hops":     "1",
		"X-End-To-End":       "kept",
	}
	for k, v := range want {
		if real.Header[k] != v {
			t.Errorf("upstream header %s = %q; want %q", k, real.Header[k], v)
		}
	}
	for _, k := range []string{"Connection", "X-Custom-Hop", "Keep-Alive", "Proxy-Authorization"} {
		if v, ok := real.Header[k]; ok {
			t.Errorf("upstream got hop-by-hop header %s: %q", k, v)
		}
	}

	// The mock sees the same request the upstream saw.
	mock, resp := get("/mocked/users/1?q=2")
	if got := resp.Header.Get(HeaderServedBy); got != "mock" {
		t.Errorf("%s = %q; want mock", HeaderServedBy, got)
	}
	if mock.RawPath != real.RawPath || mock.URI != real.URI || mock.Host != real.Host {
		t.Errorf("mock got path %q uri %q host %q; upstream got %q %q %q", mock.RawPath, mock.URI, mock.Host, real.RawPath, real.URI, real.Host)
	}
	if mock.Header["X-Forwarded-Prefix"] != "/mocked" {
		t.Errorf("mock X-Forwarded-Prefix = %q; want /mocked", mock.Header["X-Forwarded-Prefix"])
	}
	delete(want, "X-Forwarded-Prefix") // the two services have different prefixes
	for _, k := range append([]string{"Connection", "X-Custom-Hop", "Keep-Alive", "Proxy-Authorization"}, keys(want)...) {
		if mock.Header[k] != real.Header[k] {
			t.Errorf("header %s: mock saw %q, upstream saw %q", k, mock.Header[k], real.Header[k])
		}
	}

	kept, _ := get("/kept/x")
	if kept.Host != frontHost || kept.RawPath != "/kept/x" {
		t.Errorf("preserve_host: upstream got host %q path %q; want %s /kept/x", kept.Host, kept.RawPath, frontHost)
	}
	if v, ok := kept.Header["X-Forwarded-Prefix"]; ok {
		t.Errorf("X-Forwarded-Prefix = %q without strip_prefix; want none", v)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestProxyTrustForwardedFor(t *testing.T) {
	up := echoUpstream(t)
	f := mustParse(t, fmt.Sprintf("name: t\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", up.URL))
	srv := front(t, newTestRouter(t, f, RouterConfig{TrustForwardedFor: true}))
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := decodeEcho(t, body).Header["X-Forwarded-For"]; got != "10.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q; want 10.0.0.1, 127.0.0.1", got)
	}
}

func TestProxyGzipPassthrough(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("compressible payload "), 500))
	zw.Close()
	compressed := gz.Bytes()
	gotAE := make(chan string, 2)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAE <- r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/plain")
		w.Write(compressed)
	}))
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf("name: gz\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", up.URL))
	srv := front(t, newTestRouter(t, f, RouterConfig{}))
	client := newClient(t)

	for _, ae := range []string{"gzip", ""} {
		req, _ := http.NewRequest("GET", srv.URL+"/file", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if up := <-gotAE; up != ae {
			t.Errorf("client Accept-Encoding %q reached the upstream as %q", ae, up)
		}
		if !bytes.Equal(body, compressed) || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q: body of %d bytes, Content-Encoding %q; want the upstream's %d gzip bytes unchanged",
				ae, len(body), resp.Header.Get("Content-Encoding"), len(compressed))
		}
	}
}

func TestProxyServerSentEventsStream(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: second\n\n")
	}))
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf("name: sse\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", up.URL))
	srv := front(t, newTestRouter(t, f, RouterConfig{}))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	// The upstream holds the second event until the first was read here:
	// a buffering proxy would never deliver the first (the read would time out).
	first, err := br.ReadString('\n')
	if err != nil || first != "data: first\n" {
		t.Fatalf("first event = %q, %v; want it before the upstream sends the second", first, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest of stream = %q, %v", rest, err)
	}
}

func TestProxyStreamsLargeUpload(t *testing.T) {
	const part, total = 64 << 10, 8 << 20
	gotPart := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadFull(r.Body, make([]byte, part)); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		close(gotPart) // the client has not sent the rest yet
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d", n+part)
	}))
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf("name: up\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", up.URL))
	obs := make(chanObserver, 1)
	srv := front(t, newTestRouter(t, f, RouterConfig{Observer: obs}))

	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte("u"), part)
		if _, err := pw.Write(chunk); err != nil {
			writeErr <- err
			return
		}
		select {
		case <-gotPart:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("upstream never saw the first part: the upload was buffered"))
			writeErr <- fmt.Errorf("upload buffered")
			return
		}
		for sent := part; sent < total; sent += part {
			if _, err := pw.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL+"/upload", pr)
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := <-writeErr; err != nil {
		t.Fatalf("client upload: %v", err)
	}
	if resp.StatusCode != 200 || string(body) != fmt.Sprint(total) {
		t.Errorf("upload answer = %d %q; want 200 %d", resp.StatusCode, body, total)
	}
	select {
	case x := <-obs:
		if x.RequestBytes != total {
			t.Errorf("observed %d request bytes; want %d", x.RequestBytes, total)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upload was never observed")
	}
}

func TestProxyTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; returns when the proxy gives up
	}))
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf("name: slow\nservices: [{name: slow, base_path: /, reality: real, upstream: %q, timeout: 50ms}]\n", up.URL))
	logs := &logRecorder{}
	srv := front(t, newTestRouter(t, f, RouterConfig{Logger: slog.New(logs)}))
	resp, err := newClient(t).Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get(HeaderServedBy) != "real" {
		t.Errorf("%s = %q; want real", HeaderServedBy, resp.Header.Get(HeaderServedBy))
	}
	p := readProblem(t, resp, http.StatusGatewayTimeout)
	if p["service"] != "slow" || !strings.Contains(fmt.Sprint(p["detail"]), "did not answer within 50ms") {
		t.Errorf("problem = %v; want service slow and the timeout in the detail", p)
	}
	if logs.atLeast(slog.LevelWarn) != 1 {
		t.Errorf("logged %d warnings; want 1 for the upstream timeout", logs.atLeast(slog.LevelWarn))
	}
}

func TestProxyRefusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	f := mustParse(t, fmt.Sprintf("name: gone\nservices: [{name: gone, base_path: /, reality: real, upstream: \"http://%s\"}]\n", addr))
	srv := front(t, newTestRouter(t, f, RouterConfig{}))
	resp, err := newClient(t).Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	p := readProblem(t, resp, http.StatusBadGateway)
	if p["service"] != "gone" || !strings.Contains(fmt.Sprint(p["detail"]), "refused the connection") {
		t.Errorf("problem = %v; want service gone, refused", p)
	}
	if strings.Contains(fmt.Sprint(p["detail"]), addr) {
		t.Errorf("problem detail %q leaks the upstream address", p["detail"])
	}
}

func TestProxyResetAndTLSFailures(t *testing.T) {
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // no response at all
		}
	}))
	t.Cleanup(reset.Close)
	tlsUp := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsUp.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is the point
	tlsUp.StartTLS()
	t.Cleanup(tlsUp.Close)
	f := mustParse(t, fmt.Sprintf(`name: bad
services:
  - {name: reset, base_path: /reset, reality: real, upstream: %q}
  - {name: tls, base_path: /tls, reality: real, upstream: %q}
`, reset.URL, tlsUp.URL))
	srv := front(t, newTestRouter(t, f, RouterConfig{}))
	client := newClient(t)
	for path, want := range map[string]string{"/reset": "closed or reset the connection", "/tls": "failed the TLS handshake"} {
		// POST: a transport retries an idempotent request on a dead
		// connection, which would only slow this test down.
		resp, err := client.Post(srv.URL+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		p := readProblem(t, resp, http.StatusBadGateway)
		if !strings.Contains(fmt.Sprint(p["detail"]), want) {
			t.Errorf("%s: detail %q; want %q", path, p["detail"], want)
		}
	}
}

// stubWriter records whether anything was written to the client.
type stubWriter struct {
	h      http.Header
	writes int
}

func (w *stubWriter) Header() http.Header         { return w.h }
func (w *stubWriter) WriteHeader(int)             { w.writes++ }
func (w *stubWriter) Write(b []byte) (int, error) { w.writes++; return len(b), nil }

func TestProxyClientGoneWritesNothing(t *testing.T) {
	started := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf("name: cg\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", up.URL))
	logs := &logRecorder{}
	obs := &exchanges{}
	r := newTestRouter(t, f, RouterConfig{Logger: slog.New(logs), Observer: obs})

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "http://router.test/x", nil).WithContext(ctx)
	req.RemoteAddr = "127.0.0.1:5555"
	w := &stubWriter{h: http.Header{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.ServeHTTP(w, req)
	}()
	<-started
	cancel() // the client goes away while the upstream is working
	<-done
	if w.writes != 0 {
		t.Errorf("router wrote %d times to a client that went away; want nothing", w.writes)
	}
	if n := logs.atLeast(slog.LevelInfo); n != 0 {
		t.Errorf("router logged %d records for a client that went away; want none", n)
	}
	xs := obs.all()
	if len(xs) != 1 || xs[0].Status != StatusClientClosed || xs[0].Err == nil {
		t.Errorf("observed %+v; want one exchange with status 499 and an error", xs)
	}
}

// dialUpgrade asks srvURL to upgrade /socket to the "echo" protocol over a
// raw connection (closed when t ends) and returns it with the answer.
func dialUpgrade(t *testing.T, srvURL string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srvURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /socket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, resp
}

func TestProxyUpgradePassesThrough(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "echo")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf("name: ws\nservices: [{name: a, base_path: /, reality: real, upstream: %q}]\n", up.URL))
	srv := front(t, newTestRouter(t, f, RouterConfig{}))

	conn, br, resp := dialUpgrade(t, srv.URL)
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get(HeaderServedBy) != "real" {
		t.Fatalf("upgrade answer = %d, served by %q; want 101 real", resp.StatusCode, resp.Header.Get(HeaderServedBy))
	}
	fmt.Fprintf(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Errorf("upgraded stream said %q, %v; want echo: hello", line, err)
	}
}
