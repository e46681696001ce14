package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/expr"
	"github.com/mockops/mockops/internal/yamlpos"
)

var (
	topKeys         = []string{"name", "description", "workspace", "enabled", "on", "concurrency", "timeout", "defaults", "steps"}
	triggerKeys     = []string{"event", "if", "match"}
	concurrencyKeys = []string{"group", "mode"}
	defaultsKeys    = []string{"timeout", "retry", "with"}
	retryKeys       = []string{"attempts", "backoff", "max_backoff"}
	modes           = []string{string(ModeQueue), string(ModeCancelInProgress), string(ModeSkip)}
)

// defaultsDraft is a parsed `defaults:` block.
type defaultsDraft struct {
	timeout time.Duration
	retry   Retry // zero fields: not set
	with    map[string]*yaml.Node
}

func (p *parser) parseNative(root *yaml.Node) *Definition {
	d := &Definition{Enabled: true, Format: FormatMockOps}
	pl := &Plan{enabled: true, mode: ModeQueue}
	var onNode, stepsNode *yaml.Node
	defaults := defaultsDraft{}
	for _, f := range yamlpos.Fields(p.file, root, topKeys, &p.errs) {
		switch f.Key {
		case "name", "description", "enabled":
			p.parseHeader(f, d)
		case "workspace":
			if s, ok := p.str(f.Value, "workspace"); ok {
				d.Workspace = s
			}
		case "on":
			onNode = f.Value
		case "concurrency":
			p.parseConcurrency(f.Value, pl)
		case "timeout":
			pl.timeout, _ = p.duration(f.Value, "timeout")
		case "defaults":
			defaults = p.parseDefaults(f.Value)
		case "steps":
			stepsNode = f.Value
		}
	}
	if root.Kind != yaml.MappingNode {
		return d
	}
	if d.namePos.Line == 0 {
		p.errorf(root, "missing required key \"name\"")
	}
	if onNode == nil {
		p.errorf(root, "missing required key \"on\" (the events that trigger the pipeline)")
	} else {
		pl.triggers = p.parseOn(onNode)
	}
	var drafts []*stepDraft
	if stepsNode == nil {
		p.errorf(root, "missing required key \"steps\"")
	} else {
		drafts = p.parseStepList(stepsNode)
	}
	pl.name, pl.workspace, pl.enabled = d.Name, d.Workspace, d.Enabled
	p.finishSteps(pl, drafts, defaults)
	pl.seal()
	d.plan = pl
	return d
}

func (p *parser) parseOn(n *yaml.Node) []*trigger {
	items, ok := p.list(n, "on")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(n, "on: at least one trigger is required")
	}
	var out []*trigger
	for _, item := range items {
		t := &trigger{}
		hasEvent := false
		for _, f := range yamlpos.Fields(p.file, item, triggerKeys, &p.errs) {
			switch f.Key {
			case "event":
				hasEvent = true
				t.event = p.eventType(f.Value)
			case "if":
				t.filter = p.compileCondition(f.Value, expr.ScopeTrigger)
			case "match":
				t.match = p.parseMatch(f.Value)
			}
		}
		if yamlpos.Resolve(item).Kind == yaml.MappingNode && !hasEvent {
			p.errorf(item, "trigger: missing required key \"event\"")
		}
		out = append(out, t)
	}
	return out
}

// parseMatch reads `match:`: each key a path, each value a scalar (equality)
// or a list of scalars (any of them).
func (p *parser) parseMatch(n *yaml.Node) []matchKey {
	var keys []matchKey
	fields := yamlpos.Fields(p.file, n, nil, &p.errs)
	if len(fields) == 0 && yamlpos.Resolve(n).Kind == yaml.MappingNode {
		p.errorf(n, "match: empty mapping (leave match out to accept every event)")
	}
	for _, f := range fields {
		attr, sub, err := parseMatchPath(f.Key)
		if err != nil {
			p.errorf(f.KeyNd, "match: invalid path %q: %v", f.Key, err)
			continue
		}
		keys = append(keys, p.matchValues("match", matchKey{path: f.Key, attr: attr, sub: sub}, f.Value))
	}
	return keys
}

// matchValues fills key with the values of a `match:` entry or a MockForge
// filter: a scalar (equality) or a list of scalars (any of them). what
// names the block in messages.
func (p *parser) matchValues(what string, key matchKey, n *yaml.Node) matchKey {
	key.values = map[string]bool{}
	v := yamlpos.Resolve(n)
	vals := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		vals = v.Content
		if len(vals) == 0 {
			p.errorf(v, "%s %s: an empty list matches nothing", what, key.path)
		}
	}
	for _, vn := range vals {
		c, ok := p.canonYAML(vn, key.attr != "data", what)
		if !ok {
			continue
		}
		key.values[c] = true
		key.shown = append(key.shown, showCanon(c))
	}
	return key
}

// canonYAML gives a match value its canonical form (see canonJSON).
// Attributes other than data are strings, so only strings can match them.
func (p *parser) canonYAML(n *yaml.Node, stringOnly bool, what string) (string, bool) {
	n = yamlpos.Resolve(n)
	if !isScalar(n) {
		p.errorf(n, "%s: a value must be a scalar or a list of scalars, got %s", what, yamlpos.KindName(n))
		return "", false
	}
	if isText(n) {
		return "s:" + n.Value, true
	}
	if stringOnly {
		p.errorf(n, "%s: this field is a string, got %s", what, yamlpos.KindName(n))
		return "", false
	}
	switch n.Tag {
	case "!!int", "!!float":
		c, ok := canonYAMLNumber(n)
		if !ok {
			p.errorf(n, "%s: invalid number %q", what, n.Value)
		}
		return c, ok
	case "!!bool":
		var b bool
		_ = n.Decode(&b)
		return fmt.Sprintf("b:%t", b), true
	case "!!null":
		return "null", true
	}
	p.errorf(n, "%s: unsupported value of type %s", what, n.Tag)
	return "", false
}

func (p *parser) parseConcurrency(n *yaml.Node, pl *Plan) {
	pl.grouped = true
	for _, f := range yamlpos.Fields(p.file, n, concurrencyKeys, &p.errs) {
		switch f.Key {
		case "group":
			if s, ok := p.str(f.Value, "concurrency.group"); ok {
				if strings.TrimSpace(s) == "" {
					p.errorf(f.Value, "concurrency.group: empty group")
					continue
				}
				pl.group = p.compileTemplate(yamlpos.Resolve(f.Value), expr.ScopeTrigger, "concurrency.group")
			}
		case "mode":
			if s, ok := p.str(f.Value, "concurrency.mode"); ok {
				if !slices.Contains(modes, s) {
					p.errorf(f.Value, "concurrency.mode: unknown mode %q (one of %s)%s", s, strings.Join(modes, ", "), yamlpos.DidYouMean(s, modes))
					continue
				}
				pl.mode = ConcurrencyMode(s)
			}
		}
	}
}

func (p *parser) parseDefaults(n *yaml.Node) defaultsDraft {
	d := defaultsDraft{with: map[string]*yaml.Node{}}
	for _, f := range yamlpos.Fields(p.file, n, defaultsKeys, &p.errs) {
		switch f.Key {
		case "timeout":
			d.timeout, _ = p.duration(f.Value, "defaults.timeout")
		case "retry":
			d.retry = p.parseRetry(f.Value, "defaults.retry")
		case "with":
			p.typeDefaults(f.Value, "defaults.with", d.with, func(n *yaml.Node) *yaml.Node { return n })
		}
	}
	return d
}

func (p *parser) parseRetry(n *yaml.Node, what string) Retry {
	var r Retry
	for _, f := range yamlpos.Fields(p.file, n, retryKeys, &p.errs) {
		switch f.Key {
		case "attempts":
			r.Attempts, _ = p.integer(f.Value, what+".attempts", 1, 100)
		case "backoff":
			r.Backoff, _ = p.duration(f.Value, what+".backoff")
		case "max_backoff":
			r.MaxBackoff, _ = p.duration(f.Value, what+".max_backoff")
		}
	}
	if r.Backoff > 0 && r.MaxBackoff > 0 && r.MaxBackoff < r.Backoff {
		p.errorf(n, "%s: max_backoff %s is shorter than backoff %s", what, r.MaxBackoff, r.Backoff)
	}
	return r
}

func strconvFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
