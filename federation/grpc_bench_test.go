package federation

import (
	"context"
	"fmt"
	"strings"
	"testing"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// BenchmarkGRPCUnary: one unary call from a grpc-go client, straight to
// the grpc-go upstream (the baseline), and through an h2c router to it
// (real) or to a grpc-go mock (mock_v3). The body is ~1 KB.
func BenchmarkGRPCUnary(b *testing.B) {
	ctx := context.Background()
	payload := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(strings.Repeat("x", 1024))}}
	up := grpcUpstream(b, newGRPCService("real"))
	mock := grpcMock(b, newGRPCService("mock"))
	f := mustParse(b, fmt.Sprintf(`
name: rpc
services:
  - {name: real, host: real.test, base_path: /, protocol: grpc, reality: real, upstream: %q}
  - {name: mock, base_path: /, protocol: grpc, reality: mock_v3}
`, up))
	r := newTestRouter(b, f, RouterConfig{Mocks: mock})
	ts := serveH2C(b, r)
	for _, bc := range []struct {
		name   string
		client testpb.TestServiceClient
	}{
		{"baseline-direct", grpcClientAt(b, strings.TrimPrefix(up, "http://"))},
		{"router-real", grpcClientAuthority(b, ts.Listener.Addr().String(), "real.test")},
		{"router-mock", grpcClientAt(b, ts.Listener.Addr().String())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.client.UnaryCall(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
