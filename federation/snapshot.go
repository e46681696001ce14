package federation

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	radix "github.com/armon/go-radix"
)

// Route is where a request goes: the result of Router.Lookup and what
// RouteFrom finds in a routed request's context.
type Route struct {
	Federation string
	Service    string
	Workspace  string
	Reality    RealityLevel
	Prefix     string // the service's base path
	Host       string // the route's host, "" for a host-less route
	// Path is the decoded path the service sees: the cleaned request path,
	// without the prefix when the service strips it.
	Path string
	// RawPath is Path in the client's own escaping: what is forwarded.
	RawPath string

	c *compiled
}

// compiled is one service of a snapshot, ready to serve.
type compiled struct {
	svc      Service // a copy taken when the snapshot was built
	template Route   // every field but the paths
	match    string  // the prefix in match form
	nseg     int     // segments in the prefix, for stripping
	upstream *url.URL
	proxy    *httputil.ReverseProxy // for Real; built once per snapshot
	timeout  time.Duration
	comparer *comparer // blended: the drift comparison, compiled once per snapshot
	state    *State    // the federation's shared state, for StateFrom; nil without a Store
}

// table routes the services of one host (or the host-less ones).
//
// Prefixes are stored in the radix tree with a trailing slash ("/auth/";
// the root stays "/"), so a longest-prefix match can only end on a
// segment boundary: "/authz" does not start with "/auth/". The one case
// the tree cannot see, the path equal to a prefix ("/auth"), is an exact
// hit in a map, checked first because it is always the longest match.
type table struct {
	tree  *radix.Tree
	exact map[string]*compiled
}

func newTable() *table {
	return &table{tree: radix.New(), exact: make(map[string]*compiled)}
}

func (t *table) add(c *compiled) {
	if c.match == "/" {
		t.tree.Insert("/", c)
		return
	}
	t.tree.Insert(c.match+"/", c)
	t.exact[c.match] = c
}

// find returns the service with the longest segment prefix of match.
func (t *table) find(match string) *compiled {
	if c, ok := t.exact[match]; ok {
		return c
	}
	if _, v, ok := t.tree.LongestPrefix(match); ok {
		return v.(*compiled)
	}
	return nil
}

// snapshot is an immutable routing table; a Router swaps whole snapshots.
type snapshot struct {
	fed      *Federation
	scenario string            // the active scenario, "" for none
	hosts    map[string]*table // host routes by hostKey
	any      *table            // host-less routes
	services []*compiled
	// transports are the transports this snapshot's proxies use, by
	// origin; each counts as one use in Router.transports while the
	// snapshot is live.
	transports map[string]http.RoundTripper
	// inflight counts the real requests serving on this snapshot; once it
	// is retired (replaced) and the count is zero, its transports are
	// released.
	inflight atomic.Int64
	retired  atomic.Bool
	drained  bool // guarded by Router.mu: the counts were released
}

// lookup routes an escaped request path (query allowed) for host on the
// current snapshot, which it returns too so that a caller names the
// federation that answered. For a clean path (the common case) it
// allocates nothing. A CONNECT request without a path (authority-form:
// "CONNECT host:port") asks for a tunnel, not for a resource: no service
// prefix can match it, and routing it to a root service would hand the
// tunnel request to a mock or an upstream.
//
// It loads the snapshot itself so that Router.Lookup stays small enough
// to inline: a dry run then costs one call, and one copy of the Route.
func (r *Router) lookup(method, host, escaped string) (Route, *snapshot, bool) {
	s := r.snap.Load()
	if escaped == "" && method == http.MethodConnect {
		return Route{}, s, false
	}
	if i := strings.IndexByte(escaped, '?'); i >= 0 {
		escaped = escaped[:i]
	}
	match, raw, ok := cleanPath(escaped)
	if !ok {
		return Route{}, s, false
	}
	var c *compiled
	if len(s.hosts) > 0 {
		if t := s.hosts[hostKey(host)]; t != nil {
			c = t.find(match)
		}
	}
	if c == nil {
		c = s.any.find(match)
	}
	if c == nil {
		return Route{}, s, false
	}
	rt := c.template
	rt.c = c
	rt.RawPath = raw
	if c.svc.StripPrefix {
		rt.RawPath = stripSegments(raw, c.nseg)
	}
	rt.Path = rt.RawPath
	if strings.IndexByte(rt.RawPath, '%') >= 0 {
		if p, err := url.PathUnescape(rt.RawPath); err == nil {
			rt.Path = p
		}
	}
	return rt, s, true
}
