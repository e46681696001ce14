package expr

import (
	"strings"
	"testing"
)

// FuzzTemplate checks that template parsing and compiling never panic, that
// every error points inside the source, and that the literal and expression
// parts of a parsed template put back together give the source.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"plain", "${{ event.type }}", "a ${{ 1 + 2 }} b ${{ 'x}}y' }}", "${{ {'k': [1, 2]} }}",
		"${{", "${{ }}", "${{ event.data.x ", "${{ secrets.TOKEN }}", "${{ \"${{\" }}",
	} {
		f.Add(s)
	}
	env, err := NewEnv(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		parts, perr := ParseTemplate(src)
		if perr != nil {
			if perr.Offset < 0 || perr.Offset > len(src) {
				t.Fatalf("ParseTemplate(%q) error offset %d outside the source", src, perr.Offset)
			}
		} else {
			var b strings.Builder
			for _, p := range parts {
				if !p.IsExpr {
					b.WriteString(p.Lit)
					continue
				}
				if p.Offset < 3 || p.Offset+len(p.Expr) > len(src) || src[p.Offset:p.Offset+len(p.Expr)] != p.Expr {
					t.Fatalf("ParseTemplate(%q): part %q at offset %d does not stand there", src, p.Expr, p.Offset)
				}
				b.WriteString("${{" + p.Expr + "}}")
			}
			if b.String() != src {
				t.Fatalf("ParseTemplate(%q) parts rebuild %q", src, b.String())
			}
		}
		for _, scope := range []Scope{ScopeTrigger, ScopeStep, ScopeWith} {
			_, errs := env.CompileTemplate(src, scope)
			for _, e := range errs {
				if e.Offset < 0 || e.Offset > len(src) {
					t.Fatalf("CompileTemplate(%q) error %q at offset %d outside the source", src, e.Msg, e.Offset)
				}
			}
		}
	})
}
