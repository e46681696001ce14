package federation

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mockops/mockops/internal/yamlpos"
)

// namePattern is what service, scenario and federation names may hold:
// they appear in URLs of the admin API, in logs and in metrics labels.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate checks a federation built or modified in code, with the same
// rules Parse applies. The error is an ErrorList; positions are known only
// for values that came from Parse.
func (f *Federation) Validate() error {
	var errs yamlpos.ErrorList
	validate(f, &errs)
	return errs.Err()
}

func validate(f *Federation, errs *yamlpos.ErrorList) {
	switch {
	case f.at.failed("name"):
	case f.Name == "":
		errs.Add(f.at.of("name"), "missing required key \"name\"")
	case !namePattern.MatchString(f.Name):
		errs.Add(f.at.of("name"), "federation name %q: use letters, digits, '.', '-' and '_'", f.Name)
	}
	if len(f.Services) == 0 && !f.at.failed("services") {
		if _, written := f.at.fields["services"]; written || f.at.self.File == "" {
			errs.Add(f.at.of("services"), "a federation needs at least one service")
		} else {
			errs.Add(f.at.self, "missing required key \"services\"")
		}
	}
	names := make(map[string]int, len(f.Services))
	type routeKey struct{ host, prefix string }
	prefixes := make(map[routeKey]int, len(f.Services))
	for i := range f.Services {
		s := &f.Services[i]
		validateService(s, errs)
		if s.Name != "" {
			if j, dup := names[s.Name]; dup {
				errs.Add(s.at.of("name"), "duplicate service name %q (first declared at %s)", s.Name, f.Services[j].at.of("name"))
			} else {
				names[s.Name] = i
			}
		}
		if m, ok := prefixMatchForm(s.BasePath); ok && s.BasePath != "" {
			k := routeKey{hostKey(s.Host), m}
			if j, dup := prefixes[k]; dup {
				errs.Add(s.at.of("base_path"), "service %q: base_path %q is already routed to service %q", s.Name, s.BasePath, f.Services[j].Name)
			} else {
				prefixes[k] = i
			}
		}
	}
	validateDependencies(f.Services, names, errs)
	scenarios := make(map[string]bool, len(f.Scenarios))
	for i := range f.Scenarios {
		sc := &f.Scenarios[i]
		switch {
		case sc.at.failed("name"):
		case sc.Name == "":
			errs.Add(sc.at.self, "scenario: missing required key \"name\"")
		case !namePattern.MatchString(sc.Name):
			errs.Add(sc.at.of("name"), "scenario name %q: use letters, digits, '.', '-' and '_'", sc.Name)
		case scenarios[sc.Name]:
			errs.Add(sc.at.of("name"), "duplicate scenario name %q", sc.Name)
		}
		scenarios[sc.Name] = true
		for j := range sc.Services {
			validateOverride(f, sc, &sc.Services[j], names, errs)
		}
	}
}

func validateService(s *Service, errs *yamlpos.ErrorList) {
	at := &s.at
	if at.failed("*") {
		return
	}
	label := fmt.Sprintf("service %q", s.Name)
	switch {
	case at.failed("name"):
	case s.Name == "":
		errs.Add(at.self, "service: missing required key \"name\"")
		label = "service"
	case !namePattern.MatchString(s.Name):
		errs.Add(at.of("name"), "service name %q: use letters, digits, '.', '-' and '_'", s.Name)
	}
	if !at.failed("base_path") {
		if s.BasePath == "" {
			errs.Add(at.of("base_path"), "%s: missing required key \"base_path\"", label)
		} else if msg := checkPrefix(s.BasePath); msg != "" {
			errs.Add(at.of("base_path"), "%s: base_path %q %s", label, s.BasePath, msg)
		}
	}
	if s.Host != "" && !at.failed("host") {
		if msg := checkHost(s.Host); msg != "" {
			errs.Add(at.of("host"), "%s: host %q %s", label, s.Host, msg)
		}
	}
	if s.Workspace != "" && strings.TrimSpace(s.Workspace) != s.Workspace {
		errs.Add(at.of("workspace"), "%s: workspace %q has surrounding spaces", label, s.Workspace)
	}
	realityOK := checkReality(s.Reality, at, "reality", label, errs, true)
	if !at.failed("upstream") {
		if s.Upstream != "" {
			if _, msg := parseUpstream(s.Upstream); msg != "" {
				errs.Add(at.of("upstream"), "%s: upstream %q %s", label, s.Upstream, msg)
			}
		} else if realityOK && needsUpstream(s.Reality, s.Chaos) {
			errs.Add(at.of("reality"), "%s: reality %s needs an upstream (upstream: or config.upstream_url:)", label, describeNeed(s.Reality, s.Chaos))
		}
	}
	if s.Timeout < 0 {
		errs.Add(at.of("timeout"), "%s: timeout must be positive, got %s", label, s.Timeout)
	}
	validateBlend(s.Blend, label, errs)
	validateChaos(s.Chaos, label, errs)
}

// checkReality reports an unknown level; required says whether empty is an error.
func checkReality(r RealityLevel, at *positions, key, label string, errs *yamlpos.ErrorList, required bool) bool {
	if at.failed(key) {
		return false
	}
	if r == "" {
		if required {
			errs.Add(at.of(key), "%s: missing required key \"reality\" (one of %s)", label, strings.Join(realityLevels, ", "))
		}
		return false
	}
	if !slices.Contains(realityLevels, string(r)) {
		errs.Add(at.of(key), "%s: unknown reality %q (one of %s)%s", label, r, strings.Join(realityLevels, ", "), yamlpos.DidYouMean(string(r), realityLevels))
		return false
	}
	return true
}

// needsUpstream reports whether serving at level r with chaos c reaches
// the real service.
func needsUpstream(r RealityLevel, c *Chaos) bool {
	switch r {
	case Real, Blended:
		return true
	case ChaosDriven:
		return c != nil && c.Base == "real"
	}
	return false
}

func describeNeed(r RealityLevel, c *Chaos) string {
	if r == ChaosDriven {
		return "chaos_driven on base real"
	}
	return string(r)
}

// checkPrefix returns why p is not a valid base path, or "".
func checkPrefix(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "must start with \"/\""
	case strings.ContainsAny(p, "?#"):
		return "must not contain '?' or '#'"
	case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "must not contain spaces or control characters (percent-encode them)"
	case p != "/" && strings.HasSuffix(p, "/"):
		return "must not end with \"/\" (only the root \"/\" may)"
	case strings.Contains(p, "//"):
		return "must not contain empty segments (\"//\")"
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch kind, ok := classifySegment(seg); {
		case !ok:
			return fmt.Sprintf("has a malformed percent-escape in segment %q", seg)
		case kind == segDot || kind == segDotDot:
			return "must not contain \".\" or \"..\" segments"
		}
	}
	return ""
}

// prefixMatchForm returns the match form of a valid base path.
func prefixMatchForm(p string) (string, bool) {
	if checkPrefix(p) != "" {
		return "", false
	}
	m, _, ok := cleanPath(p)
	return m, ok
}

// checkHost returns why h is not a valid route host name, or "".
func checkHost(h string) string {
	if strings.Contains(h, "://") {
		return "must be a host name, not a URL"
	}
	if strings.Contains(h, ":") {
		return "must not include a port (ports are ignored when matching)"
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return "must hold only letters, digits, '-' and '.'"
		}
	}
	if strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return "has an empty label"
	}
	return ""
}

// parseUpstream parses an upstream URL, returning why it is unusable.
func parseUpstream(raw string) (*url.URL, string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, "is not a URL: " + strings.TrimPrefix(err.Error(), "parse "+fmt.Sprintf("%q", raw)+": ")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "must be an absolute http:// or https:// URL"
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, "must name a host (http://host[:port][/path])"
	case u.Port() != "" && !validPort(u.Port()):
		return nil, "has a port outside 1-65535"
	case u.User != nil:
		return nil, "must not carry credentials; set them in a Transport"
	case u.RawQuery != "" || u.ForceQuery:
		return nil, "must not have a query"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, "must not have a fragment"
	}
	return u, ""
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

func validateDependencies(svcs []Service, names map[string]int, errs *yamlpos.ErrorList) {
	for i := range svcs {
		s := &svcs[i]
		for k, dep := range s.DependsOn {
			pos := s.at.of(indexKey("depends_on", k))
			switch _, ok := names[dep]; {
			case dep == s.Name: // by name: with a duplicated name, index i may not be the one in names
				errs.Add(pos, "service %q depends on itself", s.Name)
			case !ok:
				errs.Add(pos, "service %q depends on unknown service %q%s", s.Name, dep, yamlpos.DidYouMean(dep, serviceNames(svcs)))
			}
		}
	}
	_, cycles := dependencyOrder(svcs)
	for _, c := range cycles {
		s := &svcs[c.from]
		path := make([]string, len(c.path))
		for i, idx := range c.path {
			path[i] = svcs[idx].Name
		}
		errs.Add(s.at.of(indexKey("depends_on", c.edge)), "dependency cycle: %s", strings.Join(path, " -> "))
	}
}

func serviceNames(svcs []Service) []string {
	out := make([]string, len(svcs))
	for i := range svcs {
		out[i] = svcs[i].Name
	}
	return out
}

// cycle is a dependency cycle found by dependencyOrder: the edge
// (from, DependsOn[edge]) closes path, which starts and ends at one service.
type cycle struct {
	from, edge int
	path       []int
}

// dependencyOrder orders services so that each follows its dependencies,
// otherwise keeping declaration order (a depth-first post-order from each
// service in turn). Unknown and self dependencies are ignored; each cycle
// is returned once, at the edge that closes it.
func dependencyOrder(svcs []Service) ([]int, []cycle) {
	index := make(map[string]int, len(svcs))
	for i := len(svcs) - 1; i >= 0; i-- { // first declaration wins on duplicates
		index[svcs[i].Name] = i
	}
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(svcs))
	order := make([]int, 0, len(svcs))
	var stack []int
	var cycles []cycle
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for k, dep := range svcs[i].DependsOn {
			j, ok := index[dep]
			if !ok || j == i || dep == svcs[i].Name {
				continue
			}
			switch color[j] {
			case white:
				visit(j)
			case grey:
				start := slices.Index(stack, j)
				path := append(slices.Clone(stack[start:]), j)
				cycles = append(cycles, cycle{from: i, edge: k, path: path})
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		order = append(order, i)
	}
	for i := range svcs {
		if color[i] == white {
			visit(i)
		}
	}
	return order, cycles
}

func validateOverride(f *Federation, sc *Scenario, o *Override, names map[string]int, errs *yamlpos.ErrorList) {
	label := fmt.Sprintf("scenario %q service %q", sc.Name, o.Service)
	i, ok := names[o.Service]
	if !ok {
		errs.Add(o.at.self, "scenario %q overrides unknown service %q%s", sc.Name, o.Service, yamlpos.DidYouMean(o.Service, serviceNames(f.Services)))
		return
	}
	s := &f.Services[i]
	if !checkReality(o.Reality, &o.at, "reality", label, errs, false) {
		validateBlend(o.Blend, label, errs)
		validateChaos(o.Chaos, label, errs)
		return
	}
	chaos := o.Chaos
	if chaos == nil {
		chaos = s.Chaos
	}
	if s.Upstream == "" && needsUpstream(o.Reality, chaos) {
		errs.Add(o.at.of("reality"), "%s: reality %s needs an upstream, and service %q has none", label, describeNeed(o.Reality, chaos), s.Name)
	}
	validateBlend(o.Blend, label, errs)
	validateChaos(o.Chaos, label, errs)
}
