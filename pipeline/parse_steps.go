package pipeline

import (
	"cmp"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/expr"
	"github.com/mockops/mockops/internal/yamlpos"
	"github.com/mockops/mockops/steps"
)

var stepKeys = []string{"id", "uses", "with", "if", "needs", "timeout", "retry", "continue_on_error"}

// stepDraft is a step as written, in either format, before defaults are
// merged and the DAG is built.
type stepDraft struct {
	node            *yaml.Node
	id              string
	idNode          *yaml.Node
	uses            string
	usesNode        *yaml.Node
	with            *yaml.Node // the step's own mapping, nil when absent
	ifNode          *yaml.Node
	needs           []*yaml.Node
	needsNode       *yaml.Node // nil: implicit edge to the previous step
	timeout         time.Duration
	retry           Retry
	retryNode       *yaml.Node
	continueOnError bool
}

func (p *parser) parseStepList(n *yaml.Node) []*stepDraft {
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
		for _, f := range yamlpos.Fields(p.file, item, stepKeys, &p.errs) {
			switch f.Key {
			case "id":
				s.idNode = f.Value
				if v, ok := p.str(f.Value, "id"); ok {
					s.id = v
				}
			case "uses":
				s.usesNode = f.Value
				if v, ok := p.str(f.Value, "uses"); ok {
					s.uses = v
				}
			case "with":
				s.with = p.withNode(f.Value)
			case "if":
				s.ifNode = f.Value
			case "needs":
				s.needsNode = f.Value
				if v := yamlpos.Resolve(f.Value); isScalar(v) && v.Tag == "!!str" {
					s.needs = []*yaml.Node{v} // `needs: build` for a single dependency
				} else if list, ok := p.list(f.Value, "needs"); ok {
					s.needs = list
				}
			case "timeout":
				s.timeout, _ = p.duration(f.Value, "timeout")
			case "retry":
				s.retryNode = f.Value
				s.retry = p.parseRetry(f.Value, "retry")
			case "continue_on_error":
				s.continueOnError, _ = p.boolean(f.Value, "continue_on_error")
			}
		}
		if s.node.Kind != yaml.MappingNode {
			continue
		}
		if s.idNode == nil {
			p.errorf(item, "step: missing required key \"id\"")
		} else if why := stepIDProblem(s.id); s.id != "" && why != "" {
			p.errorf(s.idNode, "invalid step id %q: %s", s.id, why)
		}
		if s.usesNode == nil {
			p.errorf(item, "step: missing required key \"uses\"")
		} else if s.uses != "" {
			p.checkTypeName(s.usesNode, s.uses)
		}
		out = append(out, s)
	}
	return out
}

// withNode accepts a mapping or null for `with:`.
func (p *parser) withNode(n *yaml.Node) *yaml.Node {
	n = yamlpos.Resolve(n)
	if isNullNode(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "with must be a mapping, got %s", yamlpos.KindName(n))
		return nil
	}
	return n
}

// checkTypeName reports an unknown step type (with a registry) or a
// malformed one (without).
func (p *parser) checkTypeName(n *yaml.Node, name string) {
	if p.reg == nil {
		if !steps.ValidTypeName(name) {
			p.errorf(n, "invalid step type %q", name)
		}
		return
	}
	if _, ok := p.reg.Lookup(name); !ok {
		p.errorf(n, "unknown step type %q%s", name, yamlpos.DidYouMean(name, p.reg.Names()))
	}
}

// ancestry answers whether step id waits, directly or not, for step anc.
type ancestry interface {
	needsTransitively(id, anc string) bool
}

// finishSteps merges defaults, checks configs, compiles expressions and
// builds the DAG.
func (p *parser) finishSteps(pl *Plan, drafts []*stepDraft, defaults defaultsDraft) {
	pl.byID = map[string]*Step{}
	firstAt := map[string]*yaml.Node{}
	g := &dag{index: map[string]int{}}
	first := []*stepDraft{} // first[i] defines g.ids[i]
	for _, d := range drafts {
		if d.id == "" {
			continue
		}
		if prev, dup := firstAt[d.id]; dup {
			p.errorf(d.idNode, "duplicate step id %q (first defined at line %d)", d.id, prev.Line)
			continue
		}
		firstAt[d.id] = d.idNode
		g.index[d.id] = len(g.ids)
		g.ids = append(g.ids, d.id)
		first = append(first, d)
	}
	// Resolve needs first: expressions are checked against the ancestors.
	needs := make([][]string, len(drafts))
	for i, d := range drafts {
		needs[i] = p.resolveNeeds(d, drafts, i, firstAt, g.ids)
	}
	g.needs = make([][]int, len(g.ids))
	for i, d := range drafts {
		if d.id != "" && firstAt[d.id] == d.idNode {
			ns := make([]int, len(needs[i]))
			for j, name := range needs[i] {
				ns[j] = g.index[name]
			}
			g.needs[g.index[d.id]] = ns
		}
	}
	order, cycles := g.sort()
	for _, c := range cycles {
		d := first[c.at]
		p.errorf(cmp.Or(d.needsNode, d.node), "needs: cycle %s", g.describe(c))
	}
	var anc ancestry // nil when the DAG has a cycle
	if len(cycles) == 0 {
		anc = g
		if p.baseline != nil {
			anc = p.baseline(g)
		}
	}
	for i, d := range drafts {
		s := p.buildStep(d, needs[i], defaults, anc, firstAt)
		pl.steps = append(pl.steps, s)
		if d.id != "" && firstAt[d.id] == d.idNode {
			pl.byID[d.id] = s
		}
	}
	pl.order = make([]string, len(order))
	for i, v := range order {
		pl.order[i] = g.ids[v]
	}
}

// buildStep applies defaults to one step and compiles its expressions.
// ancestors is nil when the DAG has a cycle.
func (p *parser) buildStep(d *stepDraft, needs []string, defaults defaultsDraft, ancestors ancestry, known map[string]*yaml.Node) *Step {
	s := &Step{
		id:              d.id,
		uses:            d.uses,
		needs:           needs,
		timeout:         cmp.Or(d.timeout, defaults.timeout, DefaultTimeout),
		continueOnError: d.continueOnError,
		pos:             p.pos(d.node),
		retry: Retry{
			Attempts:   cmp.Or(d.retry.Attempts, defaults.retry.Attempts, defaultAttempts),
			Backoff:    cmp.Or(d.retry.Backoff, defaults.retry.Backoff, defaultBackoff),
			MaxBackoff: cmp.Or(d.retry.MaxBackoff, defaults.retry.MaxBackoff, defaultMaxBackoff),
		},
	}
	// parseRetry reported a block whose own two values conflict; what is
	// left is a conflict between values from different places (a step's
	// backoff over the defaults' max_backoff, say).
	source := func(step, dflt time.Duration) int {
		switch {
		case step > 0:
			return 1
		case dflt > 0:
			return 2
		}
		return 3
	}
	if s.retry.MaxBackoff < s.retry.Backoff &&
		source(d.retry.Backoff, defaults.retry.Backoff) != source(d.retry.MaxBackoff, defaults.retry.MaxBackoff) {
		at := cmp.Or(d.retryNode, d.node)
		p.errorf(at, "retry: backoff %s is longer than max_backoff %s (after defaults)", s.retry.Backoff, s.retry.MaxBackoff)
	}
	with := mergeWith(d.with, defaults.with[d.uses])
	p.checkConfig(d, with)
	s.with = p.compileValue(with, func(n *yaml.Node, t *expr.Template) {
		for _, r := range t.Refs().Steps {
			p.checkStepRef(r.Name, d, ancestors, known, p.exprPos(n, r.Offset), "with")
		}
	})
	for _, r := range s.with.Refs().Secrets {
		if !slices.Contains(s.secrets, r.Name) {
			s.secrets = append(s.secrets, r.Name)
		}
	}
	slices.Sort(s.secrets)
	if d.ifNode != nil {
		s.cond = p.compileCondition(d.ifNode, expr.ScopeStep)
		if s.cond != nil {
			p.checkCondRefs(s.cond.Refs().Steps, d, ancestors, known, yamlpos.Resolve(d.ifNode))
		}
	}
	return s
}

func (p *parser) resolveNeeds(d *stepDraft, drafts []*stepDraft, i int, known map[string]*yaml.Node, ids []string) []string {
	if d.needsNode == nil {
		if i > 0 && drafts[i-1].id != "" {
			return []string{drafts[i-1].id}
		}
		return []string{}
	}
	out := []string{}
	listed := make(map[string]bool, len(d.needs))
	for _, n := range d.needs {
		name, ok := p.str(n, "needs")
		if !ok {
			continue
		}
		switch {
		case name == d.id:
			p.errorf(n, "step %q cannot need itself", name)
		case known[name] == nil:
			p.errorf(n, "needs: unknown step id %q%s", name, p.didYouMean(name, ids))
		case listed[name]:
			p.errorf(n, "needs: step %q is listed twice", name)
		default:
			listed[name] = true
			out = append(out, name)
		}
	}
	return out
}

// checkCondRefs reports steps.<id> references of a condition to unknown
// steps or to steps that may not have run yet, inside the `if:` scalar.
func (p *parser) checkCondRefs(refs []expr.Ref, d *stepDraft, ancestors ancestry, known map[string]*yaml.Node, ifNode *yaml.Node) {
	_, shift := conditionText(ifNode.Value)
	for _, r := range refs {
		p.checkStepRef(r.Name, d, ancestors, known, p.exprPos(ifNode, shift+r.Offset), "if")
	}
}

func (p *parser) checkStepRef(name string, d *stepDraft, ancestors ancestry, known map[string]*yaml.Node, at yamlpos.Pos, what string) {
	if known[name] == nil {
		if p.sortedIDs == nil {
			p.sortedIDs = make([]string, 0, len(known))
			for id := range known {
				p.sortedIDs = append(p.sortedIDs, id)
			}
			slices.Sort(p.sortedIDs)
		}
		p.errs.Add(at, "%s: unknown step %q%s", what, name, p.didYouMean(name, p.sortedIDs))
		return
	}
	if ancestors == nil {
		return // a cycle was reported; ancestry is meaningless
	}
	switch {
	case name == d.id:
		p.errs.Add(at, "%s: step %q cannot read its own outputs", what, name)
	case !ancestors.needsTransitively(d.id, name):
		p.errs.Add(at, "%s: step %q is not a dependency of step %q, so its outcome is not known yet (add it to needs)", what, name, d.id)
	}
}
