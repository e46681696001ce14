package federation

import (
	"strconv"
	"time"

	"github.com/mockops/mockops/internal/yamlpos"
)

// RealityLevel says how a service is served.
type RealityLevel string

// The reality levels. Real, MockV3 and ChaosDriven are served today;
// Blended is parsed and validated, and a Router answers it with 501 until
// its behaviour lands (it never fakes a success).
const (
	Real        RealityLevel = "real"         // the real upstream, through a reverse proxy
	MockV3      RealityLevel = "mock_v3"      // the workspace's mock handler, in process
	Blended     RealityLevel = "blended"      // mock and real together (see Blend)
	ChaosDriven RealityLevel = "chaos_driven" // faults on top of mock or real (see Chaos)
)

// realityLevels lists the levels in the order messages suggest them.
var realityLevels = []string{string(Real), string(MockV3), string(Blended), string(ChaosDriven)}

// Federation is a parsed and validated virtual system. Treat it as
// immutable once it is handed to a Router: the Router copies what it needs
// when it builds a routing snapshot.
type Federation struct {
	Name        string
	Description string
	Services    []Service
	Scenarios   []Scenario

	order []int // indexes into Services, dependencies first
	at    positions
}

// Service is one member of a federation.
type Service struct {
	Name        string
	Description string
	// BasePath is the route prefix: "/" or segments without a trailing
	// slash. It matches on segment boundaries: "/auth" matches "/auth" and
	// "/auth/x", never "/authz".
	BasePath string
	// Host, when set, limits the route to requests for that host name
	// (case-insensitive, port ignored). A host route wins over a host-less one.
	Host string
	// Workspace names the mock workspace; empty means the service name.
	Workspace string
	Reality   RealityLevel
	// Upstream is the real service's absolute http or https URL; required
	// for real, blended and chaos on real. Its path, when not "/", is
	// prepended to the forwarded path.
	Upstream string
	// Timeout bounds each wait on the upstream: the dial, the upstream
	// taking the request body, and its response headers, counted from the
	// moment the body has been sent; a slow client upload is bounded by
	// RouterConfig.UploadIdleTimeout instead, and a streamed response body
	// is not cut. Zero means the RouterConfig default.
	Timeout time.Duration
	// StripPrefix removes BasePath from the forwarded path (and sets
	// X-Forwarded-Prefix); otherwise the path is forwarded whole.
	StripPrefix bool
	// PreserveHost forwards the client's Host header instead of the upstream's.
	PreserveHost bool
	// Protocol is what the service speaks: http (the default, also when
	// empty), http2, grpc or websocket. It chooses the upstream transport
	// and rules out the blends and faults that cannot apply to a stream
	// (see the package documentation, # Protocols).
	Protocol Protocol
	// DependsOn names services this one needs; Order puts them first.
	DependsOn []string
	Blend     *Blend
	Chaos     *Chaos
	// Config holds MockForge's free-form `config` keys that MockOps does not
	// interpret (upstream_url and blend_ratio are read into the fields above).
	Config map[string]any

	at positions // where each field was written; empty for hand-built values
}

// WorkspaceName returns Workspace, or the service name when it is empty.
func (s *Service) WorkspaceName() string {
	if s.Workspace != "" {
		return s.Workspace
	}
	return s.Name
}

// Blend configures the blended reality level. mock_first and real_first
// are served; merge and shadow are validated, and a Router answers them
// with 501 until they land.
type Blend struct {
	// Strategy is mock_first, real_first, merge or shadow; empty means
	// real_first.
	Strategy string
	// MissHeader is the response header by which a mock says "miss" to
	// mock_first (any value); empty means DefaultMissHeader. It is never
	// sent to the client.
	MissHeader string
	// MissStatus lists mock statuses that mock_first also treats as a miss.
	MissStatus []int
	// MaxBody bounds the request body kept to replay it to the second
	// side (the upstream after a mock miss, the mock after a real failure);
	// a request whose body is larger is not replayed, and why is recorded
	// in Exchange.Err. 0 means DefaultBlendMaxBody.
	MaxBody int64
	// MergeMethods are the methods merge serves by asking both sides;
	// empty means the safe ones (GET, HEAD, OPTIONS). Other methods are
	// served real_first.
	MergeMethods []string
	// Primary says which side shadow serves: "real" (default) or "mock";
	// the other is asked in the background and compared.
	Primary string
	// FallbackStatus lists upstream statuses that make real_first fall back
	// to the mock (errors and timeouts always do).
	FallbackStatus []int
	// Prefer says whose members win in a merge: "real" (default) or "mock".
	Prefer string
	// Ignore lists noise left out of mock/real comparisons: JSON paths
	// ("$.items[*].updated") and, for entries not starting with "$",
	// header names.
	Ignore []string
	// Sample is the share of shadow requests whose secondary is asked,
	// 0..1; nil means all.
	Sample *float64
	// CompareSample is the share of real_first requests answered by the
	// upstream whose mock is also asked, in the background as a shadow
	// call, to compare the two (drift), 0..1; nil means none.
	CompareSample *float64
	// Ratio is MockForge's blend_ratio (share served by the mock), 0..1.
	Ratio *float64

	at positions
}

// Defaults of Blend's zero values.
const (
	DefaultMissHeader   = "X-Mockops-Mock-Miss"
	DefaultBlendMaxBody = 1 << 20
)

// Chaos configures the chaos_driven reality level (see the package
// documentation, # Chaos). Each
// fault fires with its own probability P (0 never, 1 always), drawn
// independently per request from hash(Seed, service, fault, key).
type Chaos struct {
	Base string // "mock" (default) or "real"
	Seed int64
	// KeyHeader names a request header whose value is the decision key: a
	// request carrying it gets the same faults whenever it is replayed.
	// Without it (or when a request lacks it) the key is the service's
	// request sequence number.
	KeyHeader       string
	HeaderFaults    bool // allow faults requested by the X-Mockops-Chaos request header
	MaxActiveFaults int  // cap on faults applied to one request; 0 = no cap
	Latency         *LatencyFault
	Abort           *AbortFault
	Reset           *Fault
	Empty           *Fault
	Truncate        *TruncateFault
	Bandwidth       *BandwidthFault
	Hang            *HangFault

	at positions // fault fields are keyed "latency.p", "abort.status", ...
}

// Fault is a fault with only a probability.
type Fault struct{ P float64 }

// LatencyFault delays the response: exactly one of Fixed, Uniform or
// Lognormal is set.
type LatencyFault struct {
	P         float64
	Fixed     time.Duration
	Uniform   [2]time.Duration // min, max; set when Uniform[1] > 0
	Lognormal *Lognormal
}

// Lognormal is a lognormal latency distribution.
type Lognormal struct {
	Median time.Duration
	Sigma  float64
}

// AbortFault answers Status (a problem+json body) instead of serving.
type AbortFault struct {
	P      float64
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
}

// TruncateFault cuts the response body after After bytes.
type TruncateFault struct {
	P     float64
	After int64
}

// BandwidthFault limits the response to BytesPerSecond.
type BandwidthFault struct {
	P              float64
	BytesPerSecond int64
}

// HangFault holds the request for Duration, then answers 504; zero holds it
// until the client leaves, bounded by the service's timeout.
type HangFault struct {
	P        float64
	Duration time.Duration
}

// Scenario is a named, system-wide set of per-service overrides.
type Scenario struct {
	Name        string
	Description string
	Services    []Override

	at positions
}

// Override changes one service while a scenario is active; nil or empty
// fields keep the service's own value.
type Override struct {
	Service string
	Reality RealityLevel
	Blend   *Blend
	Chaos   *Chaos

	at positions
}

// Order returns the services in dependency order: every service comes after
// the services it depends on, and otherwise in declaration order. The
// slice is a copy.
func (f *Federation) Order() []Service {
	idx := f.order
	if len(idx) != len(f.Services) { // hand-built or modified: recompute
		idx = dependencyOrder(f.Services)
	}
	out := make([]Service, 0, len(idx))
	for _, i := range idx {
		out = append(out, f.Services[i])
	}
	return out
}

// Service returns the service named name.
func (f *Federation) Service(name string) (Service, bool) {
	for _, s := range f.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// positions records where the fields of one YAML mapping were written, so
// that validation of the decoded values can still point at the source.
type positions struct {
	self   yamlpos.Pos            // the mapping (or list item) itself
	fields map[string]yamlpos.Pos // key path -> position of the value
	bad    map[string]bool        // keys whose value was already reported
}

// fail marks key as reported, so validation does not pile a second
// diagnostic on a value decoding already rejected.
func (p *positions) fail(key string) {
	if p.bad == nil {
		p.bad = make(map[string]bool)
	}
	p.bad[key] = true
}

func (p *positions) failed(key string) bool { return p.bad[key] }

func (p *positions) set(key string, pos yamlpos.Pos) {
	if p.fields == nil {
		p.fields = make(map[string]yamlpos.Pos)
	}
	p.fields[key] = pos
}

// of returns the position of key, falling back to the mapping's own.
func (p *positions) of(key string) yamlpos.Pos {
	if pos, ok := p.fields[key]; ok {
		return pos
	}
	return p.self
}

// indexKey names the i-th item of a list field in positions.
func indexKey(field string, i int) string { return field + "." + strconv.Itoa(i) }
