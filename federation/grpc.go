package federation

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// errGRPCDeadline is the cancellation cause of a gRPC call whose own
// deadline (grpc-timeout) passed while the router was proxying it.
var errGRPCDeadline = errors.New("federation: grpc call deadline exceeded")

// headerGRPCTimeout is the canonical key of gRPC's deadline header.
const headerGRPCTimeout = "Grpc-Timeout"

// serveGRPC forwards a gRPC call to the upstream. The router runs no
// timer of its own: a stream's headers and messages may wait as long as
// the call lasts (a server-streaming Watch, a bidi chat), so neither the
// service timeout nor the upload idle timeout applies. The call's own
// deadline does: when the client sent grpc-timeout, the router gives up
// at that deadline too, and the upstream is told the time that remains
// (see rewrite). Dials are bounded by the transport's dial timeout.
func (r *Router) serveGRPC(x *exchange, out *http.Request) {
	c := x.route.c
	if d, ok := parseGRPCTimeout(out.Header[headerGRPCTimeout]); ok {
		ctx, cancel := context.WithTimeoutCause(out.Context(), d, errGRPCDeadline)
		defer cancel()
		out = out.WithContext(ctx)
	}
	c.proxy.ServeHTTP(&x.w, out)
}

// parseGRPCTimeout reads a grpc-timeout header: at most eight digits
// and one unit (H, M, S, m, u, n), as the gRPC over HTTP/2 protocol
// defines it. Anything else is ignored (false): the upstream, which
// reads the same header, is the one to reject it.
func parseGRPCTimeout(v []string) (time.Duration, bool) {
	if len(v) != 1 {
		return 0, false
	}
	s := v[0]
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	n, err := parseCount(s[:len(s)-1])
	if err != nil {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	// 99999999 hours overflows a Duration: such a deadline is no deadline.
	if time.Duration(n) > time.Duration(1<<63-1)/unit {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// formatGRPCTimeout writes d as a grpc-timeout value in the finest unit
// that fits eight digits, rounding down (the upstream must not be given
// more time than is left). A deadline already past is sent as 1n: the
// upstream then fails the call at once, as the client's own deadline has.
func formatGRPCTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	const max = 99999999
	for _, u := range [...]struct {
		unit time.Duration
		c    byte
	}{{time.Nanosecond, 'n'}, {time.Microsecond, 'u'}, {time.Millisecond, 'm'}, {time.Second, 'S'}, {time.Minute, 'M'}} {
		if d/u.unit <= max {
			return strconv.FormatInt(int64(d/u.unit), 10) + string(u.c)
		}
	}
	return strconv.FormatInt(min(int64(d/time.Hour), max), 10) + "H"
}
