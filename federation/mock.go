package federation

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ErrMockUnavailable is wrapped by Exchange.Err when the MockResolver
// failed, together with the resolver's own error: an Observer sees why
// even when no Logger is configured.
var ErrMockUnavailable = errors.New("federation: mock workspace unavailable")

// ErrNoMockHandler is the resolver error of a MockResolver that returned
// neither a handler nor an error.
var ErrNoMockHandler = errors.New("federation: the mock resolver returned no handler")

// serveMock serves a mock_v3 request in process. The mock handler sees the
// request the upstream would: the same path (stripped or not, in the
// client's escaping), the same X-Forwarded-* and hop headers, hop-by-hop
// headers removed, and the upstream's Host when the service has one and
// does not preserve the client's. A service can therefore flip between
// mock and real without its handler noticing.
func (r *Router) serveMock(x *exchange, out *http.Request) {
	x.servedBy = ServedByMock
	h, err := r.mockFor(x, out)
	if err != nil {
		// The client learns only that the workspace is unavailable; the
		// resolver's error goes to the log and, wrapped, to Exchange.Err.
		x.fail(http.StatusBadGateway, fmt.Errorf("%w: workspace %q of service %q", ErrMockUnavailable, x.route.Workspace, x.route.Service), err)
		return
	}
	x.servedByVal[0] = string(ServedByMock)
	x.w.Header()[HeaderServedBy] = x.servedByVal[:1:1] // no slice allocation per request
	h.ServeHTTP(&x.w, out)
}

// requestURI is the request target of u, the client's URL with its path
// rewritten. Stripping a prefix from a clean path leaves a suffix of the
// client's own target, which is reused rather than built again.
func requestURI(target string, u *url.URL) string {
	path, query := target, ""
	if i := strings.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
	}
	if raw := u.EscapedPath(); raw != "" && u.Opaque == "" && strings.HasSuffix(path, raw) &&
		query == u.RawQuery && (query != "" || u.ForceQuery == strings.Contains(target, "?")) {
		return target[len(path)-len(raw):]
	}
	return u.RequestURI()
}

// dropped reports whether the canonical header key k is never forwarded
// as the client sent it: the headers that describe one connection (RFC
// 9110 7.6.1, as httputil.ReverseProxy removes them) and those the router
// sets itself, which a client must not forge (X-Forwarded-For is appended
// to only when TrustForwardedFor is set). A switch rather than a list
// search: it runs for every header of every mock request.
func dropped(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", HeaderHops:
		return true
	}
	return false
}

// forwardHeader builds the mock request's headers as the reverse proxy
// would send them upstream. The router's own headers are set after the
// client's Connection-listed headers are removed, so a client's
// "Connection: X-Forwarded-For" cannot remove them.
func (r *Router) forwardHeader(x *exchange, in *http.Request) http.Header {
	src := in.Header
	conn := src["Connection"]
	// Sized for the client's headers plus the four or five the router
	// adds: an exact hint keeps a small header in one map group.
	n := len(src) + 4
	if x.route.c.svc.StripPrefix {
		n++
	}
	h := make(http.Header, n)
	for k, vv := range src {
		if dropped(k) || conn != nil && tokenListed(conn, k) {
			continue
		}
		// The value slices are shared with the inbound request, capped so
		// that an Add by the handler reallocates instead of writing into
		// them. Nothing reads the inbound headers once the handler runs,
		// so the copy Header.Clone would make buys nothing.
		h[k] = vv[:len(vv):len(vv)]
	}
	if te := src["Te"]; te != nil && tokenListed(te, "trailers") {
		h["Te"] = []string{"trailers"}
	}
	if up := src["Upgrade"]; len(up) > 0 && tokenListed(conn, "Upgrade") {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = append([]string(nil), up...)
	}
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if prior := src["X-Forwarded-For"]; r.cfg.TrustForwardedFor && len(prior) > 0 {
			h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + ip}
		} else {
			x.vals[0] = ip
			h["X-Forwarded-For"] = x.vals[0:1:1]
		}
	}
	x.vals[1] = in.Host
	h["X-Forwarded-Host"] = x.vals[1:2:2]
	x.vals[2] = "http"
	if in.TLS != nil {
		x.vals[2] = "https"
	}
	h["X-Forwarded-Proto"] = x.vals[2:3:3]
	if x.route.c.svc.StripPrefix {
		x.vals[3] = x.route.Prefix
		h["X-Forwarded-Prefix"] = x.vals[3:4:4]
	}
	x.vals[4] = strconv.Itoa(int(x.hops))
	h[HeaderHops] = x.vals[4:5:5]
	return h
}

// tokenListed reports whether a comma-separated header holds token
// (case-insensitively), without allocating.
func tokenListed(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// escapedRaw is the RawPath to set on a forwarded URL: empty when Go's own
// escaping of Path gives the client's bytes back (then EscapedPath need not
// verify RawPath, which costs an allocation), the client's escaping otherwise.
func escapedRaw(rt Route) string {
	if rt.RawPath != rt.Path {
		return rt.RawPath
	}
	for i := 0; i < len(rt.Path); i++ {
		switch c := rt.Path[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~/$&+,:;=@", c) >= 0:
		default:
			return rt.RawPath
		}
	}
	return ""
}
