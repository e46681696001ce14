package federation

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// grpcService is the gRPC test service of grpc-go's interop protos (no
// code generated here). Every answer carries the side that gave it in
// the "x-side" trailer, so a test knows who served a call.
type grpcService struct {
	testpb.UnimplementedTestServiceServer
	side string

	mu        sync.Mutex
	deadlines []time.Duration // the time left when each call began; -1: none
	ended     chan error      // StreamingOutputCall's result, once it returns
}

func newGRPCService(side string) *grpcService {
	return &grpcService{side: side, ended: make(chan error, 16)}
}

func (s *grpcService) begin(ctx context.Context) {
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	s.mu.Lock()
	s.deadlines = append(s.deadlines, left)
	s.mu.Unlock()
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-side", s.side))
}

func (s *grpcService) lastDeadline() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.deadlines) == 0 {
		return -2
	}
	return s.deadlines[len(s.deadlines)-1]
}

func (s *grpcService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	s.begin(ctx)
	if st := req.GetResponseStatus(); st != nil && st.Code != 0 {
		return nil, status.Error(codes.Code(st.Code), st.Message)
	}
	body := append([]byte(s.side+":"), req.GetPayload().GetBody()...)
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: body}}, nil
}

// StreamingOutputCall sends one message per parameter, each after its
// interval; it is also the call a deadline test leaves waiting.
func (s *grpcService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	s.begin(ctx)
	err := func() error {
		for i, p := range req.GetResponseParameters() {
			if p.GetIntervalUs() > 0 {
				t := time.NewTimer(time.Duration(p.GetIntervalUs()) * time.Microsecond)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return status.FromContextError(ctx.Err()).Err()
				}
			}
			body := fmt.Appendf(nil, "%s:%d", s.side, i)
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body}}); err != nil {
				return err
			}
		}
		return nil
	}()
	s.ended <- err
	return err
}

func (s *grpcService) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	s.begin(stream.Context())
	n := 0
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(n)})
		}
		if err != nil {
			return err
		}
		n += len(req.GetPayload().GetBody())
	}
}

// FullDuplexCall answers each message as it arrives: a router that held
// the request stream back would deadlock the test's ping-pong.
func (s *grpcService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	s.begin(stream.Context())
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		body := append([]byte(s.side+":"), req.GetPayload().GetBody()...)
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body}}); err != nil {
			return err
		}
	}
}

// grpcUpstream runs svc on a real grpc-go server listening in cleartext
// (h2c with prior knowledge, as grpc-go serves without TLS).
func grpcUpstream(t testing.TB, svc *grpcService) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, svc)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return "http://" + lis.Addr().String()
}

// grpcMock is a grpc-go server used as a mock handler: its ServeHTTP
// serves gRPC over the router's own HTTP/2 connection.
func grpcMock(t testing.TB, svc *grpcService) MockResolver {
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, svc)
	t.Cleanup(srv.Stop)
	return MockResolverFunc(func(string) (http.Handler, error) { return srv, nil })
}

// serveH2C serves h with EnableH2C, as a host would.
func serveH2C(t testing.TB, h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	EnableH2C(ts.Config)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func grpcClient(t testing.TB, ts *httptest.Server) testpb.TestServiceClient {
	t.Helper()
	return grpcClientAt(t, ts.Listener.Addr().String())
}

func grpcClientAt(t testing.TB, addr string) testpb.TestServiceClient {
	t.Helper()
	return grpcClientAuthority(t, addr, "")
}

// grpcClientAuthority dials addr and, when authority is set, sends it as
// the calls' :authority (the Host a router routes by).
func grpcClientAuthority(t testing.TB, addr, authority string) testpb.TestServiceClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if authority != "" {
		opts = append(opts, grpc.WithAuthority(authority))
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

// grpcRouter serves one grpc service at the given reality through a
// router behind an h2c server, with a real grpc-go server as its
// upstream and another as its mock.
func grpcRouter(t *testing.T, reality, extra string) (testpb.TestServiceClient, *grpcService, *Router) {
	t.Helper()
	side := "real"
	if reality == "mock_v3" || strings.Contains(extra, "base: mock") {
		side = "mock"
	}
	svc := newGRPCService(side)
	var mocks MockResolver
	upstream := "http://127.0.0.1:1" // a mock service needs none; a real one gets the upstream below
	if side == "mock" {
		mocks = grpcMock(t, svc)
	} else {
		upstream = grpcUpstream(t, svc)
	}
	f := mustParse(t, fmt.Sprintf(`
name: rpc
services:
  - name: test
    base_path: /grpc.testing.TestService
    protocol: grpc
    reality: %s
    upstream: %s
%s`, reality, upstream, extra))
	r := newTestRouter(t, f, RouterConfig{Mocks: mocks})
	return grpcClient(t, serveH2C(t, r)), svc, r
}

func TestGRPCThroughRouter(t *testing.T) {
	for _, tc := range []struct{ name, reality, side string }{
		{"real", "real", "real"},
		{"mock", "mock_v3", "mock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, svc, _ := grpcRouter(t, tc.reality, "")
			ctx := t.Context()

			t.Run("unary with trailers", func(t *testing.T) {
				var hdr, trl metadata.MD
				resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hi")}}, grpc.Header(&hdr), grpc.Trailer(&trl))
				if err != nil {
					t.Fatalf("UnaryCall: %v", err)
				}
				if got, want := string(resp.GetPayload().GetBody()), tc.side+":hi"; got != want {
					t.Errorf("payload = %q; want %q", got, want)
				}
				if got := trl.Get("x-side"); len(got) != 1 || got[0] != tc.side {
					t.Errorf("trailer x-side = %q; want %q", got, tc.side)
				}
				if got := hdr.Get(strings.ToLower(HeaderServedBy)); len(got) != 1 || got[0] != tc.side {
					t.Errorf("header %s = %q; want %q", HeaderServedBy, got, tc.side)
				}
			})

			t.Run("status code and trailers of a failed call", func(t *testing.T) {
				var trl metadata.MD
				_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such order"}}, grpc.Trailer(&trl))
				if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "no such order" {
					t.Fatalf("err = %v; want NotFound \"no such order\"", err)
				}
				if got := trl.Get("x-side"); len(got) != 1 || got[0] != tc.side {
					t.Errorf("trailer x-side = %q; want %q", got, tc.side)
				}
			})

			t.Run("server streaming", func(t *testing.T) {
				stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
					ResponseParameters: []*testpb.ResponseParameters{{}, {}, {}},
				})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for {
					m, err := stream.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("Recv: %v", err)
					}
					got = append(got, string(m.GetPayload().GetBody()))
				}
				want := []string{tc.side + ":0", tc.side + ":1", tc.side + ":2"}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("messages = %q; want %q", got, want)
				}
				<-svc.ended
			})

			t.Run("client streaming", func(t *testing.T) {
				stream, err := client.StreamingInputCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range []string{"ab", "cde", "f"} {
					if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte(b)}}); err != nil {
						t.Fatalf("Send: %v", err)
					}
				}
				resp, err := stream.CloseAndRecv()
				if err != nil {
					t.Fatalf("CloseAndRecv: %v", err)
				}
				if resp.GetAggregatedPayloadSize() != 6 {
					t.Errorf("aggregated size = %d; want 6", resp.GetAggregatedPayloadSize())
				}
			})

			t.Run("bidi ping-pong", func(t *testing.T) {
				stream, err := client.FullDuplexCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// Each answer is awaited before the next message is sent:
				// a router that buffered the request stream would hang here.
				for _, b := range []string{"one", "two", "three"} {
					if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(b)}}); err != nil {
						t.Fatalf("Send: %v", err)
					}
					m, err := stream.Recv()
					if err != nil {
						t.Fatalf("Recv: %v", err)
					}
					if got, want := string(m.GetPayload().GetBody()), tc.side+":"+b; got != want {
						t.Errorf("answer = %q; want %q", got, want)
					}
				}
				if err := stream.CloseSend(); err != nil {
					t.Fatal(err)
				}
				if _, err := stream.Recv(); err != io.EOF {
					t.Errorf("after CloseSend: %v; want EOF", err)
				}
			})

			t.Run("deadline honoured and propagated", func(t *testing.T) {
				const timeout = 300 * time.Millisecond
				dctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				// One message half an hour from now: only the deadline ends the call.
				stream, err := client.StreamingOutputCall(dctx, &testpb.StreamingOutputCallRequest{
					ResponseParameters: []*testpb.ResponseParameters{{IntervalUs: int32(30 * time.Minute / time.Microsecond)}},
				})
				if err == nil {
					_, err = stream.Recv()
				}
				if status.Code(err) != codes.DeadlineExceeded {
					t.Fatalf("call ended with %v; want DeadlineExceeded", err)
				}
				// The service saw the deadline (it was propagated, not
				// only enforced by the client) and its handler ended.
				if err := <-svc.ended; status.Code(err) != codes.DeadlineExceeded && status.Code(err) != codes.Canceled {
					t.Errorf("service's call ended with %v; want its context done", err)
				}
				if left := svc.lastDeadline(); left <= 0 || left > timeout {
					t.Errorf("service saw %v left of the call; want a deadline within (0, %v]", left, timeout)
				}
			})
		})
	}
}

// TestGRPCChaos: the faults that apply to a gRPC stream act on the call
// as a gRPC client sees it.
func TestGRPCChaos(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chaos string
		code  codes.Code
	}{
		{"abort", "abort: {p: 1, status: 503}", codes.Unavailable},
		{"reset", "reset: {p: 1}", codes.Internal},
		{"bandwidth", "bandwidth: {p: 1, bytes_per_second: 1048576}", codes.OK},
		{"latency", "latency: {p: 1, fixed: 1ms}", codes.OK},
	} {
		for _, base := range []string{"real", "mock"} {
			t.Run(tc.name+"/"+base, func(t *testing.T) {
				client, _, r := grpcRouter(t, "chaos_driven", fmt.Sprintf("    chaos:\n      base: %s\n      %s\n", base, tc.chaos))
				var trl metadata.MD
				resp, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("x")}}, grpc.Trailer(&trl))
				if got := status.Code(err); got != tc.code {
					t.Fatalf("UnaryCall: %v; want code %v", err, tc.code)
				}
				if tc.code == codes.OK {
					if got := string(resp.GetPayload().GetBody()); got != base+":x" {
						t.Errorf("payload = %q", got)
					}
					if got := trl.Get("x-side"); len(got) != 1 || got[0] != base {
						t.Errorf("trailer x-side = %q; want %q", got, base)
					}
				}
				if st := r.ChaosStats()["test"]; st.Requests != 1 {
					t.Errorf("chaos requests = %d; want 1", st.Requests)
				}
			})
		}
	}
}

func TestParseGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want time.Duration
		ok   bool
	}{
		{[]string{"1S"}, time.Second, true},
		{[]string{"250m"}, 250 * time.Millisecond, true},
		{[]string{"99999999u"}, 99999999 * time.Microsecond, true},
		{[]string{"5n"}, 5, true},
		{[]string{"2M"}, 2 * time.Minute, true},
		{[]string{"3H"}, 3 * time.Hour, true},
		{[]string{"99999999H"}, 0, false},  // overflows a Duration
		{[]string{"123456789S"}, 0, false}, // nine digits
		{[]string{"S"}, 0, false},
		{[]string{"1s"}, 0, false},
		{[]string{"-1S"}, 0, false},
		{[]string{"+1S"}, 0, false},
		{[]string{"1S", "2S"}, 0, false},
		{nil, 0, false},
	} {
		got, ok := parseGRPCTimeout(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseGRPCTimeout(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFormatGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "1n"},
		{0, "1n"},
		{1500 * time.Nanosecond, "1500n"},
		{300 * time.Millisecond, "300000u"},
		{90 * time.Second, "90000000u"},
		{2 * time.Hour, "7200000m"},
		{1<<63 - 1, "2562047H"},
	} {
		got := formatGRPCTimeout(tc.in)
		if got != tc.want {
			t.Errorf("formatGRPCTimeout(%v) = %q; want %q", tc.in, got, tc.want)
		}
		// What is written reads back as no more than was left.
		if d, ok := parseGRPCTimeout([]string{got}); !ok || tc.in > 0 && d > tc.in {
			t.Errorf("parseGRPCTimeout(%q) = %v, %v; want at most %v", got, d, ok, tc.in)
		}
	}
}

func FuzzParseGRPCTimeout(f *testing.F) {
	for _, s := range []string{"1S", "250m", "99999999H", "", "1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseGRPCTimeout([]string{s})
		if ok && d < 0 {
			t.Fatalf("parseGRPCTimeout(%q) = %v: negative", s, d)
		}
		if ok && d > 0 {
			if back, ok2 := parseGRPCTimeout([]string{formatGRPCTimeout(d)}); !ok2 || back > d {
				t.Fatalf("round trip of %q: %v -> %v", s, d, back)
			}
		}
	})
}

// TestGRPCRouterDeadline: an upstream that ignores the call's deadline,
// and a client that does not cancel, still see the call end: the router
// answers grpc-status 4 (DEADLINE_EXCEEDED) once the deadline and its
// grace have passed. The upstream was told the time left, not the
// client's value copied.
func TestGRPCRouterDeadline(t *testing.T) {
	got := make(chan string, 1)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Grpc-Timeout")
		<-r.Context().Done() // deaf to the deadline: only the router ends it
	}))
	up.Config.Protocols = new(http.Protocols)
	up.Config.Protocols.SetUnencryptedHTTP2(true)
	up.Start()
	t.Cleanup(up.Close)
	f := mustParse(t, fmt.Sprintf(`
name: rpc
services:
  - {name: test, base_path: /svc, protocol: grpc, reality: real, upstream: %q}
`, up.URL))
	obs := make(exchangeChan, 1)
	ts := serveH2C(t, newTestRouter(t, f, RouterConfig{Observer: obs}))

	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &h2c}
	t.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/svc/Method", strings.NewReader("\x00\x00\x00\x00\x00"))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("Grpc-Timeout", "100m")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Grpc-Status") != "4" || resp.Header.Get("Content-Type") != "application/grpc" {
		t.Errorf("answer %d %v; want 200 application/grpc with grpc-status 4", resp.StatusCode, resp.Header)
	}
	sent := <-got
	if d, ok := parseGRPCTimeout([]string{sent}); !ok || d <= 0 || d > 100*time.Millisecond {
		t.Errorf("upstream was sent grpc-timeout %q; want the time left, at most 100ms", sent)
	}
	if x := <-obs; !strings.Contains(fmt.Sprint(x.Err), "deadline") || x.ServedBy != ServedByReal {
		t.Errorf("Exchange = %s, %v; want real with the deadline in Err", x.ServedBy, x.Err)
	}
}
