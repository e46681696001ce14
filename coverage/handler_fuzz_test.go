package coverage

import (
	"net/url"
	"testing"
	"time"
)

// FuzzHandlerParams feeds arbitrary query strings to the HTTP API's
// parser: it must not panic, and a query it accepts must resolve to a
// window of whole buckets, no wider than MaxBuckets, with percentages in
// range.
func FuzzHandlerParams(f *testing.F) {
	for _, s := range []string{
		"", "workspace=shop&last=24h", "from=2026-03-02T10:00&to=2026-03-02T13:00", "last=7d&to=2026-03-02",
		"from=2026-03-02&last=1h", "last=99999999999d", "last=-1h", "from=0001-01-01T00:00:00Z", "to=9999-12-31T23:59:59Z",
		"min_coverage=50&ci_only=true&max_drift=1e2&max_missing_in_spec=0%25&max_staleness=3d&format=junit",
		"min_coverage=NaN", "max_drift=-0", "max_staleness=9223372036854775807ns", "a=%zz", "workspace=a&workspace=b",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	now := time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC)
	c, err := NewCollector(Config{Clock: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	h, err := newHandler(c, HandlerConfig{MaxBuckets: 200})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string, gate bool) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, errs := h.parse(v, gate)
		if len(errs) > 0 {
			for _, e := range errs {
				if e.Param == "" || e.Detail == "" {
					t.Fatalf("parse(%q): error without a parameter or detail: %+v", raw, e)
				}
			}
			return
		}
		w, err := c.window(p.query, now)
		if err != nil {
			t.Fatalf("parse(%q) accepted a query whose window fails: %v", raw, err)
		}
		if n := w.To.Sub(w.From) / time.Hour; n <= 0 || n > 200 || !w.From.Equal(w.From.Truncate(time.Hour)) {
			t.Fatalf("parse(%q): window %v..%v (%d buckets); want 1..200 whole hours", raw, w.From, w.To, n)
		}
		th := p.thresholds
		for _, pct := range []*float64{&th.MinCoverage, th.MaxDrift, th.MaxMissingInSpec} {
			if pct != nil && !(*pct >= 0 && *pct <= 100) {
				t.Fatalf("parse(%q): percentage %v out of range", raw, *pct)
			}
		}
		if th.MaxStaleness < 0 || (p.format != "" && p.format != "junit") {
			t.Fatalf("parse(%q): staleness %v, format %q", raw, th.MaxStaleness, p.format)
		}
	})
}
