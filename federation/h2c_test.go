package federation

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

func TestEnableH2C(t *testing.T) {
	var only1 http.Protocols
	only1.SetHTTP1(true)
	for _, tc := range []struct {
		name            string
		in              *http.Protocols
		http1, http2tls bool
	}{
		{"nil keeps the defaults", nil, true, true},
		{"a host's set is extended", &only1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before http.Protocols
			if tc.in != nil {
				before = *tc.in
			}
			srv := &http.Server{Protocols: tc.in}
			EnableH2C(srv)
			p := srv.Protocols
			if p == nil || !p.UnencryptedHTTP2() || p.HTTP1() != tc.http1 || p.HTTP2() != tc.http2tls {
				t.Fatalf("Protocols = %v; want HTTP1=%v HTTP2=%v UnencryptedHTTP2", p, tc.http1, tc.http2tls)
			}
			if tc.in != nil && *tc.in != before {
				t.Errorf("the host's Protocols value was changed in place: %v", *tc.in)
			}
		})
	}
}

// TestH2CServerSide: behind EnableH2C the router serves HTTP/1 and
// cleartext HTTP/2 on one port, and a mock sees the protocol the client
// spoke.
func TestH2CServerSide(t *testing.T) {
	f := mustParse(t, `
name: h
services:
  - {name: m, base_path: /m, reality: mock_v3}
`)
	mocks := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Proto) }), nil
	})
	ts := serveH2C(t, newTestRouter(t, f, RouterConfig{Mocks: mocks}))
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	for _, tc := range []struct {
		name  string
		proto *http.Protocols
		want  string
	}{
		{"http1", nil, "HTTP/1.1"},
		{"h2c prior knowledge", &h2c, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{Protocols: tc.proto}
			t.Cleanup(tr.CloseIdleConnections)
			resp, err := (&http.Client{Transport: tr}).Get(ts.URL + "/m")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != tc.want || resp.Proto != tc.want {
				t.Errorf("mock saw %q, client spoke %q; want %q", body, resp.Proto, tc.want)
			}
		})
	}
}

// TestHTTP2Upstream: protocol http2 speaks cleartext HTTP/2 to an
// upstream that serves nothing else.
func TestHTTP2Upstream(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		fmt.Fprint(w, r.Proto)
		w.Header().Set("X-Checksum", "abc")
	}))
	up.Config.Protocols = new(http.Protocols)
	up.Config.Protocols.SetUnencryptedHTTP2(true) // no HTTP/1 at all
	up.Start()
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		protocol string
		status   int
		want     string
	}{
		{"http2", http.StatusOK, "HTTP/2.0"},
		{"http", http.StatusBadGateway, ""}, // HTTP/1 to an h2c-only server fails
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			f := mustParse(t, fmt.Sprintf(`
name: h
services:
  - {name: u, base_path: /u, reality: real, protocol: %s, upstream: %q}
`, tc.protocol, up.URL))
			ts := httptest.NewServer(newTestRouter(t, f, RouterConfig{}))
			t.Cleanup(ts.Close)
			resp, err := newClient(t).Get(ts.URL + "/u")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d (%s); want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == http.StatusOK {
				if string(body) != tc.want {
					t.Errorf("upstream saw %q; want %q", body, tc.want)
				}
				if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
					t.Errorf("trailer X-Checksum = %q; want abc", got)
				}
			}
		})
	}
}

// TestGRPCOverTLSUpstream: a grpc service with an https:// upstream is
// reached over TLS with ALPN h2 (here grpc-go's ServeHTTP behind Go's
// TLS HTTP/2 server).
func TestGRPCOverTLSUpstream(t *testing.T) {
	svc := newGRPCService("real")
	gs := grpc.NewServer()
	testpb.RegisterTestServiceServer(gs, svc)
	t.Cleanup(gs.Stop)
	up := httptest.NewUnstartedServer(gs)
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())

	f := mustParse(t, fmt.Sprintf(`
name: rpc
services:
  - {name: test, base_path: /grpc.testing.TestService, protocol: grpc, reality: real, upstream: %q}
`, up.URL))
	r := newTestRouter(t, f, RouterConfig{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})
	client := grpcClient(t, serveH2C(t, r))
	resp, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("tls")}})
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	if got := string(resp.GetPayload().GetBody()); got != "real:tls" {
		t.Errorf("payload = %q; want real:tls", got)
	}
}

// TestGRPCUpstreamDown: the router's problem answer reaches a gRPC
// client as Unavailable, the code a client retries.
func TestGRPCUpstreamDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	f := mustParse(t, fmt.Sprintf(`
name: rpc
services:
  - {name: test, base_path: /grpc.testing.TestService, protocol: grpc, reality: real, upstream: "http://%s"}
`, addr))
	obs := make(exchangeChan, 1)
	client := grpcClient(t, serveH2C(t, newTestRouter(t, f, RouterConfig{Observer: obs})))
	_, err = client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("UnaryCall: %v; want Unavailable", err)
	}
	x := <-obs
	if x.Status != http.StatusBadGateway || x.Err == nil {
		t.Errorf("Exchange = %d, %v; want 502 with the cause", x.Status, x.Err)
	}
}

func TestValidateProtocolHandBuilt(t *testing.T) {
	f := &Federation{Name: "h", Services: []Service{
		{Name: "a", BasePath: "/a", Reality: Real, Upstream: "http://127.0.0.1:1", Protocol: ProtocolGRPC, Timeout: 1},
		{Name: "b", BasePath: "/b", Reality: MockV3, Protocol: "quic"},
	}}
	var list ErrorList
	if err := f.Validate(); !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("Validate() = %v; want 2 diagnostics", err)
	}
	for i, want := range []string{"services[a].timeout", "services[b].protocol"} {
		if list[i].Path != want {
			t.Errorf("diagnostic %d at %q; want %q (%s)", i, list[i].Path, want, list[i].Msg)
		}
	}
}

func TestParseProtocol(t *testing.T) {
	f := mustParse(t, `
name: p
services:
  - {name: a, base_path: /a, reality: mock_v3}
  - {name: b, base_path: /b, reality: mock_v3, protocol: http}
  - {name: c, base_path: /c, reality: mock_v3, protocol: http2}
  - {name: d, base_path: /d, reality: mock_v3, protocol: grpc}
  - {name: e, base_path: /e, reality: mock_v3, protocol: websocket}
`)
	want := []Protocol{"", ProtocolHTTP, ProtocolHTTP2, ProtocolGRPC, ProtocolWebSocket}
	for i, s := range f.Services {
		if s.Protocol != want[i] {
			t.Errorf("service %s: Protocol = %q; want %q", s.Name, s.Protocol, want[i])
		}
	}
}
