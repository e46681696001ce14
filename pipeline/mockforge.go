package pipeline

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/yamlpos"
)

// MockForge's format is translated into the same Plan; the package
// documentation (doc.go) gives the mapping.

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
		case "name", "description", "enabled":
			p.parseHeader(f, d)
		case "triggers":
			triggersNode = f.Value
		case "steps":
			stepsNode = f.Value
		case "step_defaults":
			p.typeDefaults(f.Value, "step_defaults", defaults.with, p.handlebarsTree)
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
				t.event = p.eventType(f.Value)
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
		keys = append(keys, p.matchValues("filters", matchKey{path: path, attr: attr, sub: sub}, f.Value))
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
		} else if why := stepIDProblem(s.id); s.id != "" && why != "" {
			p.errorf(s.idNode, "invalid step name %q: %s", s.id, why)
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
