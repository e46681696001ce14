package coverage

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParamError is one bad query-string parameter of the HTTP API; a 400
// answer lists them all in its "errors" member.
type ParamError struct {
	Param  string `json:"param"`
	Detail string `json:"detail"`
}

type paramErrors []ParamError

func (e paramErrors) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		parts[i] = p.Param + ": " + p.Detail
	}
	return "coverage: bad query: " + strings.Join(parts, "; ")
}

// params is a parsed query string.
type params struct {
	query      Query
	thresholds Thresholds
	format     string // "" (JSON) or "junit"
	last       string // as given, for the dashboard's filter form
}

var (
	filterParams = []string{"workspace", "from", "to", "last"}
	gateParams   = []string{"min_coverage", "ci_only", "max_missing_in_spec", "max_drift", "max_staleness", "format"}
)

// timeLayouts are the forms from and to accept: RFC 3339, and the value
// of an HTML datetime-local or date input, read as UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// parseParams reads the filters (and, for the gate, the thresholds) of v
// at now. Every problem is reported, not only the first. An empty value is
// the parameter's absence, so a GET form may send all its fields.
func parseParams(v url.Values, now time.Time, gate bool) (params, paramErrors) {
	var p params
	var errs paramErrors
	bad := func(name, format string, a ...any) {
		errs = append(errs, ParamError{Param: name, Detail: fmt.Sprintf(format, a...)})
	}
	known := filterParams
	if gate {
		known = append(slices.Clip(filterParams), gateParams...)
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	get := map[string]string{}
	for _, name := range names {
		switch vals := v[name]; {
		case name == "" && strings.Join(vals, "") == "":
			// "?=" or "?&=": a stray separator, not a parameter.
		case name == "":
			bad("(empty name)", "a value without a parameter name")
		case !slices.Contains(known, name):
			bad(name, "unknown parameter (known: %s)", strings.Join(known, ", "))
		case len(vals) > 1:
			bad(name, "given %d times; give it once", len(vals))
		default:
			get[name] = strings.TrimSpace(vals[0])
		}
	}
	p.query.Workspace = get["workspace"]
	var to time.Time
	if s := get["to"]; s != "" {
		t, err := parseTime(s)
		if err != nil {
			bad("to", "%v", err)
		}
		to = t
	}
	p.query.To = to
	if s := get["from"]; s != "" {
		t, err := parseTime(s)
		if err != nil {
			bad("from", "%v", err)
		}
		p.query.From = t
	}
	if s := get["last"]; s != "" {
		p.last = s
		d, err := parseSpan(s)
		switch {
		case err != nil:
			bad("last", "%v", err)
		case get["from"] != "":
			bad("last", "give last or from, not both")
		default:
			end := to
			if end.IsZero() {
				end = now
			}
			p.query.From = end.Add(-d)
		}
	}
	if !p.query.From.IsZero() && !p.query.To.IsZero() && !p.query.From.Before(p.query.To) {
		bad("from", "%s is not before to %s", p.query.From.Format(time.RFC3339), p.query.To.Format(time.RFC3339))
	}
	if gate {
		p.thresholds.Query = p.query
		p.thresholds.MinCoverage = percentParam(get, "min_coverage", bad)
		if s := get["ci_only"]; s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				bad("ci_only", "%q is not true or false", s)
			}
			p.thresholds.CIOnly = b
		}
		for name, dst := range map[string]**float64{"max_missing_in_spec": &p.thresholds.MaxMissingInSpec, "max_drift": &p.thresholds.MaxDrift} {
			if get[name] != "" {
				*dst = Limit(percentParam(get, name, bad))
			}
		}
		if s := get["max_staleness"]; s != "" {
			d, err := parseSpan(s)
			if err != nil {
				bad("max_staleness", "%v", err)
			}
			p.thresholds.MaxStaleness = d
		}
		switch f := get["format"]; f {
		case "", "json":
		case "junit":
			p.format = f
		default:
			bad("format", "%q is not json or junit", f)
		}
	}
	slices.SortStableFunc(errs, func(a, b ParamError) int { return strings.Compare(a.Param, b.Param) })
	return p, errs
}

// percentParam reads a percentage in [0, 100]; 0 when absent or bad.
func percentParam(get map[string]string, name string, bad func(string, string, ...any)) float64 {
	s := get[name]
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
		bad(name, "%q is not a percentage from 0 to 100", s)
		return 0
	}
	return f
}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, 2006-01-02T15:04 or 2006-01-02, UTC)", s)
}

// parseSpan reads a positive duration: Go's syntax ("36h", "90m") or a
// whole number of days ("7d").
func parseSpan(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int64
		days, err = strconv.ParseInt(n, 10, 64)
		if err == nil && (days <= 0 || days > 100*366) {
			err = fmt.Errorf("out of range")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration (36h, 90m, 7d)", s)
	}
	return d, nil
}

// parse reads r's query string at the collector's time and checks that
// the window it asks for resolves (as Report will resolve it) to at most
// MaxBuckets buckets: one query cannot ask for a page of a million
// columns.
func (h *Handler) parse(v url.Values, gate bool) (params, paramErrors) {
	now := h.c.now().UTC()
	p, errs := parseParams(v, now, gate)
	if len(errs) > 0 {
		return p, errs
	}
	w, err := h.c.window(p.query, now)
	if err != nil {
		return p, paramErrors{{Param: "from", Detail: err.Error()}}
	}
	if n := w.To.Sub(w.From) / h.c.cfg.Bucket; n > time.Duration(h.cfg.MaxBuckets) {
		name := "from"
		if p.last != "" {
			name = "last"
		}
		return p, paramErrors{{Param: name, Detail: fmt.Sprintf("the window spans %d buckets of %v; at most %d", int64(n), h.c.cfg.Bucket, h.cfg.MaxBuckets)}}
	}
	return p, nil
}
