package federation

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// ChaosFault names one fault of the chaos_driven reality level.
type ChaosFault uint8

// The faults, in the order they are drawn and applied: the delays
// (latency, bandwidth) first, then at most one terminal fault, the first
// of abort, reset, empty, truncate and hang that fired.
const (
	FaultLatency   ChaosFault = iota // delay before serving
	FaultBandwidth                   // the response body paced at bytes_per_second
	FaultAbort                       // an error status instead of the answer
	FaultReset                       // the connection reset (TCP RST)
	FaultEmpty                       // the connection closed without a response
	FaultTruncate                    // the body cut after `after` bytes, the connection closed
	FaultHang                        // no answer until the client or a bound gives up
	numFaults
)

var faultNames = [numFaults]string{"latency", "bandwidth", "abort", "reset", "empty", "truncate", "hang"}

func (f ChaosFault) String() string {
	if f < numFaults {
		return faultNames[f]
	}
	return "unknown"
}

// ChaosFaults is a set of faults: what fired for one request.
type ChaosFaults uint16

// Has reports whether f is in the set.
func (s ChaosFaults) Has(f ChaosFault) bool { return s&(1<<f) != 0 }

func (s ChaosFaults) with(f ChaosFault) ChaosFaults { return s | 1<<f }

// String lists the faults comma-separated in drawing order ("" for none).
func (s ChaosFaults) String() string {
	var b strings.Builder
	for f := range numFaults {
		if s.Has(f) {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(faultNames[f])
		}
	}
	return b.String()
}

// HeaderChaos is the request header naming faults to apply to that request
// ("abort, latency"), honoured only when the service's chaos block sets
// header_faults. Only configured faults can be requested; the cap of
// max_active_faults still applies.
const HeaderChaos = "X-Mockops-Chaos"

// chaosDecision is what chaos does to one request.
type chaosDecision struct {
	fired    ChaosFaults // every fault applied
	delay    time.Duration
	terminal ChaosFault // numFaults when none
}

// chaosKey is the decision key of one request: a header value when the
// service names a key header and the request carries it, otherwise the
// service's sequence number.
type chaosKey struct {
	header string
	seq    uint64
	byName bool
}

// The draws beyond one per fault: latency values.
const (
	drawLatency1 = 16 + iota // uniform position, lognormal u1
	drawLatency2             // lognormal u2
)

// decide draws every configured fault once, independently, and applies
// them in order under the cap. forced are the faults a request header
// asked for. It allocates nothing (BenchmarkChaosDecision).
func decide(c *Chaos, service string, k chaosKey, forced ChaosFaults) chaosDecision {
	d := chaosDecision{terminal: numFaults}
	if c == nil {
		return d
	}
	limit := c.MaxActiveFaults
	n := 0
	dr := newDrawer(c.Seed, service, k)
	fire := func(f ChaosFault, configured bool, p float64) bool {
		if !configured {
			return false
		}
		hit := dr.draw(uint8(f)) < p || forced.Has(f)
		if !hit || (limit > 0 && n >= limit) {
			return false
		}
		n++
		d.fired = d.fired.with(f)
		return true
	}
	if l := c.Latency; fire(FaultLatency, l != nil, pOf(l)) {
		d.delay = latency(c.Latency, &dr)
	}
	fire(FaultBandwidth, c.Bandwidth != nil, pOf(c.Bandwidth))
	for _, t := range [...]struct {
		f  ChaosFault
		ok bool
		p  float64
	}{
		{FaultAbort, c.Abort != nil, pOf(c.Abort)},
		{FaultReset, c.Reset != nil, pOf(c.Reset)},
		{FaultEmpty, c.Empty != nil, pOf(c.Empty)},
		{FaultTruncate, c.Truncate != nil, pOf(c.Truncate)},
		{FaultHang, c.Hang != nil, pOf(c.Hang)},
	} {
		if d.terminal == numFaults {
			if fire(t.f, t.ok, t.p) {
				d.terminal = t.f
			}
		}
	}
	return d
}

// pOf reads the probability of a fault of any type; nil is never.
func pOf[F interface {
	*LatencyFault | *AbortFault | *Fault | *TruncateFault | *BandwidthFault | *HangFault
}](f F) float64 {
	switch v := any(f).(type) {
	case *LatencyFault:
		if v != nil {
			return v.P
		}
	case *AbortFault:
		if v != nil {
			return v.P
		}
	case *Fault:
		if v != nil {
			return v.P
		}
	case *TruncateFault:
		if v != nil {
			return v.P
		}
	case *BandwidthFault:
		if v != nil {
			return v.P
		}
	case *HangFault:
		if v != nil {
			return v.P
		}
	}
	return 0
}

// latency draws the delay of a latency fault that fired.
func latency(l *LatencyFault, dr *drawer) time.Duration {
	switch {
	case l.Lognormal != nil:
		u1 := 1 - dr.draw(drawLatency1) // (0, 1]
		u2 := dr.draw(drawLatency2)
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2) // Box-Muller
		return clampDuration(float64(l.Lognormal.Median) * math.Exp(l.Lognormal.Sigma*z))
	case l.Uniform[1] > 0:
		span := float64(l.Uniform[1] - l.Uniform[0])
		return l.Uniform[0] + clampDuration(span*dr.draw(drawLatency1))
	}
	return l.Fixed
}

func clampDuration(ns float64) time.Duration {
	if !(ns < math.MaxInt64) { // NaN too
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// drawer makes the draws of one request. Each draw is the uniform number
// in [0, 1) of hash(seed, service, draw, key): a pure function of those,
// so a seeded run decides the same whatever order its requests are
// served in. The hash is FNV-1a over the fields (lengths and tags keep
// them apart), finished with the splitmix64 mixer so that neighbouring
// sequence numbers give unrelated draws; the part over seed and service
// is computed once per request.
type drawer struct {
	prefix uint64 // FNV-1a state after seed and service
	k      chaosKey
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func newDrawer(seed int64, service string, k chaosKey) drawer {
	return drawer{prefix: fnvString(fnvUint64(fnvOffset, uint64(seed)), service), k: k}
}

func (d *drawer) draw(which uint8) float64 { return unit(d.hash(which)) }

func (d *drawer) hash(which uint8) uint64 {
	h := fnvUint64(d.prefix, uint64(which))
	if d.k.byName {
		h = fnvString(fnvUint64(h, 1), d.k.header)
	} else {
		h = fnvUint64(fnvUint64(h, 0), d.k.seq)
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// fnvUint64 hashes v's eight bytes, little-endian.
func fnvUint64(h, v uint64) uint64 {
	for range 8 {
		h = (h ^ (v & 0xff)) * fnvPrime
		v >>= 8
	}
	return h
}

// fnvString hashes s's length, then its bytes.
func fnvString(h uint64, s string) uint64 {
	h = fnvUint64(h, uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// unit maps a hash to [0, 1) on 53 bits: below 1 even for the largest
// hash, so that p: 1 always fires, and 0 only for hashes below 2^11.
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// forcedFaults reads the X-Mockops-Chaos header: the configured faults it
// names. It allocates nothing.
func forcedFaults(c *Chaos, h http.Header) ChaosFaults {
	var s ChaosFaults
	for _, v := range h[HeaderChaos] {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			name = strings.TrimSpace(name)
			for f := range numFaults {
				if strings.EqualFold(name, faultNames[f]) && configured(c, f) {
					s = s.with(f)
				}
			}
		}
	}
	return s
}

func configured(c *Chaos, f ChaosFault) bool {
	switch f {
	case FaultLatency:
		return c.Latency != nil
	case FaultBandwidth:
		return c.Bandwidth != nil
	case FaultAbort:
		return c.Abort != nil
	case FaultReset:
		return c.Reset != nil
	case FaultEmpty:
		return c.Empty != nil
	case FaultTruncate:
		return c.Truncate != nil
	case FaultHang:
		return c.Hang != nil
	}
	return false
}
