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
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Ref is a name an expression reads, with the offset of the reference so a
// caller can report an unknown step id at the right character.
type Ref struct {
	Name   string
	Offset int
	// Optional marks a secret that is tested with has(secrets.NAME) or
	// read with secrets.?NAME: the expression is ready for it to be
	// missing.
	Optional bool
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
	prg, err := e.program(checked)
	if err != nil {
		return nil, []*Error{{Msg: fmt.Sprintf("cannot plan expression: %v", err)}}
	}
	return &Program{src: src, prg: prg, refs: refs, typ: checked.OutputType()}, nil
}

// program plans a checked expression. cel-go's planner folds constant
// literals and panics on some a user can write (a map literal with a bytes
// key, `{b'k': 1}`): the panic becomes an error, since nothing a
// definition holds may crash the parser.
func (e *Env) program(checked *cel.Ast) (prg cel.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prg, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return e.cel.Program(checked,
		cel.CostLimit(e.cfg.CostLimit),
		cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
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
				refs.Secrets = append(refs.Secrets, Ref{Name: sel.FieldName(), Offset: at(sel.Operand().ID()), Optional: sel.IsTestOnly()})
			}
		case ast.CallKind:
			if name, ok := optionalSecret(e, global); ok {
				arg := e.AsCall().Args()[0]
				used[arg.ID()] = true
				refs.Secrets = append(refs.Secrets, Ref{Name: name, Offset: at(arg.ID()), Optional: true})
			}
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
	if scope == ScopeWith {
		errs = append(errs, checkSecretFlow(a.Expr(), global, at)...)
	}
	slices.SortStableFunc(errs, func(x, y *Error) int { return x.Offset - y.Offset })
	return refs, errs
}

// optionalSecret reports whether e is secrets.?NAME (an optional
// selection, which CEL represents as a call).
func optionalSecret(e ast.Expr, global func(ast.Expr) string) (string, bool) {
	if e.Kind() != ast.CallKind {
		return "", false
	}
	c := e.AsCall()
	if c.FunctionName() != operators.OptSelect || len(c.Args()) != 2 || global(c.Args()[0]) != varSecrets {
		return "", false
	}
	if lit := c.Args()[1]; lit.Kind() == ast.LiteralKind {
		if name, ok := lit.AsLiteral().(types.String); ok {
			return string(name), true
		}
	}
	return "", false
}

// checkSecretFlow enforces the rule that makes redaction complete: a
// secret's value may only reach the result of a `with:` expression as it
// is. A secret may be the whole expression, an operand of + (string or
// list concatenation), an item of a list literal, a value of a map
// literal, a branch of ?: and the target or default of orValue()/or();
// and the expression holding it must again be in such a place, up to the
// root. So the result holds the secret's exact bytes wherever it holds
// anything computed from the secret, and replacing those bytes redacts
// it. Anything else (a function or method, a comparison, an index, a
// conversion such as bytes() or int(), a map key, a condition, a
// comprehension) could carry the secret in a form no redaction finds, or
// turn it into a value that tells something about it, and is rejected
// here, at load. has(secrets.NAME) is allowed anywhere: it tells whether
// the secret exists, not what it is.
func checkSecretFlow(root ast.Expr, global func(ast.Expr) string, at func(int64) int) []*Error {
	var errs []*Error
	// why is "" while e's value reaches the result as it is, else what is
	// done to it on the way.
	var walk func(e ast.Expr, why string)
	walk = func(e ast.Expr, why string) {
		if name, ident, ok := secretRead(e, global); ok {
			if why != "" {
				errs = append(errs, &Error{Offset: at(ident.ID()), Msg: fmt.Sprintf(
					"secrets.%s cannot be %s: a secret may only be used as it is (alone, joined with +, in a list or as a map value), so that it can be redacted from what is stored and logged", name, why)})
			}
			return
		}
		// The reason nearest the secret is the one reported.
		sub := func(child ast.Expr, verbatim bool, reason string) {
			if verbatim {
				walk(child, why)
			} else {
				walk(child, reason)
			}
		}
		switch e.Kind() {
		case ast.CallKind:
			c := e.AsCall()
			fn := c.FunctionName()
			passes := fn == "orValue" || fn == "or"
			if c.IsMemberFunction() {
				sub(c.Target(), passes, "passed to "+fn+"()")
			}
			for i, arg := range c.Args() {
				switch fn {
				case operators.Add:
					sub(arg, true, "")
				case operators.Conditional:
					sub(arg, i > 0, "the condition of ?:")
				default:
					sub(arg, passes && c.IsMemberFunction(), "passed to "+callName(fn))
				}
			}
		case ast.ListKind:
			for _, x := range e.AsList().Elements() {
				sub(x, true, "")
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				m := en.AsMapEntry()
				sub(m.Key(), false, "a map key")
				sub(m.Value(), true, "")
			}
		case ast.StructKind:
			for _, f := range e.AsStruct().Fields() {
				sub(f.AsStructField().Value(), false, "a message field")
			}
		case ast.SelectKind:
			sub(e.AsSelect().Operand(), false, "selected from")
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
				sub(x, false, "used in a comprehension")
			}
		}
	}
	walk(root, "")
	return errs
}

// secretRead reports whether e reads a secret's value: secrets.NAME or
// secrets.?NAME (has(secrets.NAME) only tests presence). ident is the
// `secrets` identifier, where a message points.
func secretRead(e ast.Expr, global func(ast.Expr) string) (name string, ident ast.Expr, ok bool) {
	if e.Kind() == ast.SelectKind {
		sel := e.AsSelect()
		if !sel.IsTestOnly() && global(sel.Operand()) == varSecrets {
			return sel.FieldName(), sel.Operand(), true
		}
		return "", nil, false
	}
	if name, ok := optionalSecret(e, global); ok {
		return name, e.AsCall().Args()[0], true
	}
	return "", nil, false
}

// callName is a function or operator as the author wrote it.
func callName(fn string) string {
	if op, ok := operators.FindReverse(fn); ok && op != "" {
		return "the " + op + " operator"
	}
	switch fn {
	case operators.Index, operators.OptIndex:
		return "an index"
	}
	return fn + "()"
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
