package federation

import (
	"net/http"
)

// Protocol is what a service speaks on top of HTTP (Service.Protocol).
type Protocol string

// The protocols. ProtocolHTTP is the default; the empty Protocol means it.
const (
	// ProtocolHTTP is HTTP/1.1, or HTTP/2 when a TLS upstream offers it
	// by ALPN.
	ProtocolHTTP Protocol = "http"
	// ProtocolHTTP2 always speaks HTTP/2 to the upstream: cleartext with
	// prior knowledge (h2c) for an http:// upstream, TLS with ALPN h2 for
	// an https:// one. Request and response semantics are those of http.
	ProtocolHTTP2 Protocol = "http2"
	// ProtocolGRPC is gRPC: HTTP/2 to the upstream as for ProtocolHTTP2,
	// trailers and streams passed through as they come, and each call
	// bounded by its own deadline (grpc-timeout) instead of the service
	// timeout. Blends and the truncate fault are ruled out (see
	// # Protocols in the package documentation).
	ProtocolGRPC Protocol = "grpc"
	// ProtocolWebSocket is a WebSocket service: HTTP/1.1 upgrades, after
	// which the connection belongs to the two ends. The faults that act
	// on a response body (truncate, bandwidth) and the blends that buffer
	// or repeat a request are ruled out.
	ProtocolWebSocket Protocol = "websocket"
)

// protocols lists the protocols in the order messages suggest them.
var protocols = []string{string(ProtocolHTTP), string(ProtocolHTTP2), string(ProtocolGRPC), string(ProtocolWebSocket)}

// http2Upstream reports whether p speaks HTTP/2 to its upstream whatever
// the scheme.
func (p Protocol) http2Upstream() bool { return p == ProtocolHTTP2 || p == ProtocolGRPC }

// stream reports whether p carries long-lived streams in both directions,
// which rules out buffering, replaying and cutting bodies.
func (p Protocol) stream() bool { return p == ProtocolGRPC || p == ProtocolWebSocket }

// upstreamProtocols is the protocol set of the transport of an HTTP/2
// upstream: h2c with prior knowledge on http://, ALPN h2 (and nothing
// else) on https://. Without HTTP1 in the set, net/http's Transport uses
// unencrypted HTTP/2 for http:// URLs, which is what a gRPC server
// listening in cleartext expects.
func upstreamProtocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// EnableH2C makes srv accept cleartext HTTP/2 (h2c with prior knowledge,
// as gRPC clients speak it without TLS) next to what it already serves;
// a nil Protocols (HTTP/1 and, over TLS, HTTP/2) is kept as such. It
// only sets srv.Protocols, so call it before srv starts serving:
//
//	srv := &http.Server{Addr: ":8080", Handler: router}
//	federation.EnableH2C(srv)
//	err := srv.ListenAndServe()
//
// A Router serves gRPC from a client only over HTTP/2: a grpc-go server
// as a mock (its ServeHTTP) refuses anything else, and a request to a
// gRPC upstream arriving over HTTP/1 lacks the trailers gRPC answers with.
// The Router itself needs nothing else: it serves HTTP/1 and HTTP/2
// requests alike.
func EnableH2C(srv *http.Server) {
	p := new(http.Protocols) // a copy: the host's value may be shared
	if srv.Protocols != nil {
		*p = *srv.Protocols
	} else {
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	}
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = p
}
