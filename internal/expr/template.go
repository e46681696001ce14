package expr

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Part is one piece of a template: literal text, or an expression whose
// text starts at byte Offset of the template.
type Part struct {
	Lit    string
	Expr   string
	Offset int
	IsExpr bool
}

// IsTemplate reports whether s contains a `${{` opening, i.e. whether its
// value is only known at run time.
func IsTemplate(s string) bool { return strings.Contains(s, "${{") }

// ParseTemplate splits s into literal and expression parts. An expression
// ends at the first `}}` that CEL would read as outside every token: not
// inside a string or bytes literal (quoted, triple-quoted or raw), not
// inside a `//` comment (which runs to the end of its line) and not inside
// the braces of a map literal. So the text handed to CEL is exactly the
// expression CEL reads.
func ParseTemplate(s string) ([]Part, *Error) {
	var parts []Part
	i := 0
	for {
		j := strings.Index(s[i:], "${{")
		if j < 0 {
			if i < len(s) {
				parts = append(parts, Part{Lit: s[i:]})
			}
			return parts, nil
		}
		j += i
		if j > i {
			parts = append(parts, Part{Lit: s[i:j]})
		}
		start := j + 3
		end, comment, ok := exprEnd(s, start)
		if !ok {
			msg := "unterminated ${{ (missing }})"
			if comment {
				msg = "unterminated ${{ (missing }}; a // comment runs to the end of its line)"
			}
			return nil, &Error{Offset: j, Msg: msg}
		}
		text := s[start:end]
		if strings.TrimSpace(text) == "" {
			return nil, &Error{Offset: j, Msg: "empty expression in ${{ }}"}
		}
		parts = append(parts, Part{Expr: text, Offset: start, IsExpr: true})
		i = end + 2
	}
}

// exprEnd finds the `}}` closing an expression that starts at i, lexing
// strings and comments as CEL's grammar does (cel-go's parser is the
// oracle of the fuzz test). comment reports whether a comment was seen,
// for the message when no `}}` closes the expression.
func exprEnd(s string, i int) (end int, comment, ok bool) {
	depth := 0
	for k := i; k < len(s); {
		switch c := s[k]; {
		case c == '"' || c == '\'':
			k = stringEnd(s, i, k)
			continue
		case c == '/' && strings.HasPrefix(s[k:], "//"):
			comment = true
			nl := strings.IndexByte(s[k:], '\n')
			if nl < 0 {
				return 0, comment, false
			}
			k += nl + 1
			continue
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				if k+1 < len(s) && s[k+1] == '}' {
					return k, comment, true
				}
				return 0, comment, false
			}
			depth--
		}
		k++
	}
	return 0, comment, false
}

// stringEnd returns the index just past the string or bytes literal whose
// opening quote is s[k] (the expression started at i). It follows CEL's
// lexer: a r/R prefix (after an optional b/B) makes the literal raw, where
// a backslash is an ordinary character; a tripled quote opens a literal
// that may hold newlines and single quotes and ends at the first tripled
// quote; an unclosed triple quote is read, as CEL's lexer reads it, as an
// empty string followed by a quote. A quoted literal cut by a newline ends
// there: CEL rejects it, whatever follows.
func stringEnd(s string, i, k int) int {
	q := s[k]
	raw := isRawPrefix(s, i, k)
	if triple := strings.Repeat(string(q), 3); strings.HasPrefix(s[k:], triple) {
		for j := k + 3; j < len(s); j++ {
			switch {
			case s[j] == '\\' && !raw:
				j++
			case strings.HasPrefix(s[j:], triple):
				return j + 3
			}
		}
		return k + 2
	}
	for j := k + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if !raw {
				j++
			}
		case q:
			return j + 1
		case '\n', '\r':
			return j
		}
	}
	return len(s)
}

// isRawPrefix reports whether the quote at s[k] is preceded by a raw
// prefix (r, R, br, bR, Br or BR) that starts a token: in `bar"x"` the r
// ends an identifier (CEL rejects the text anyway).
func isRawPrefix(s string, i, k int) bool {
	startsToken := func(at int) bool { return at < i || !isIdentByte(s[at]) }
	if k-1 < i || (s[k-1] != 'r' && s[k-1] != 'R') {
		return false
	}
	if startsToken(k - 2) {
		return true
	}
	return (s[k-2] == 'b' || s[k-2] == 'B') && startsToken(k-3)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Template is a compiled string that may hold `${{ }}` expressions. A
// template that is exactly one expression (surrounding spaces aside) keeps
// the expression's type; any other is rendered as a string.
type Template struct {
	src   string
	parts []tpart
	lone  bool
	refs  Refs
}

type tpart struct {
	lit string
	prg *Program
}

// CompileTemplate compiles every expression of src; error offsets are in
// src.
func (e *Env) CompileTemplate(src string, scope Scope) (*Template, []*Error) {
	parts, perr := ParseTemplate(src)
	if perr != nil {
		return nil, []*Error{perr}
	}
	t := &Template{src: src}
	var errs []*Error
	for _, p := range parts {
		if !p.IsExpr {
			t.parts = append(t.parts, tpart{lit: p.Lit})
			continue
		}
		prg, cerrs := e.Compile(p.Expr, scope)
		for _, ce := range cerrs {
			errs = append(errs, &Error{Offset: p.Offset + ce.Offset, Msg: ce.Msg})
		}
		if prg != nil {
			t.parts = append(t.parts, tpart{prg: prg})
			t.refs.merge(shift(prg.refs, p.Offset))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var exprs, text int
	for _, p := range t.parts {
		if p.prg != nil {
			exprs++
		} else if strings.TrimSpace(p.lit) != "" {
			text++
		}
	}
	t.lone = exprs == 1 && text == 0
	return t, nil
}

func shift(r Refs, by int) Refs {
	out := Refs{Status: r.Status}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, Ref{Name: s.Name, Offset: s.Offset + by})
	}
	for _, s := range r.Secrets {
		out.Secrets = append(out.Secrets, Ref{Name: s.Name, Offset: s.Offset + by, Optional: s.Optional})
	}
	return out
}

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Refs returns the names the template's expressions read.
func (t *Template) Refs() Refs { return t.refs }

// Eval renders the template.
func (t *Template) Eval(ctx context.Context, v *Vars) (any, error) {
	if t.lone {
		for _, p := range t.parts {
			if p.prg != nil {
				return p.prg.Eval(ctx, v)
			}
		}
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.prg == nil {
			b.WriteString(p.lit)
			continue
		}
		val, err := p.prg.Eval(ctx, v)
		if err != nil {
			return nil, err
		}
		s, err := Stringify(val)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// Value is a compiled `with:` value: a literal, a template, or a list or
// map of Values. Templates nested anywhere are compiled once, at load.
type Value struct {
	lit  any
	tmpl *Template
	list []*Value
	keys []string
	vals []*Value
	kind valueKind
}

type valueKind uint8

const (
	kindLit valueKind = iota
	kindTemplate
	kindList
	kindMap
)

// Literal is a constant scalar value.
func Literal(v any) *Value { return &Value{lit: v, kind: kindLit} }

// TemplateValue is a value rendered from t.
func TemplateValue(t *Template) *Value { return &Value{tmpl: t, kind: kindTemplate} }

// ListValue is a list whose items are rendered in order.
func ListValue(items []*Value) *Value { return &Value{list: items, kind: kindList} }

// MapValue is a map; keys[i] maps to vals[i].
func MapValue(keys []string, vals []*Value) *Value {
	return &Value{keys: keys, vals: vals, kind: kindMap}
}

// Refs returns the names read by every template in the value.
func (v *Value) Refs() Refs {
	var r Refs
	v.walk(func(t *Template) { r.merge(t.refs) })
	return r
}

func (v *Value) walk(f func(*Template)) {
	switch v.kind {
	case kindTemplate:
		f(v.tmpl)
	case kindList:
		for _, x := range v.list {
			x.walk(f)
		}
	case kindMap:
		for _, x := range v.vals {
			x.walk(f)
		}
	}
}

// Eval renders the value into fresh plain data (maps and lists are new on
// every call, so callers may modify them). Errors name the path of the
// failing value, rooted at path.
func (v *Value) Eval(ctx context.Context, vars *Vars, path string) (any, error) {
	switch v.kind {
	case kindTemplate:
		out, err := v.tmpl.Eval(ctx, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return out, nil
	case kindList:
		out := make([]any, len(v.list))
		for i, x := range v.list {
			r, err := x.Eval(ctx, vars, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case kindMap:
		out := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			r, err := v.vals[i].Eval(ctx, vars, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v.lit, nil
}
