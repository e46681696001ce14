package expr

import (
	"strings"
	"testing"
)

// TestSecretFlowRule: a secret may reach a with: value only as it is; any
// expression that computes something else from it is a compile error.
func TestSecretFlowRule(t *testing.T) {
	env := newEnv(t)
	allowed := []string{
		`secrets.TOKEN`,
		`"Bearer " + secrets.TOKEN`,
		`[secrets.TOKEN, "x"]`,
		`{"token": secrets.TOKEN, "n": 1}`,
		`[secrets.TOKEN] + ["x"]`,
		`event.data.count > 1 ? secrets.TOKEN : "none"`,
		`has(secrets.TOKEN) ? secrets.TOKEN : "none"`,
		`has(secrets.TOKEN)`,
		`secrets.?TOKEN.orValue("none")`,
		`secrets.?TOKEN.or(secrets.?OTHER).orValue("")`,
		`{"a": [{"b": "x" + secrets.TOKEN}]}`,
	}
	for _, src := range allowed {
		if _, errs := env.Compile(src, ScopeWith); errs != nil {
			t.Errorf("Compile(%q) = %v; want it accepted", src, errs)
		}
	}
	rejected := []struct{ src, why string }{
		{`timestamp(secrets.TOKEN)`, "passed to timestamp()"},
		{`event.data[secrets.TOKEN]`, "passed to an index"},
		{`secrets.TOKEN.upperAscii()`, "passed to upperAscii()"},
		{`secrets.TOKEN.split('')`, "passed to split()"},
		{`bytes(secrets.TOKEN)`, "passed to bytes()"},
		{`int(secrets.TOKEN)`, "passed to int()"},
		{`size(secrets.TOKEN)`, "passed to size()"},
		{`secrets.TOKEN == "x"`, "the == operator"},
		{`secrets.TOKEN == "x" ? "a" : "b"`, "the == operator"},
		{`{secrets.TOKEN: 1}`, "a map key"},
		{`[secrets.TOKEN].map(x, x)`, "used in a comprehension"},
		{`{"a": secrets.TOKEN}.a`, "selected from"},
		{`"x" + secrets.TOKEN.lowerAscii()`, "passed to lowerAscii()"},
		{`[secrets.TOKEN].join(",")`, "passed to join()"},
		{`secrets.?TOKEN.hasValue()`, "passed to hasValue()"},
		{`"a".contains(secrets.TOKEN)`, "passed to contains()"},
	}
	for _, tt := range rejected {
		_, errs := env.Compile(tt.src, ScopeWith)
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, tt.why) || !strings.Contains(errs[0].Msg, "secrets.TOKEN") {
			t.Errorf("Compile(%q) = %v; want one error saying the secret is %s", tt.src, errs, tt.why)
			continue
		}
		if at := strings.Index(tt.src, "secrets."); errs[0].Offset != at {
			t.Errorf("Compile(%q) error at offset %d; want it at the secret (%d)", tt.src, errs[0].Offset, at)
		}
	}
}

// TestSecretRefsOptional: has(secrets.X) and secrets.?X mark the reference
// optional, so the renderer can leave a missing secret out.
func TestSecretRefsOptional(t *testing.T) {
	env := newEnv(t)
	p, errs := env.Compile(`has(secrets.A) ? secrets.A : secrets.?B.orValue(secrets.C)`, ScopeWith)
	if errs != nil {
		t.Fatal(errs)
	}
	got := map[string]bool{}
	for _, r := range p.Refs().Secrets {
		got[r.Name] = got[r.Name] || r.Optional
	}
	want := map[string]bool{"A": true, "B": true, "C": false}
	for name, opt := range want {
		if o, ok := got[name]; !ok || o != opt {
			t.Errorf("secret %s: referenced %v, optional %v; want optional %v", name, ok, o, opt)
		}
	}
}
