package pipeline

import (
	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/expr"
	"github.com/mockops/mockops/internal/stepconfig"
	"github.com/mockops/mockops/internal/yamlpos"
)

// mergeWith lays a step type's defaults under a step's own `with:` (a
// shallow merge: a key the step sets replaces the default's whole value).
// The result shares nodes with its inputs, so each value keeps the
// position where it was written.
func mergeWith(own, defaults *yaml.Node) *yaml.Node {
	if defaults == nil {
		return own
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	// Without its own `with:`, the merged mapping has no position, so a
	// missing required field points at the step's `uses:` rather than at
	// defaults shared by several steps.
	if own != nil {
		out.Line, out.Column = own.Line, own.Column
		out.Content = append(out.Content, own.Content...)
	}
	have := map[string]bool{}
	for i := 0; i+1 < len(out.Content); i += 2 {
		have[out.Content[i].Value] = true
	}
	for i := 0; i+1 < len(defaults.Content); i += 2 {
		if k := defaults.Content[i]; !have[k.Value] {
			have[k.Value] = true
			out.Content = append(out.Content, k, defaults.Content[i+1])
		}
	}
	return out
}

// checkConfig checks a step's merged `with:` against its type's config
// struct. Problems without a node (a required field missing from an
// absent `with:`) point at the step's `uses:`.
func (p *parser) checkConfig(d *stepDraft, with *yaml.Node) {
	if p.reg == nil || d.uses == "" {
		return
	}
	typ, ok := p.reg.Lookup(d.uses)
	if !ok {
		return
	}
	for _, e := range stepconfig.Check(typ.ConfigType(), with) {
		pos := yamlpos.Pos{File: p.file, Line: e.Line, Col: e.Column}
		if e.Line == 0 {
			pos = p.pos(d.usesNode)
		}
		p.errs.Add(pos, "%s: %s", e.Path, e.Msg)
	}
}

// compileValue compiles a `with:` tree: every string holding `${{ }}`,
// however deeply nested, becomes a compiled template; onTemplate lets the
// caller check what each template reads.
func (p *parser) compileValue(n *yaml.Node, onTemplate func(*yaml.Node, *expr.Template)) *expr.Value {
	n = yamlpos.Resolve(n)
	if n == nil {
		return expr.MapValue(nil, nil)
	}
	switch n.Kind {
	case yaml.MappingNode:
		var keys []string
		var vals []*expr.Value
		for _, f := range yamlpos.Fields(p.file, n, nil, &p.errs) {
			keys = append(keys, f.Key)
			vals = append(vals, p.compileValue(f.Value, onTemplate))
		}
		return expr.MapValue(keys, vals)
	case yaml.SequenceNode:
		items := make([]*expr.Value, len(n.Content))
		for i, c := range n.Content {
			items[i] = p.compileValue(c, onTemplate)
		}
		return expr.ListValue(items)
	case yaml.ScalarNode:
		if isText(n) {
			// Text stays as written: a plain 2024-01-01 is not a time.Time.
			if !expr.IsTemplate(n.Value) {
				return expr.Literal(n.Value)
			}
			t := p.compileTemplate(n, expr.ScopeWith, "template")
			if t == nil {
				return expr.Literal(n.Value)
			}
			if onTemplate != nil {
				onTemplate(n, t)
			}
			return expr.TemplateValue(t)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			p.errorf(n, "invalid value: %v", err)
			return expr.Literal(nil)
		}
		if i, ok := v.(int); ok {
			v = int64(i) // the integer type expressions produce
		}
		return expr.Literal(v)
	}
	p.errorf(n, "unsupported YAML node")
	return expr.Literal(nil)
}
