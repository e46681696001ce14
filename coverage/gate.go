package coverage

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Thresholds are a CI gate's limits. A zero field is a check not made,
// except the Max percentages, which are pointers so that 0% can be asked
// for (Limit(0)).
type Thresholds struct {
	// Query selects the window and workspace the gate judges.
	Query Query
	// MinCoverage is the least operation coverage, in percent, of every
	// service with a spec. CIOnly counts CI traffic only.
	MinCoverage float64
	CIOnly      bool
	// MaxMissingInSpec is the most requests, in percent of a service's
	// requests, that no operation of its spec matched.
	MaxMissingInSpec *float64
	// MaxDrift is the most drifting branches, in percent of compared ones.
	MaxDrift *float64
	// MaxStaleness is the longest a service may go without a refresh or
	// verification; a service never checked or stale_by_content fails.
	MaxStaleness time.Duration
}

// Limit returns p as a threshold, for the Max fields of Thresholds.
func Limit(p float64) *float64 { return &p }

// Check is one judged limit.
type Check struct {
	// Name is "coverage", "missing_in_spec", "drift" or "staleness".
	Name    string `json:"name"`
	Service string `json:"service"`
	Pass    bool   `json:"pass"`
	// Value is the measured figure (percent, or seconds for staleness),
	// null when there was nothing to measure.
	Value *float64 `json:"value"`
	Limit float64  `json:"limit"`
	// Reason says why the check failed, or what it measured.
	Reason string `json:"reason"`
}

// Verdict is a gate's decision with every check that made it.
type Verdict struct {
	Pass   bool    `json:"pass"`
	Checks []Check `json:"checks"`
	// Reasons are the failed checks' reasons, in check order.
	Reasons []string `json:"reasons"`
	Report  *Report  `json:"-"`
}

// Gate judges the report of t.Query against t. A figure with an empty
// denominator (a spec with no operation, a service never compared) passes
// the max checks (nothing missing, nothing drifting) and fails
// MinCoverage, since nothing was shown to be covered; so does a report
// with no service with a spec at all (one failed "coverage" check with
// no service).
func (c *Collector) Gate(ctx context.Context, t Thresholds) (*Verdict, error) {
	rep, err := c.Report(ctx, t.Query)
	if err != nil {
		return nil, err
	}
	return Judge(rep, t), nil
}

// Judge is Gate on a report already made.
func Judge(rep *Report, t Thresholds) *Verdict {
	v := &Verdict{Pass: true, Checks: []Check{}, Reasons: []string{}, Report: rep}
	add := func(ch Check) {
		v.Checks = append(v.Checks, ch)
		if !ch.Pass {
			v.Pass = false
			v.Reasons = append(v.Reasons, ch.Service+": "+ch.Reason)
		}
	}
	for _, s := range rep.Endpoints.Services {
		if t.MinCoverage > 0 {
			r, what := s.Operations, "operations covered"
			if t.CIOnly {
				r, what = s.OperationsCI, "operations covered by CI"
			}
			ch := Check{Name: "coverage", Service: s.Service, Value: r.Percent, Limit: t.MinCoverage}
			switch {
			case r.Percent == nil:
				ch.Reason = "no operation to cover: coverage is undefined"
			default:
				ch.Pass = *r.Percent >= t.MinCoverage
				ch.Reason = fmt.Sprintf("%s %d/%d (%s), minimum %s", what, r.Numerator, r.Denominator, pct(*r.Percent), pct(t.MinCoverage))
			}
			add(ch)
		}
		if t.MaxMissingInSpec != nil {
			r := s.MissingInSpec
			ch := Check{Name: "missing_in_spec", Service: s.Service, Value: r.Percent, Limit: *t.MaxMissingInSpec, Pass: true, Reason: "no request"}
			if r.Percent != nil {
				ch.Pass = *r.Percent <= *t.MaxMissingInSpec
				ch.Reason = fmt.Sprintf("requests missing from the spec %d/%d (%s), maximum %s", r.Numerator, r.Denominator, pct(*r.Percent), pct(*t.MaxMissingInSpec))
			}
			add(ch)
		}
	}
	// A minimum with no service to judge is not met: a workspace typo or a
	// spec left out must fail the gate, not pass it with no check at all.
	if t.MinCoverage > 0 && len(rep.Endpoints.Services) == 0 {
		add(Check{Name: "coverage", Limit: t.MinCoverage, Reason: "no service with a spec in the report: coverage is undefined"})
	}
	if t.MaxDrift != nil {
		for _, s := range rep.Drift.Services {
			r := s.Branches
			ch := Check{Name: "drift", Service: s.Service, Value: r.Percent, Limit: *t.MaxDrift, Pass: true, Reason: "nothing compared"}
			if r.Percent != nil {
				ch.Pass = *r.Percent <= *t.MaxDrift
				ch.Reason = fmt.Sprintf("drifting branches %d/%d (%s), maximum %s", r.Numerator, r.Denominator, pct(*r.Percent), pct(*t.MaxDrift))
			}
			add(ch)
		}
	}
	if t.MaxStaleness > 0 {
		for _, s := range rep.Staleness.Services {
			ch := Check{Name: "staleness", Service: s.Service, Value: s.AgeSeconds, Limit: t.MaxStaleness.Seconds()}
			switch {
			case s.State == StaleNever:
				ch.Reason = "never refreshed or verified against the upstream"
			case s.State == StaleByContent:
				ch.Reason = fmt.Sprintf("stale by content: upstream contract %s, mocks built from %s", s.UpstreamHash, s.ContractHash)
			default:
				age := time.Duration(*s.AgeSeconds * float64(time.Second))
				ch.Pass = age <= t.MaxStaleness
				ch.Reason = fmt.Sprintf("last checked %v ago (%s), maximum %v", age.Round(time.Second), s.State, t.MaxStaleness)
			}
			add(ch)
		}
	}
	return v
}

func pct(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

// JUnit XML, the subset CI systems read: one testsuite, one testcase per
// check, a failure element for each failed one.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Fails     int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Out       string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes the verdict as JUnit XML: a testsuite "mockops.coverage"
// with a testcase per check (classname "coverage.<check>", name the
// service), so CI systems show each limit natively.
func (v *Verdict) JUnit(w io.Writer) error {
	s := junitSuite{Name: "mockops.coverage", Tests: len(v.Checks), Cases: []junitCase{}}
	if v.Report != nil && !v.Report.GeneratedAt.IsZero() {
		s.Timestamp = v.Report.GeneratedAt.Format(time.RFC3339)
	}
	for _, ch := range v.Checks {
		jc := junitCase{Name: ch.Service, Classname: "coverage." + ch.Name, Time: "0"}
		if ch.Pass {
			jc.Out = ch.Reason
		} else {
			s.Fails++
			jc.Failure = &junitFailure{Message: ch.Reason, Type: ch.Name, Text: ch.Reason}
		}
		s.Cases = append(s.Cases, jc)
	}
	doc := junitSuites{Name: "mockops", Tests: s.Tests, Fails: s.Fails, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("coverage: junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("coverage: junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("coverage: junit: %w", err)
	}
	return nil
}
