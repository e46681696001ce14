package federation

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/yamlpos"
)

var (
	topKeys     = []string{"name", "description", "services", "scenarios", "federation"}
	wrappedKeys = []string{"name", "description", "services", "scenarios"}
	serviceKeys = []string{
		"name", "description", "base_path", "host", "workspace", "workspace_id",
		"reality", "reality_level", "upstream", "config", "timeout",
		"strip_prefix", "preserve_host", "depends_on", "dependencies", "blend", "chaos",
		"protocol",
	}
	scenarioKeys = []string{"name", "description", "services"}
	overrideKeys = []string{"reality", "blend", "chaos"}
	// aliases pairs each MockForge spelling with the native key it stands for.
	aliases = map[string]string{
		"workspace_id":  "workspace",
		"reality_level": "reality",
		"dependencies":  "depends_on",
	}
)

// Parse decodes and validates a federation definition. name is the source
// name used in positions (usually the file name). Both the native format
// (see the package documentation) and MockForge's are accepted: its
// optional top-level `federation:` wrapper, `workspace_id`,
// `reality_level` (case-insensitive, with the aliases mockv3 and
// chaosdriven), `dependencies` and `config.upstream_url`.
//
// Every problem is reported at once: the error is an ErrorList sorted by
// position.
//
// A source larger than MaxSourceSize is rejected before it is read.
func Parse(name string, src []byte) (*Federation, error) {
	d := &decoder{file: name}
	if len(src) > MaxSourceSize {
		d.errs.list.Add(yamlpos.Pos{File: name, Line: 1, Col: 1}, "definition is %d bytes; the limit is %d", len(src), MaxSourceSize)
		return nil, d.errs.err()
	}
	root, err := yamlpos.Parse(name, src)
	if err != nil {
		return nil, publicErrors(err, nil)
	}
	if root == nil {
		d.errs.list.Add(yamlpos.Pos{File: name, Line: 1, Col: 1}, "empty document: a federation needs a name and services")
		return nil, d.errs.err()
	}
	f := d.federation(root)
	validate(f, &d.errs)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	f.order = dependencyOrder(f.Services)
	return f, nil
}

// MaxSourceSize bounds a definition's size: definitions come from API
// requests and files alike, and every diagnostic and node costs memory.
// It is the same bound as pipeline.MaxSourceSize.
const MaxSourceSize = 1 << 20

type decoder struct {
	file string
	errs report
	// label names the service (or scenario override) being decoded, for
	// messages about its values: `service "orders"`.
	label string
}

func (d *decoder) at(n *yaml.Node) yamlpos.Pos { return yamlpos.At(d.file, n) }

func (d *decoder) federation(root *yaml.Node) *Federation {
	f := &Federation{}
	fields := yamlpos.Fields(d.file, root, topKeys, &d.errs.list)
	for _, fd := range fields {
		if fd.Key != "federation" {
			continue
		}
		// MockForge nests everything under `federation:`; mixing both
		// shapes would leave it unclear which name or services win.
		for _, other := range fields {
			if other.Key != "federation" {
				d.errs.list.Add(d.at(other.KeyNd), "%q cannot be combined with the federation: wrapper; move it inside", other.Key)
			}
		}
		fields = yamlpos.Fields(d.file, fd.Value, wrappedKeys, &d.errs.list)
		root = fd.Value
		break
	}
	f.at.self = d.at(root)
	for _, fd := range fields {
		f.at.set(fd.Key, d.at(fd.Value))
		switch fd.Key {
		case "name":
			var ok bool
			if f.Name, ok = d.str(fd.Value); !ok {
				f.at.fail("name")
			}
		case "description":
			f.Description, _ = d.str(fd.Value)
		case "services":
			items := d.list(fd.Value)
			if items == nil && yamlpos.Resolve(fd.Value).Kind != yaml.SequenceNode {
				f.at.fail("services")
			}
			for _, item := range items {
				f.Services = append(f.Services, d.service(item))
			}
		case "scenarios":
			for _, item := range d.list(fd.Value) {
				f.Scenarios = append(f.Scenarios, d.scenario(item))
			}
		}
	}
	return f
}

func (d *decoder) service(n *yaml.Node) Service {
	s := Service{}
	s.at.self = d.at(n)
	if yamlpos.Resolve(n).Kind != yaml.MappingNode {
		s.at.fail("*") // Fields reports it; nothing else to say about this item
	}
	fields := yamlpos.Fields(d.file, n, serviceKeys, &d.errs.list)
	d.label = "service"
	for _, fd := range fields { // messages about any value name the service
		if v := yamlpos.Resolve(fd.Value); fd.Key == "name" && v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			d.label = fmt.Sprintf("service %q", clip(v.Value))
		}
	}
	defer func() { d.label = "" }()
	seen := map[string]yamlpos.Field{}
	for _, fd := range fields {
		key := fd.Key
		if native, ok := aliases[key]; ok {
			key = native
		}
		if prev, dup := seen[key]; dup {
			d.errs.list.Add(d.at(fd.KeyNd), "%q and %q both set; keep one", prev.Key, fd.Key)
			continue
		}
		seen[key] = fd
		s.at.set(key, d.at(fd.Value))
		ok := true
		switch key {
		case "name":
			s.Name, ok = d.str(fd.Value)
		case "description":
			s.Description, ok = d.str(fd.Value)
		case "base_path":
			s.BasePath, ok = d.str(fd.Value)
		case "host":
			s.Host, ok = d.str(fd.Value)
		case "workspace":
			s.Workspace, ok = d.str(fd.Value)
		case "reality":
			var v string
			v, ok = d.str(fd.Value)
			if fd.Key == "reality_level" {
				v = mockForgeReality(v)
			}
			s.Reality = RealityLevel(v)
		case "upstream":
			s.Upstream, ok = d.str(fd.Value)
		case "timeout":
			s.Timeout, ok = d.duration(fd.Value, "timeout")
		case "strip_prefix":
			s.StripPrefix, ok = d.boolean(fd.Value)
		case "preserve_host":
			s.PreserveHost, ok = d.boolean(fd.Value)
		case "protocol":
			var v string
			v, ok = d.str(fd.Value)
			s.Protocol = Protocol(v)
		case "depends_on":
			var pos []yamlpos.Pos
			s.DependsOn, pos, ok = d.strs(fd.Value)
			for i, p := range pos {
				s.at.set(indexKey("depends_on", i), p)
			}
		case "blend":
			s.Blend = d.blend(fd.Value)
		case "chaos":
			s.Chaos = d.chaos(fd.Value)
		case "config":
			d.mockForgeConfig(&s, fd.Value, seen)
		}
		if !ok {
			s.at.fail(key)
		}
	}
	return s
}

// mockForgeConfig reads MockForge's free-form `config` map: upstream_url
// and blend_ratio mean something here; other keys are kept untouched in
// Service.Config, because MockForge accepts any key there and rejecting
// them would break definitions that work today.
func (d *decoder) mockForgeConfig(s *Service, n *yaml.Node, seen map[string]yamlpos.Field) {
	for _, fd := range yamlpos.Fields(d.file, n, nil, &d.errs.list) {
		switch fd.Key {
		case "upstream_url":
			if prev, dup := seen["upstream"]; dup {
				d.errs.list.Add(d.at(fd.KeyNd), "%q and config.upstream_url both set; keep one", prev.Key)
				continue
			}
			seen["upstream"] = fd
			s.at.set("upstream", d.at(fd.Value))
			var ok bool
			if s.Upstream, ok = d.str(fd.Value); !ok {
				s.at.fail("upstream")
			}
		case "blend_ratio":
			if s.Blend == nil {
				s.Blend = &Blend{}
			}
			if v, ok := d.number(fd.Value); ok {
				s.Blend.Ratio = &v
				s.Blend.at.set("ratio", d.at(fd.Value))
			}
		default:
			var v any
			if err := fd.Value.Decode(&v); err != nil {
				d.errs.list.Add(d.at(fd.Value), "config.%s: %v", fd.Key, err)
				continue
			}
			if s.Config == nil {
				s.Config = make(map[string]any)
			}
			s.Config[fd.Key] = v
		}
	}
}

// mockForgeReality maps MockForge's spellings (any case, mockv3,
// chaosdriven) to a RealityLevel; anything else is returned as written so
// that validation reports it.
func mockForgeReality(v string) string {
	switch l := strings.ToLower(v); l {
	case "mockv3":
		return string(MockV3)
	case "chaosdriven":
		return string(ChaosDriven)
	case string(Real), string(MockV3), string(Blended), string(ChaosDriven):
		return l
	}
	return v
}

func (d *decoder) scenario(n *yaml.Node) Scenario {
	sc := Scenario{}
	sc.at.self = d.at(n)
	for _, fd := range yamlpos.Fields(d.file, n, scenarioKeys, &d.errs.list) {
		sc.at.set(fd.Key, d.at(fd.Value))
		switch fd.Key {
		case "name":
			var ok bool
			if sc.Name, ok = d.str(fd.Value); !ok {
				sc.at.fail("name")
			}
		case "description":
			sc.Description, _ = d.str(fd.Value)
		case "services":
			for _, svc := range yamlpos.Fields(d.file, fd.Value, nil, &d.errs.list) {
				o := Override{Service: svc.Key}
				o.at.self = d.at(svc.KeyNd)
				d.label = fmt.Sprintf("scenario %q service %q", clip(sc.Name), clip(svc.Key))
				for _, of := range yamlpos.Fields(d.file, svc.Value, overrideKeys, &d.errs.list) {
					o.at.set(of.Key, d.at(of.Value))
					switch of.Key {
					case "reality":
						v, ok := d.str(of.Value)
						if !ok {
							o.at.fail("reality")
						}
						o.Reality = RealityLevel(v)
					case "blend":
						o.Blend = d.blend(of.Value)
					case "chaos":
						o.Chaos = d.chaos(of.Value)
					}
				}
				sc.Services = append(sc.Services, o)
				d.label = ""
			}
		}
	}
	return sc
}

// list returns the items of a sequence, reporting any other node.
func (d *decoder) list(n *yaml.Node) []*yaml.Node {
	n = yamlpos.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errs.list.Add(d.at(n), "expected a list, got %s", yamlpos.KindName(n))
		return nil
	}
	return n.Content
}

func (d *decoder) scalar(n *yaml.Node, tags ...string) bool {
	n = yamlpos.Resolve(n)
	if n.Kind == yaml.ScalarNode {
		for _, t := range tags {
			if n.Tag == t {
				return true
			}
		}
	}
	return false
}

func (d *decoder) str(n *yaml.Node) (string, bool) {
	if !d.scalar(n, "!!str") {
		d.errs.list.Add(d.at(n), "expected a string, got %s", yamlpos.KindName(n))
		return "", false
	}
	return yamlpos.Resolve(n).Value, true
}

func (d *decoder) boolean(n *yaml.Node) (bool, bool) {
	var v bool
	if !d.scalar(n, "!!bool") || yamlpos.Resolve(n).Decode(&v) != nil {
		d.errs.list.Add(d.at(n), "expected true or false, got %s", yamlpos.KindName(n))
		return false, false
	}
	return v, true
}

func (d *decoder) integer(n *yaml.Node) (int64, bool) {
	var v int64
	if !d.scalar(n, "!!int") || yamlpos.Resolve(n).Decode(&v) != nil {
		d.errs.list.Add(d.at(n), "expected an integer, got %s", yamlpos.KindName(n))
		return 0, false
	}
	return v, true
}

func (d *decoder) number(n *yaml.Node) (float64, bool) {
	var v float64
	if !d.scalar(n, "!!int", "!!float") || yamlpos.Resolve(n).Decode(&v) != nil {
		d.errs.list.Add(d.at(n), "expected a number, got %s", yamlpos.KindName(n))
		return 0, false
	}
	return v, true
}

// duration reads a Go duration string ("250ms", "2s", "1m30s"); key
// names the value in messages, after the service being decoded.
func (d *decoder) duration(n *yaml.Node, key string) (time.Duration, bool) {
	what := key
	if d.label != "" {
		what = d.label + ": " + key
	}
	if !d.scalar(n, "!!str") {
		hint := ""
		if r := yamlpos.Resolve(n); r != nil && r.Kind == yaml.ScalarNode && (r.Tag == "!!int" || r.Tag == "!!float") {
			// A bare number has no unit: say which one to add.
			hint = fmt.Sprintf(" (a number needs a unit: write %q for seconds)", clip(r.Value)+"s")
		}
		d.errs.list.Add(d.at(n), "%s: expected a duration such as \"2s\", got %s%s", what, yamlpos.KindName(n), hint)
		return 0, false
	}
	v, err := time.ParseDuration(yamlpos.Resolve(n).Value)
	if err != nil {
		d.errs.list.Add(d.at(n), "%s: bad duration %q: use a number with a unit, such as \"250ms\" or \"2s\"", what, clip(yamlpos.Resolve(n).Value))
		return 0, false
	}
	return v, true
}

// strs reads a list of strings and where each one was written.
func (d *decoder) strs(n *yaml.Node) ([]string, []yamlpos.Pos, bool) {
	n = yamlpos.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errs.list.Add(d.at(n), "expected a list of strings, got %s", yamlpos.KindName(n))
		return nil, nil, false
	}
	out := make([]string, 0, len(n.Content))
	pos := make([]yamlpos.Pos, 0, len(n.Content))
	ok := true
	for _, item := range n.Content {
		v, good := d.str(item)
		if !good {
			ok = false
			continue
		}
		out = append(out, v)
		pos = append(pos, d.at(item))
	}
	return out, pos, ok
}
