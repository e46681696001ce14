package federation

import (
	"slices"
	"strings"

	"github.com/mockops/mockops/internal/yamlpos"
)

// validateProtocol checks a service's protocol and what its reality,
// blend and chaos ask of it: a stream (grpc, websocket) cannot be
// buffered, replayed, merged or cut, so the blends and faults that would
// have to say so here, where the definition is written, rather than fail
// on the first call.
func validateProtocol(s *Service, at located, label string, errs *report, realityOK bool) {
	if at.failed("protocol") {
		return
	}
	p := s.Protocol
	if p != "" && !slices.Contains(protocols, string(p)) {
		errs.Add(at.of("protocol"), "%s: unknown protocol %q (one of %s)%s", label, p, strings.Join(protocols, ", "), yamlpos.DidYouMean(string(p), protocols))
		return
	}
	if p == ProtocolGRPC && s.Timeout != 0 && !at.failed("timeout") {
		errs.Add(at.of("timeout"), "%s: timeout does not apply to protocol grpc: each call is bounded by its own deadline (grpc-timeout), and a stream may rightly wait longer than any fixed bound", label)
	}
	if realityOK {
		checkStream(p, s.Reality, s.Blend, s.Chaos, at, at.path, "reality", label, errs)
	}
}

// checkStream reports the blends and faults protocol p cannot carry when
// served at reality r. at and path locate the definition (a service or
// a scenario override), realityKey its reality.
func checkStream(p Protocol, r RealityLevel, b *Blend, c *Chaos, at located, path, realityKey, label string, errs *report) {
	if !p.stream() {
		return
	}
	switch r {
	case Blended:
		checkStreamBlend(p, b, at, path, realityKey, label, errs)
	case ChaosDriven:
		checkStreamChaos(p, c, path, label, errs)
	}
}

// streamBlendReasons says why each strategy cannot serve a stream.
var streamBlendReasons = map[string]string{
	MockFirst: "holds the mock's answer back until its status is known and replays the request to the upstream on a miss; a stream cannot be sent twice, nor can a held-back mock take over the connection",
	RealFirst: "reads the request body before proxying so that the mock can have it too; a streaming call would wait on it forever",
	Merge:     "needs both whole answers to merge them; a stream has no end to wait for",
	Shadow:    "sends each request a second time; a stream cannot be replayed",
}

func checkStreamBlend(p Protocol, b *Blend, at located, path, realityKey, label string, errs *report) {
	// No strategy written: the default one, reported at the reality.
	strategy, where, what := RealFirst, at.of(realityKey), "reality blended (strategy real_first by default)"
	var bat located
	if b != nil {
		bat = b.at.in(joinPath(path, "blend"))
		if b.Strategy != "" {
			strategy, where, what = b.Strategy, bat.of("strategy"), "blend strategy "+b.Strategy
		}
	}
	why, known := streamBlendReasons[strategy]
	if !known {
		return // validateBlend reports the unknown strategy
	}
	if p == ProtocolWebSocket && strategy == RealFirst {
		// An upgrade request has no body: real_first proxies it, and when
		// the upstream fails before answering, the mock takes the upgrade.
		if b != nil && b.CompareSample != nil && *b.CompareSample > 0 {
			errs.Add(bat.of("compare_sample"), "%s: blend compare_sample cannot apply to protocol websocket: a comparison asks the mock the same request again, and an upgraded connection cannot be repeated", label)
		}
		return
	}
	errs.Add(where, "%s: %s cannot serve protocol %s: it %s", label, what, p, why)
}

func checkStreamChaos(p Protocol, c *Chaos, path, label string, errs *report) {
	if c == nil {
		return
	}
	at := c.at.in(joinPath(path, "chaos"))
	if c.Truncate != nil {
		errs.Add(at.of("truncate"), "%s: chaos truncate cannot apply to protocol %s: a stream has no body length to cut short (use reset to break it)", label, p)
	}
	if c.Bandwidth != nil && p == ProtocolWebSocket {
		errs.Add(at.of("bandwidth"), "%s: chaos bandwidth cannot apply to protocol websocket: after the upgrade the connection's bytes no longer pass through the router's response writer", label)
	}
}
