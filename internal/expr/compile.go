package expr

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Ref is a name an expression reads, with the offset of the reference so a
// caller can report an unknown step id at the right character.
type Ref struct {
	Name   string
	Offset int
}

// Refs are the names an expression reads, found at compile time.
type Refs struct {
	Steps   []Ref // ids read through steps.<id>
	Secrets []Ref // names read through secrets.<NAME>
	Status  bool  // calls success(), failure(), cancelled() or always()
}

func (r *Refs) merge(o Refs) {
	r.Steps = append(r.Steps, o.Steps...)
	r.Secrets = append(r.Secrets, o.Secrets...)
	r.Status = r.Status || o.Status
}

// Program is a compiled expression. It is immutable and safe for
// concurrent use.
type Program struct {
	src  string
	prg  cel.Program
	refs Refs
	typ  *cel.Type
}

// Source returns the expression text.
func (p *Program) Source() string { return p.src }

// Refs returns the names the expression reads.
func (p *Program) Refs() Refs { return p.refs }

// Compile parses, type-checks and cost-checks src for scope. All problems
// are returned, each with its offset in src.
func (e *Env) Compile(src string, scope Scope) (*Program, []*Error) {
	checked, iss := e.cel.Compile(src)
	if iss != nil && iss.Err() != nil {
		var errs []*Error
		for _, ce := range iss.Errors() {
			errs = append(errs, &Error{Offset: locOffset(src, ce.Location), Msg: ce.Message})
		}
		return nil, errs
	}
	refs, errs := checkRefs(src, checked.NativeRep(), scope)
	if len(errs) > 0 {
		return nil, errs
	}
	est, err := e.cel.EstimateCost(checked, sizeEstimator{max: e.cfg.MaxCollectionSize})
	if err != nil {
		return nil, []*Error{{Msg: fmt.Sprintf("cannot estimate cost: %v", err)}}
	}
	if est.Max > e.cfg.CostBudget {
		return nil, []*Error{{Msg: fmt.Sprintf("expression too expensive: estimated cost up to %d exceeds the budget of %d", est.Max, e.cfg.CostBudget)}}
	}
	prg, err := e.cel.Program(checked,
		cel.CostLimit(e.cfg.CostLimit),
		cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, []*Error{{Msg: fmt.Sprintf("cannot plan expression: %v", err)}}
	}
	return &Program{src: src, prg: prg, refs: refs, typ: checked.OutputType()}, nil
}

// CompileCondition compiles an `if:` expression, which must be a bool. A
// dyn result (a payload field) is accepted here and checked at run time.
func (e *Env) CompileCondition(src string, scope Scope) (*Program, []*Error) {
	p, errs := e.Compile(src, scope)
	if errs != nil {
		return nil, errs
	}
	if !p.typ.IsExactType(cel.BoolType) && !p.typ.IsExactType(cel.DynType) {
		return nil, []*Error{{Msg: fmt.Sprintf("condition must be a bool, got %s", p.typ)}}
	}
	return p, nil
}

// Eval evaluates the program and returns its value as plain Go data
// (string, int64, uint64, float64, bool, nil, []any, map[string]any,
// time.Time, time.Duration, []byte).
func (p *Program) Eval(ctx context.Context, v *Vars) (any, error) {
	val, err := p.eval(ctx, v)
	if err != nil {
		return nil, err
	}
	out, err := toNative(val)
	if err != nil {
		return nil, fmt.Errorf("expr: %s: %w", p.src, err)
	}
	return out, nil
}

// EvalBool evaluates a condition.
func (p *Program) EvalBool(ctx context.Context, v *Vars) (bool, error) {
	val, err := p.eval(ctx, v)
	if err != nil {
		return false, err
	}
	b, ok := val.(types.Bool)
	if !ok {
		return false, fmt.Errorf("expr: %s: condition evaluated to %s, not a bool", p.src, val.Type().TypeName())
	}
	return bool(b), nil
}

func (p *Program) eval(ctx context.Context, v *Vars) (ref.Val, error) {
	val, _, err := p.prg.ContextEval(ctx, v.activation())
	if err != nil {
		return nil, fmt.Errorf("expr: %s: %w", p.src, err)
	}
	return val, nil
}

// locOffset turns CEL's location (1-based line, 0-based column counted in
// code points) into a byte offset in src.
func locOffset(src string, loc common.Location) int {
	if loc == nil || loc.Line() < 1 {
		return 0
	}
	off := 0
	for line := 1; line < loc.Line() && off < len(src); off++ {
		if src[off] == '\n' {
			line++
		}
	}
	for col := 0; col < loc.Column() && off < len(src); col++ {
		_, n := utf8.DecodeRuneInString(src[off:])
		off += n
	}
	return off
}

// checkRefs walks the checked AST: it records which steps and secrets the
// expression reads and rejects what the scope does not allow. Identifiers
// are resolved through the checker's reference map, so a comprehension
// variable that shadows a global is not mistaken for it.
func checkRefs(src string, a *ast.AST, scope Scope) (Refs, []*Error) {
	var refs Refs
	var errs []*Error
	info := a.SourceInfo()
	at := func(id int64) int { return locOffset(src, info.GetStartLocation(id)) }
	shadowed := shadowedIdents(a.Expr())
	global := func(e ast.Expr) string {
		if e.Kind() != ast.IdentKind || shadowed[e.ID()] {
			return ""
		}
		r, ok := a.ReferenceMap()[e.ID()]
		if !ok || r.Value != nil {
			return ""
		}
		return r.Name
	}
	// Identifiers consumed by an accepted selection; any other use of
	// steps or secrets is reported.
	used := map[int64]bool{}
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.SelectKind:
			sel := e.AsSelect()
			name := global(sel.Operand())
			switch name {
			case varEvent:
				if !slices.Contains(eventFields[:], sel.FieldName()) {
					// CEL places a selection at its dot; point at the field.
					off := at(e.ID())
					if off < len(src) && src[off] == '.' {
						off++
					}
					errs = append(errs, &Error{Offset: off, Msg: fmt.Sprintf("event has no field %q (fields: id, type, source, subject, workspace, org, time, data, extensions)", sel.FieldName())})
				}
			case varSteps:
				used[sel.Operand().ID()] = true
				refs.Steps = append(refs.Steps, Ref{Name: sel.FieldName(), Offset: at(sel.Operand().ID())})
			case varSecrets:
				used[sel.Operand().ID()] = true
				refs.Secrets = append(refs.Secrets, Ref{Name: sel.FieldName(), Offset: at(sel.Operand().ID())})
			}
		case ast.CallKind:
			if fn := e.AsCall().FunctionName(); slices.Contains(statusFuncs[:], fn) {
				refs.Status = true
				if scope == ScopeTrigger {
					// CEL places a call at its parenthesis; point at the name.
					off := at(e.ID())
					if off >= len(fn) && src[off-len(fn):off] == fn {
						off -= len(fn)
					}
					errs = append(errs, &Error{Offset: off, Msg: fmt.Sprintf("%s() is only available in steps", fn)})
				}
			}
		}
	}))
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		name := global(e)
		switch {
		case name == varSecrets && scope != ScopeWith:
			errs = append(errs, &Error{Offset: at(e.ID()), Msg: "secrets are only available in with: templates"})
		case (name == varSteps || name == varExecution) && scope == ScopeTrigger:
			errs = append(errs, &Error{Offset: at(e.ID()), Msg: name + " is not available in a trigger (no execution exists yet)"})
		case (name == varSteps || name == varSecrets) && !used[e.ID()]:
			errs = append(errs, &Error{Offset: at(e.ID()), Msg: fmt.Sprintf("%s must be read by a literal name (%s.NAME)", name, name)})
		}
	}))
	slices.SortStableFunc(errs, func(x, y *Error) int { return x.Offset - y.Offset })
	return refs, errs
}

// shadowedIdents returns the ids of identifiers that name a comprehension
// variable (`list.map(steps, ...)`) rather than the global of that name:
// the checker's reference map does not tell them apart.
func shadowedIdents(root ast.Expr) map[int64]bool {
	out := map[int64]bool{}
	ast.PreOrderVisit(root, ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.ComprehensionKind {
			return
		}
		c := e.AsComprehension()
		names := []string{c.IterVar(), c.AccuVar()}
		if c.HasIterVar2() {
			names = append(names, c.IterVar2())
		}
		for _, sub := range []ast.Expr{c.LoopCondition(), c.LoopStep(), c.Result()} {
			ast.PreOrderVisit(sub, ast.NewExprVisitor(func(x ast.Expr) {
				if x.Kind() == ast.IdentKind && slices.Contains(names, x.AsIdent()) {
					out[x.ID()] = true
				}
			}))
		}
	}))
	return out
}

// sizeEstimator gives every collection and string whose size the checker
// cannot compute the configured maximum, so comprehensions over payload
// lists get a finite, comparable estimate instead of "unbounded".
type sizeEstimator struct{ max uint64 }

func (s sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.ComputedSize() != nil {
		return nil
	}
	return &cost.SizeEstimate{Min: 0, Max: s.max}
}

func (sizeEstimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
