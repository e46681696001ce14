package pipeline

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/yamlpos"
)

// MockForge's pipeline format, translated into the same Plan:
//
//   - triggers[].filters: an AND of equalities. workspace_id compares with
//     the event's workspace; every other key with the payload key of the
//     same name. A list value means any of its items (MockForge itself
//     never matches a list against a string; accepting it as any-of is a
//     MockOps extension, since no MockForge definition relies on a list
//     filter never matching).
//   - steps run in order; a step's name becomes its id, with characters
//     that cannot appear in steps.<id> replaced by '_' ("open-pr" ->
//     "open_pr").
//   - step_type (the code's spelling) or type (the docs'); config; timeout
//     in integer seconds; continue_on_error.
//   - step_defaults: per step type, merged under each step's config.
//   - handlebars {{name}} over MockForge's flat context become ${{ }}
//     expressions: workspace_id -> event.workspace, org_id -> event.org,
//     event_type -> event.type, event.name and name -> event.data.name.
//     A template that is only {{name}} renders a string, as handlebars
//     does. Unlike handlebars, a missing key is an error, not an empty
//     string: an empty token or branch name would fail later and further
//     from its cause.

var (
	mfTopKeys     = []string{"name", "description", "enabled", "triggers", "steps", "step_defaults"}
	mfTriggerKeys = []string{"event", "filters"}
	mfStepKeys    = []string{"name", "step_type", "type", "config", "continue_on_error", "timeout"}
)

// isMockForge detects MockForge's format: its own top-level keys, or
// steps written with step_type/type/config.
func isMockForge(root *yaml.Node) bool {
	if root.Kind != yaml.MappingNode {
		return false
	}
	hasOn := false
	var stepsNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "triggers", "step_defaults":
			return true
		case "on":
			hasOn = true
		case "steps":
			stepsNode = yamlpos.Resolve(root.Content[i+1])
		}
	}
	if hasOn || stepsNode == nil || stepsNode.Kind != yaml.SequenceNode {
		return false
	}
	for _, s := range stepsNode.Content {
		s = yamlpos.Resolve(s)
		if s.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i < len(s.Content); i += 2 {
			switch s.Content[i].Value {
			case "step_type", "type", "config":
				return true
			}
		}
	}
	return false
}

func (p *parser) parseMockForge(root *yaml.Node) *Definition {
	d := &Definition{Enabled: true, Format: FormatMockForge}
	pl := &Plan{enabled: true, mode: ModeQueue}
	defaults := defaultsDraft{with: map[string]*yaml.Node{}}
	var triggersNode, stepsNode *yaml.Node
	for _, f := range yamlpos.Fields(p.file, root, mfTopKeys, &p.errs) {
		switch f.Key {
		case "name":
			d.namePos = p.pos(f.Value)
			if s, ok := p.str(f.Value, "name"); ok {
				if !validName(s) {
					p.errorf(f.Value, "invalid name %q: use lower-case letters, digits, '-', '_' and '.'", s)
				}
				d.Name = s
			}
		case "description":
			if s, ok := p.str(f.Value, "description"); ok {
				d.Description = s
			}
		case "enabled":
			if b, ok := p.boolean(f.Value, "enabled"); ok {
				d.Enabled = b
			}
		case "triggers":
			triggersNode = f.Value
		case "steps":
			stepsNode = f.Value
		case "step_defaults":
			for _, tf := range yamlpos.Fields(p.file, f.Value, nil, &p.errs) {
				v := yamlpos.Resolve(tf.Value)
				if v.Kind != yaml.MappingNode {
					p.errorf(v, "step_defaults.%s must be a mapping, got %s", tf.Key, yamlpos.KindName(v))
					continue
				}
				p.checkTypeName(tf.KeyNd, tf.Key)
				defaults.with[tf.Key] = p.handlebarsTree(v)
			}
		}
	}
	if d.namePos.Line == 0 {
		p.errorf(root, "missing required key \"name\"")
	}
	if triggersNode == nil {
		p.errorf(root, "missing required key \"triggers\"")
	} else {
		pl.triggers = p.parseMFTriggers(triggersNode)
	}
	var drafts []*stepDraft
	if stepsNode == nil {
		p.errorf(root, "missing required key \"steps\"")
	} else {
		drafts = p.parseMFSteps(stepsNode)
	}
	pl.name, pl.enabled = d.Name, d.Enabled
	p.finishSteps(pl, drafts, defaults)
	pl.seal()
	d.plan = pl
	return d
}

func (p *parser) parseMFTriggers(n *yaml.Node) []*trigger {
	items, ok := p.list(n, "triggers")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(n, "triggers: at least one trigger is required")
	}
	var out []*trigger
	for _, item := range items {
		t := &trigger{}
		hasEvent := false
		for _, f := range yamlpos.Fields(p.file, item, mfTriggerKeys, &p.errs) {
			switch f.Key {
			case "event":
				hasEvent = true
				if s, ok := p.str(f.Value, "event"); ok {
					if !validEventType(s) {
						p.errorf(f.Value, "invalid event type %q: use a dotted lower-case name such as %q", s, events.TypeSchemaChanged)
					}
					t.event = events.Type(s)
				}
			case "filters":
				t.match = p.parseMFFilters(f.Value)
			}
		}
		if yamlpos.Resolve(item).Kind == yaml.MappingNode && !hasEvent {
			p.errorf(item, "trigger: missing required key \"event\"")
		}
		out = append(out, t)
	}
	return out
}

// parseMFFilters turns filters into match keys: workspace_id is the
// event's workspace, other keys are top-level payload keys.
func (p *parser) parseMFFilters(n *yaml.Node) []matchKey {
	var keys []matchKey
	for _, f := range yamlpos.Fields(p.file, n, nil, &p.errs) {
		path := "data." + f.Key
		if f.Key == "workspace_id" {
			path = "workspace"
		}
		attr, sub, err := parseMatchPath(path)
		if err != nil || strings.Contains(f.Key, ".") {
			p.errorf(f.KeyNd, "filters: invalid key %q: a payload key is letters, digits, '_' and '-'", f.Key)
			continue
		}
		key := matchKey{path: path, attr: attr, sub: sub, values: map[string]bool{}}
		v := yamlpos.Resolve(f.Value)
		vals := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			vals = v.Content
		}
		for _, vn := range vals {
			if c, ok := p.canonYAML(vn, attr != "data"); ok {
				key.values[c] = true
				key.shown = append(key.shown, showCanon(c))
			}
		}
		keys = append(keys, key)
	}
	return keys
}

func (p *parser) parseMFSteps(n *yaml.Node) []*stepDraft {
	items, ok := p.list(n, "steps")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(n, "steps: at least one step is required")
	}
	var out []*stepDraft
	for _, item := range items {
		s := &stepDraft{node: yamlpos.Resolve(item)}
		var typeKey *yaml.Node
		for _, f := range yamlpos.Fields(p.file, item, mfStepKeys, &p.errs) {
			switch f.Key {
			case "name":
				s.idNode = f.Value
				if v, ok := p.str(f.Value, "name"); ok {
					s.id = mfStepID(v)
				}
			case "step_type", "type":
				if typeKey != nil {
					p.errorf(f.KeyNd, "%s: the step type is already given by %s", f.Key, typeKey.Value)
					continue
				}
				typeKey, s.usesNode = f.KeyNd, f.Value
				if v, ok := p.str(f.Value, f.Key); ok {
					s.uses = v
					p.checkTypeName(f.Value, v)
				}
			case "config":
				if w := p.withNode(f.Value); w != nil {
					s.with = p.handlebarsTree(w)
				}
			case "continue_on_error":
				s.continueOnError, _ = p.boolean(f.Value, "continue_on_error")
			case "timeout":
				if secs, ok := p.integer(f.Value, "timeout (seconds)", 1, int(maxDuration/time.Second)); ok {
					s.timeout = time.Duration(secs) * time.Second
				}
			}
		}
		if s.node.Kind != yaml.MappingNode {
			continue
		}
		if s.idNode == nil {
			p.errorf(item, "step: missing required key \"name\"")
		} else if s.id != "" && !validStepID(s.id) {
			p.errorf(s.idNode, "invalid step name %q: it must start with a letter", s.id)
		}
		if typeKey == nil {
			p.errorf(item, "step: missing required key \"step_type\" (or \"type\")")
		}
		out = append(out, s)
	}
	return out
}

// mfStepID turns a MockForge step name into a step id.
func mfStepID(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// handlebarsTree copies a config tree, translating handlebars in every
// string. Copies keep their positions.
func (p *parser) handlebarsTree(n *yaml.Node) *yaml.Node {
	n = yamlpos.Resolve(n)
	if n == nil {
		return nil
	}
	c := *n
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, x := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				c.Content[i] = x
				continue
			}
			c.Content[i] = p.handlebarsTree(x)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" && strings.Contains(n.Value, "{{") {
			v, err := translateHandlebars(n.Value)
			if err != nil {
				p.errorf(n, "template: %v", err)
				return &c
			}
			c.Value = v
		}
	}
	return &c
}

// translateHandlebars rewrites "{{a}} and {{event.b}}" into
// "${{ string(event.data.a) }}"-style CEL templates.
func translateHandlebars(s string) (string, error) {
	var b strings.Builder
	rest := s
	lone := strings.HasPrefix(strings.TrimSpace(s), "{{") && strings.HasSuffix(strings.TrimSpace(s), "}}") &&
		strings.Count(s, "{{") == 1
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unterminated {{ in %q", s)
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		cel, err := handlebarsVar(name)
		if err != nil {
			return "", err
		}
		if lone {
			cel = "string(" + cel + ")" // handlebars always renders text
		}
		b.WriteString("${{ " + cel + " }}")
		rest = rest[i+j+2:]
	}
}

// handlebarsVar maps a name of MockForge's flat context to CEL.
func handlebarsVar(name string) (string, error) {
	switch name {
	case "workspace_id":
		return "event.workspace", nil
	case "org_id":
		return "event.org", nil
	case "event_type":
		return "event.type", nil
	}
	name = strings.TrimPrefix(name, "event.")
	if name == "" {
		return "", fmt.Errorf("empty handlebars variable")
	}
	out := "event.data"
	for _, seg := range strings.Split(name, ".") {
		if seg == "" {
			return "", fmt.Errorf("invalid handlebars variable %q", name)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if c != '_' && c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
				return "", fmt.Errorf("unsupported handlebars expression {{%s}} (only variables are translated)", name)
			}
		}
		if validStepID(seg) {
			out += "." + seg
		} else {
			out += `["` + seg + `"]`
		}
	}
	return out, nil
}
