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
//
// A value built in Go has no position: its diagnostics name it by path
// instead ("services[orders].timeout: ...", see Error).
func (f *Federation) Validate() error {
	var errs report
	validate(f, &errs)
	return errs.err()
}

// servicePaths names each service for diagnostics: by its name, or by
// its index when it has no usable name or repeats an earlier one.
func servicePaths(svcs []Service) []string {
	out := make([]string, len(svcs))
	seen := make(map[string]bool, len(svcs))
	for i := range svcs {
		name := svcs[i].Name
		if seen[name] {
			name = ""
		}
		seen[name] = true
		out[i] = itemPath("services", name, i)
	}
	return out
}

func validate(f *Federation, errs *report) {
	top := f.at.in("")
	switch {
	case f.at.failed("name"):
	case f.Name == "":
		errs.Add(top.of("name"), "missing required key \"name\"")
	case !namePattern.MatchString(f.Name):
		errs.Add(top.of("name"), "federation name %q: use letters, digits, '.', '-' and '_'", f.Name)
	}
	if len(f.Services) == 0 && !f.at.failed("services") {
		if _, written := f.at.fields["services"]; written || f.at.self.File == "" {
			errs.Add(top.of("services"), "a federation needs at least one service")
		} else {
			errs.Add(spot{f.at.self, "services"}, "missing required key \"services\"")
		}
	}
	names := make(map[string]int, len(f.Services))
	paths := servicePaths(f.Services)
	type routeKey struct{ host, prefix string }
	prefixes := make(map[routeKey]int, len(f.Services))
	for i := range f.Services {
		s := &f.Services[i]
		at := s.at.in(paths[i])
		validateService(s, at, errs)
		if s.Name != "" {
			if j, dup := names[s.Name]; dup {
				first := &f.Services[j]
				errs.Add(at.of("name"), "duplicate service name %q (first declared at %s)", s.Name, first.at.in(paths[j]).of("name"))
			} else {
				names[s.Name] = i
			}
		}
		if m, ok := prefixMatchForm(s.BasePath); ok && s.BasePath != "" {
			k := routeKey{hostKey(s.Host), m}
			if j, dup := prefixes[k]; dup {
				first := &f.Services[j]
				errs.Add(at.of("base_path"), "service %q: base_path %q is already routed to service %q (declared at %s)",
					s.Name, s.BasePath, first.Name, first.at.in(paths[j]).of("base_path"))
			} else {
				prefixes[k] = i
			}
		}
	}
	validateDependencies(f.Services, paths, names, errs)
	scenarios := make(map[string]bool, len(f.Scenarios))
	for i := range f.Scenarios {
		sc := &f.Scenarios[i]
		at := sc.at.in(itemPath("scenarios", sc.Name, i))
		switch {
		case sc.at.failed("name"):
		case sc.Name == "":
			errs.Add(at.self(), "scenario: missing required key \"name\"")
		case !namePattern.MatchString(sc.Name):
			errs.Add(at.of("name"), "scenario name %q: use letters, digits, '.', '-' and '_'", sc.Name)
		case scenarios[sc.Name]:
			errs.Add(at.of("name"), "duplicate scenario name %q", sc.Name)
		}
		scenarios[sc.Name] = true
		for j := range sc.Services {
			o := &sc.Services[j]
			validateOverride(f, sc, o, o.at.in(at.path+"."+itemPath("services", o.Service, j)), names, errs)
		}
	}
}

func validateService(s *Service, at located, errs *report) {
	if at.failed("*") {
		return
	}
	label := fmt.Sprintf("service %q", s.Name)
	switch {
	case at.failed("name"):
	case s.Name == "":
		errs.Add(at.self(), "service: missing required key \"name\"")
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
				errs.Add(at.of("upstream"), "%s: upstream %q %s", label, redactURL(s.Upstream), msg)
			}
		} else if realityOK && needsUpstream(s.Reality, s.Chaos) {
			errs.Add(at.of("reality"), "%s: reality %s needs an upstream (upstream: or config.upstream_url:)", label, describeNeed(s.Reality, s.Chaos))
		}
	}
	if s.Timeout < 0 {
		errs.Add(at.of("timeout"), "%s: timeout must be positive, got %s", label, s.Timeout)
	}
	validateBlend(s.Blend, at.path, label, errs)
	validateChaos(s.Chaos, at.path, label, errs)
	validateProtocol(s, at, label, errs, realityOK)
}

// checkReality reports an unknown level; required says whether empty is an error.
func checkReality(r RealityLevel, at located, key, label string, errs *report, required bool) bool {
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

// redactURL hides the password of a URL quoted in a diagnostic: the
// diagnostic travels to logs and API answers, the password must not.
//
// A URL net/url does not parse (a bad port or escape), or parses as
// something else (a scheme-less "user:pw@host"), cannot be redacted by
// it: there the password of what would be the authority is hidden by
// hand, as URL.Redacted would.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	prefix, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 {
		prefix, rest = raw[:i+3], raw[i+3:]
	}
	authority := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority = rest[:j]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return raw
	}
	return prefix + user + ":xxxxx" + rest[at:]
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

func validateDependencies(svcs []Service, paths []string, names map[string]int, errs *report) {
	for i := range svcs {
		s := &svcs[i]
		at := s.at.in(paths[i])
		for k, dep := range s.DependsOn {
			pos := at.of(indexKey("depends_on", k))
			switch _, ok := names[dep]; {
			case dep == s.Name: // by name: with a duplicated name, index i may not be the one in names
				errs.Add(pos, "service %q depends on itself", s.Name)
			case !ok:
				errs.Add(pos, "service %q depends on unknown service %q%s", s.Name, dep, yamlpos.DidYouMean(dep, serviceNames(svcs)))
			}
		}
	}
	for _, c := range dependencyCycles(svcs) {
		s := &svcs[c.from]
		errs.Add(s.at.in(paths[c.from]).of(indexKey("depends_on", c.edge)), "%s", c.describe(svcs))
	}
}

func serviceNames(svcs []Service) []string {
	out := make([]string, len(svcs))
	for i := range svcs {
		out[i] = svcs[i].Name
	}
	return out
}

// maxCycleNames bounds the service names one cycle diagnostic lists.
const maxCycleNames = 8

// cycle is one group of services that depend on each other (a strongly
// connected component of the dependency graph), reported once: path is
// one shortest cycle through its first-declared member, closed by the
// edge (from, DependsOn[edge]); members is the whole group's size.
type cycle struct {
	from, edge int
	path       []int // starts and ends at the same service
	members    []int // every service of the group, in declaration order
}

// describe renders the cycle in bounded space: at most maxCycleNames
// names of the path, and of the group when it is larger than the path.
func (c cycle) describe(svcs []Service) string {
	var b strings.Builder
	b.WriteString("dependency cycle: ")
	names := func(idx []int, sep string) {
		for i, j := range idx {
			if i > 0 {
				b.WriteString(sep)
			}
			if i == maxCycleNames-1 && len(idx) > maxCycleNames {
				fmt.Fprintf(&b, "... (%d more)%s%s", len(idx)-maxCycleNames, sep, svcs[idx[len(idx)-1]].Name)
				return
			}
			b.WriteString(svcs[j].Name)
		}
	}
	names(c.path, " -> ")
	if len(c.members) > len(c.path)-1 {
		fmt.Fprintf(&b, " (%d services depend on each other: ", len(c.members))
		names(c.members, ", ")
		b.WriteByte(')')
	}
	return b.String()
}

// dependencyIndex maps names to indexes; the first declaration wins on
// duplicates.
func dependencyIndex(svcs []Service) map[string]int {
	index := make(map[string]int, len(svcs))
	for i := len(svcs) - 1; i >= 0; i-- {
		index[svcs[i].Name] = i
	}
	return index
}

// edges returns the dependencies of service i as indexes, with the
// position k of each in DependsOn; unknown and self dependencies are left
// out.
func edges(svcs []Service, index map[string]int, i int, yield func(j, k int)) {
	for k, dep := range svcs[i].DependsOn {
		if j, ok := index[dep]; ok && j != i && dep != svcs[i].Name {
			yield(j, k)
		}
	}
}

// dependencyOrder orders services so that each follows its dependencies,
// otherwise keeping declaration order (a depth-first post-order from each
// service in turn). Unknown and self dependencies are ignored, and so are
// the edges that close cycles (validation reports those).
func dependencyOrder(svcs []Service) []int {
	index := dependencyIndex(svcs)
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(svcs))
	order := make([]int, 0, len(svcs))
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		edges(svcs, index, i, func(j, _ int) {
			if color[j] == white {
				visit(j)
			}
		})
		color[i] = black
		order = append(order, i)
	}
	for i := range svcs {
		if color[i] == white {
			visit(i)
		}
	}
	return order
}

// dependencyCycles finds every group of services that depend on each
// other (Tarjan's strongly connected components) and, for each, one
// shortest cycle through its first-declared member (a breadth-first
// search inside the group). Each group is reported once, so the
// diagnostics grow linearly with the definition, however many edges
// close a cycle.
func dependencyCycles(svcs []Service) []cycle {
	index := dependencyIndex(svcs)
	n := len(svcs)
	order := make([]int, n) // discovery order, 0 = unvisited
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n) // component id, -1 until assigned
	for i := range comp {
		comp[i] = -1
	}
	var stack []int
	var groups [][]int
	counter := 0
	var strong func(i int)
	strong = func(i int) {
		counter++
		order[i], low[i] = counter, counter
		stack = append(stack, i)
		onStack[i] = true
		edges(svcs, index, i, func(j, _ int) {
			switch {
			case order[j] == 0:
				strong(j)
				low[i] = min(low[i], low[j])
			case onStack[j]:
				low[i] = min(low[i], order[j])
			}
		})
		if low[i] != order[i] {
			return
		}
		var g []int
		for {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[j] = false
			comp[j] = len(groups)
			g = append(g, j)
			if j == i {
				break
			}
		}
		groups = append(groups, g)
	}
	for i := range svcs {
		if order[i] == 0 {
			strong(i)
		}
	}
	var cycles []cycle
	prev := make([]int, n)
	for id, g := range groups {
		if len(g) < 2 {
			continue // self dependencies are reported on their own
		}
		slices.Sort(g)
		start := g[0]
		// Breadth-first from start inside the group, until an edge leads
		// back to start.
		for _, j := range g {
			prev[j] = -2
		}
		prev[start] = -1
		queue := []int{start}
		var c *cycle
		for len(queue) > 0 && c == nil {
			i := queue[0]
			queue = queue[1:]
			edges(svcs, index, i, func(j, k int) {
				if c != nil || comp[j] != id {
					return
				}
				if j == start {
					path := []int{start}
					for v := i; v != start; v = prev[v] {
						path = append(path, v)
					}
					slices.Reverse(path[1:])
					c = &cycle{from: i, edge: k, path: append(path, start), members: g}
					return
				}
				if prev[j] == -2 {
					prev[j] = i
					queue = append(queue, j)
				}
			})
		}
		if c != nil {
			cycles = append(cycles, *c)
		}
	}
	slices.SortFunc(cycles, func(a, b cycle) int { return a.path[0] - b.path[0] })
	return cycles
}

func validateOverride(f *Federation, sc *Scenario, o *Override, at located, names map[string]int, errs *report) {
	label := fmt.Sprintf("scenario %q service %q", sc.Name, o.Service)
	i, ok := names[o.Service]
	if !ok {
		errs.Add(at.self(), "scenario %q overrides unknown service %q%s", sc.Name, o.Service, yamlpos.DidYouMean(o.Service, serviceNames(f.Services)))
		return
	}
	s := &f.Services[i]
	if !checkReality(o.Reality, at, "reality", label, errs, false) {
		validateBlend(o.Blend, at.path, label, errs)
		validateChaos(o.Chaos, at.path, label, errs)
		if o.Reality == "" && !at.failed("reality") { // the service's level, with the override's blend or chaos
			checkStream(s.Protocol, s.Reality, o.Blend, o.Chaos, at, at.path, "reality", label, errs)
		}
		return
	}
	chaos := o.Chaos
	if chaos == nil {
		chaos = s.Chaos
	}
	if s.Upstream == "" && needsUpstream(o.Reality, chaos) {
		errs.Add(at.of("reality"), "%s: reality %s needs an upstream, and service %q has none", label, describeNeed(o.Reality, chaos), s.Name)
	}
	validateBlend(o.Blend, at.path, label, errs)
	validateChaos(o.Chaos, at.path, label, errs)
	blend := o.Blend
	if blend == nil {
		blend = s.Blend
	}
	checkStream(s.Protocol, o.Reality, blend, chaos, at, at.path, "reality", label, errs)
}
