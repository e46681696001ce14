package federation

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mockops/mockops/internal/yamlpos"
)

var (
	blendStrategies = []string{"mock_first", "real_first", "merge", "shadow"}
	chaosBases      = []string{"mock", "real"}
)

func validateBlend(b *Blend, path, label string, errs *report) {
	if b == nil {
		return
	}
	at := b.at.in(joinPath(path, "blend"))
	if b.Strategy != "" && !slices.Contains(blendStrategies, b.Strategy) {
		errs.Add(at.of("strategy"), "%s: unknown blend strategy %q (one of mock_first, real_first, merge, shadow)%s",
			label, b.Strategy, yamlpos.DidYouMean(b.Strategy, blendStrategies))
	}
	if b.Prefer != "" && b.Prefer != "real" && b.Prefer != "mock" {
		errs.Add(at.of("prefer"), "%s: blend prefer must be \"real\" or \"mock\", got %q", label, b.Prefer)
	}
	for _, l := range []struct {
		key  string
		vals []int
	}{{"fallback_status", b.FallbackStatus}, {"miss_status", b.MissStatus}} {
		for i, st := range l.vals {
			if st < 100 || st > 599 {
				errs.Add(at.of(indexKey(l.key, i)), "%s: %s %d is not an HTTP status (100..599)", label, l.key, st)
			}
		}
	}
	if b.MissHeader != "" && !validHeaderName(b.MissHeader) {
		errs.Add(at.of("miss_header"), "%s: miss_header %q is not a valid header name", label, b.MissHeader)
	}
	if b.Primary != "" && b.Primary != "real" && b.Primary != "mock" {
		errs.Add(at.of("primary"), "%s: blend primary must be \"real\" or \"mock\", got %q", label, b.Primary)
	}
	for _, m := range b.MergeMethods {
		if !validHeaderName(m) || strings.ToUpper(m) != m {
			errs.Add(at.of("merge_methods"), "%s: merge_methods %q is not an HTTP method (upper-case token)", label, m)
		}
	}
	for _, ig := range b.Ignore {
		if strings.HasPrefix(ig, "$") {
			if _, err := parseJSONPath(ig); err != nil {
				errs.Add(at.of("ignore"), "%s: blend ignore: %v", label, strings.TrimPrefix(err.Error(), "federation: "))
			}
		} else if !validHeaderName(ig) {
			errs.Add(at.of("ignore"), "%s: blend ignore %q is neither a JSON path (\"$...\") nor a header name", label, ig)
		}
	}
	if b.MaxBody < 0 {
		errs.Add(at.of("max_body"), "%s: blend max_body must not be negative, got %d", label, b.MaxBody)
	}
	probability(b.Sample, at, "sample", label+": blend sample", errs)
	probability(b.Ratio, at, "ratio", label+": blend_ratio", errs)
	probability(b.CompareSample, at, "compare_sample", label+": blend compare_sample", errs)
}

func validateChaos(c *Chaos, path, label string, errs *report) {
	if c == nil {
		return
	}
	at := c.at.in(joinPath(path, "chaos"))
	if c.Base != "" && !slices.Contains(chaosBases, c.Base) {
		errs.Add(at.of("base"), "%s: chaos base must be \"mock\" or \"real\", got %q", label, c.Base)
	}
	if c.KeyHeader != "" && !validHeaderName(c.KeyHeader) {
		errs.Add(at.of("key_header"), "%s: chaos key_header %q is not a valid header name", label, c.KeyHeader)
	}
	if c.MaxActiveFaults < 0 {
		errs.Add(at.of("max_active_faults"), "%s: max_active_faults must not be negative", label)
	}
	if l := c.Latency; l != nil {
		faultP(l.P, at, "latency", label, errs)
		n := 0
		if l.Fixed != 0 {
			n++
			nonNegative(l.Fixed, at, "latency.fixed", label, errs)
		}
		if l.Uniform != [2]time.Duration{} {
			n++
			if l.Uniform[0] < 0 || l.Uniform[1] < l.Uniform[0] {
				errs.Add(at.of("latency.uniform"), "%s: latency uniform needs 0 <= min <= max, got [%s, %s]", label, l.Uniform[0], l.Uniform[1])
			}
		}
		if ln := l.Lognormal; ln != nil {
			n++
			if ln.Median <= 0 && !at.failed("latency.lognormal.median") {
				errs.Add(at.of("latency.lognormal.median"), "%s: latency lognormal needs a positive median", label)
			}
			if !(ln.Sigma > 0 && ln.Sigma <= math.MaxFloat64) && !at.failed("latency.lognormal.sigma") { // NaN and +Inf too
				errs.Add(at.of("latency.lognormal.sigma"), "%s: latency lognormal needs a positive, finite sigma", label)
			}
		}
		if n != 1 && !at.failed("latency") && !anyFailed(at, "latency.fixed", "latency.uniform", "latency.lognormal") {
			errs.Add(at.of("latency"), "%s: latency needs exactly one of fixed, uniform or lognormal, got %d", label, n)
		}
	}
	if a := c.Abort; a != nil {
		faultP(a.P, at, "abort", label, errs)
		if (a.Status < 400 || a.Status > 599) && !at.failed("abort.status") {
			errs.Add(at.of("abort.status"), "%s: abort status must be an error status (400..599), got %d", label, a.Status)
		}
		nonNegative(a.RetryAfter, at, "abort.retry_after", label, errs)
	}
	if f := c.Reset; f != nil {
		faultP(f.P, at, "reset", label, errs)
	}
	if f := c.Empty; f != nil {
		faultP(f.P, at, "empty", label, errs)
	}
	if f := c.Truncate; f != nil {
		faultP(f.P, at, "truncate", label, errs)
		if f.After < 0 {
			errs.Add(at.of("truncate.after"), "%s: truncate after must not be negative", label)
		}
	}
	if f := c.Bandwidth; f != nil {
		faultP(f.P, at, "bandwidth", label, errs)
		if f.BytesPerSecond <= 0 && !at.failed("bandwidth.bytes_per_second") {
			errs.Add(at.of("bandwidth.bytes_per_second"), "%s: bandwidth needs a positive bytes_per_second", label)
		}
	}
	if f := c.Hang; f != nil {
		faultP(f.P, at, "hang", label, errs)
		nonNegative(f.Duration, at, "hang.duration", label, errs)
	}
}

func faultP(p float64, at located, fault, label string, errs *report) {
	probability(&p, at, fault+".p", fmt.Sprintf("%s: chaos %s p", label, fault), errs)
}

func probability(p *float64, at located, key, what string, errs *report) {
	if p == nil || at.failed(key) {
		return
	}
	if !(*p >= 0 && *p <= 1) { // also rejects NaN
		errs.Add(at.of(key), "%s must be a probability between 0 and 1, got %v", what, *p)
	}
}

func nonNegative(d time.Duration, at located, key, label string, errs *report) {
	if d < 0 {
		errs.Add(at.of(key), "%s: %s must not be negative, got %s", label, key, d)
	}
}

func anyFailed(at located, keys ...string) bool {
	for _, k := range keys {
		if at.failed(k) {
			return true
		}
	}
	return false
}

// validHeaderName reports whether s is an RFC 9110 field name (a token).
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
