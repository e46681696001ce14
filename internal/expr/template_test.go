package expr

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in   string
		want []Part
		err  string
		off  int
	}{
		{"plain", []Part{{Lit: "plain"}}, "", 0},
		{"${{ a }}", []Part{{Expr: " a ", Offset: 3, IsExpr: true}}, "", 0},
		{"x ${{a}} y", []Part{{Lit: "x "}, {Expr: "a", Offset: 5, IsExpr: true}, {Lit: " y"}}, "", 0},
		{`${{ {"k": {"n": 1}} }}`, []Part{{Expr: ` {"k": {"n": 1}} `, Offset: 3, IsExpr: true}}, "", 0},
		{`${{ "}}" }}`, []Part{{Expr: ` "}}" `, Offset: 3, IsExpr: true}}, "", 0},
		{"${{ '''}}''' }}", []Part{{Expr: " '''}}''' ", Offset: 3, IsExpr: true}}, "", 0},
		{`${{ r'\' }}`, []Part{{Expr: ` r'\' `, Offset: 3, IsExpr: true}}, "", 0},
		{"${{ a // note\n}} b", []Part{{Expr: " a // note\n", Offset: 3, IsExpr: true}, {Lit: " b"}}, "", 0},
		{"${{ a // note }}", nil, "a // comment runs to the end of its line", 0},
		{"a ${{ b", nil, "unterminated", 2},
		{"a ${{   }}", nil, "empty expression", 2},
	}
	for _, tt := range tests {
		got, err := ParseTemplate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Msg, tt.err) || err.Offset != tt.off {
				t.Errorf("ParseTemplate(%q) error = %v; want %q at %d", tt.in, err, tt.err, tt.off)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTemplate(%q) = %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseTemplate(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestTemplateEval(t *testing.T) {
	env := newEnv(t)
	vars := sampleVars(t)
	tests := []struct {
		name string
		src  string
		want any
	}{
		{"lone string", "${{ event.data.spec_path }}", "specs/pay.yaml"},
		{"lone keeps int", "${{ event.data.count }}", int64(3)},
		{"lone keeps float", "${{event.data.ratio}}", 0.5},
		{"lone keeps bool", "${{ event.data.count > 1 }}", true},
		{"lone keeps list", "${{ event.data.langs }}", []any{"go", "ts"}},
		{"lone keeps map", "${{ event.data.meta }}", map[string]any{"owner": "team-a"}},
		{"lone with spaces around", "  ${{ event.data.count }} ", int64(3)},
		{"interpolates text", "SDK for ${{ event.workspace }}: ${{ steps.sdk.outcome }}", "SDK for payments: success"},
		{"interpolates number", "n=${{ event.data.count }}", "n=3"},
		{"interpolates list as JSON", "langs=${{ event.data.langs }}", `langs=["go","ts"]`},
		{"interpolates map as JSON", "m=${{ event.data.meta }}", `m={"owner":"team-a"}`},
		{"two exprs", "${{ 1 }}${{ 2 }}", "12"},
		{"plain text", "no templates", "no templates"},
		{"has()", "${{ has(event.data.nope) ? event.data.nope : 'none' }}", "none"},
		{"optional", "${{ event.data.?nope.orValue('x') }}", "x"},
		{"secret", "Bearer ${{ secrets.TOKEN }}", "Bearer s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, errs := env.CompileTemplate(tt.src, ScopeWith)
			if errs != nil {
				t.Fatalf("CompileTemplate(%q) = %v", tt.src, errs)
			}
			got, err := tmpl.Eval(context.Background(), vars)
			if err != nil {
				t.Fatalf("Eval(%q) = %v", tt.src, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		src   string
		scope Scope
		off   int
		msg   string
	}{
		{"token ${{ secrets.TOKEN }}", ScopeStep, 10, "secrets are only available in with:"},
		{"x ${{ event.nope }}", ScopeWith, 12, `event has no field "nope"`},
		{"ok ${{ 1 + }}", ScopeWith, 11, "Syntax error"},
		{"${{ a", ScopeWith, 0, "unterminated"},
	}
	for _, tt := range tests {
		_, errs := env.CompileTemplate(tt.src, tt.scope)
		if len(errs) == 0 || errs[0].Offset != tt.off || !strings.Contains(errs[0].Msg, tt.msg) {
			t.Errorf("CompileTemplate(%q) = %v; want %q at %d", tt.src, errs, tt.msg, tt.off)
		}
	}
}

func TestTemplateMissingFieldIsError(t *testing.T) {
	env := newEnv(t)
	for _, src := range []string{"${{ event.data.nope }}", "x-${{ event.data.nope }}"} {
		tmpl, errs := env.CompileTemplate(src, ScopeWith)
		if errs != nil {
			t.Fatal(errs)
		}
		got, err := tmpl.Eval(context.Background(), sampleVars(t))
		if err == nil || !strings.Contains(err.Error(), "no such key") {
			t.Errorf("Eval(%q) = %q, %v; want a no such key error", src, got, err)
		}
	}
}

func TestValueEval(t *testing.T) {
	env := newEnv(t)
	tmpl := func(s string) *Value {
		tp, errs := env.CompileTemplate(s, ScopeWith)
		if errs != nil {
			t.Fatal(errs)
		}
		return TemplateValue(tp)
	}
	v := MapValue([]string{"spec", "langs", "nested"}, []*Value{
		tmpl("${{ event.data.spec_path }}"),
		ListValue([]*Value{Literal("go"), tmpl("${{ event.data.langs[1] }}")}),
		MapValue([]string{"n", "bad"}, []*Value{tmpl("${{ event.data.count }}"), Literal(true)}),
	})
	got, err := v.Eval(context.Background(), sampleVars(t), "with")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"spec": "specs/pay.yaml", "langs": []any{"go", "ts"}, "nested": map[string]any{"n": int64(3), "bad": true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Eval mismatch (-want +got):\n%s", diff)
	}
	bad := MapValue([]string{"list"}, []*Value{ListValue([]*Value{tmpl("${{ event.data.nope }}")})})
	if _, err := bad.Eval(context.Background(), sampleVars(t), "with"); err == nil || !strings.HasPrefix(err.Error(), "with.list[0]: ") {
		t.Errorf("Eval error = %v; want it to name with.list[0]", err)
	}
}
