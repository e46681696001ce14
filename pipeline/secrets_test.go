package pipeline_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
)

// secretPlan parses a one-step pipeline whose emit step has data: with.
func secretPlan(t testing.TB, data string) (*pipeline.Plan, error) {
	t.Helper()
	src := "name: s\non: [{event: schema.changed}]\nsteps:\n  - {id: a, uses: emit, with: {type: x.y}}\n" +
		"  - id: b\n    uses: emit\n    needs: [a]\n    with:\n      type: x.y\n      data: " + data + "\n"
	d, err := newParser().Parse("s.yaml", []byte(src))
	if err != nil {
		return nil, err
	}
	return d.Plan(), nil
}

// leaks lists the forms of secret found in text: its bytes, JSON-escaped
// or quoted, and its base64 encodings.
func leaks(text, secret string) []string {
	j, _ := json.Marshal(secret)
	forms := map[string]string{
		"raw":          secret,
		"json":         string(j[1 : len(j)-1]),
		"quoted":       strings.Trim(strconv.Quote(secret), `"`),
		"base64":       base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64-raw":   base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64-url":   base64.URLEncoding.EncodeToString([]byte(secret)),
		"base64-url-r": base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
	var out []string
	for name, f := range forms {
		if strings.Contains(text, f) {
			out = append(out, name)
		}
	}
	return out
}

// TestRenderErrorIsRedacted: a render error that would quote a secret's
// value comes back with the value masked, and unwraps to nothing that
// still holds it. Here an earlier step's output carries the token (as a
// login step's would), and the lookup that fails names it.
func TestRenderErrorIsRedacted(t *testing.T) {
	plan, err := secretPlan(t, `{auth: "${{ secrets.TOKEN }}", v: "${{ steps.a.outputs[steps.a.outputs.token] }}"}`)
	if err != nil {
		t.Fatal(err)
	}
	const secret = `hunter2"<&>`
	rc := pipeline.RenderContext{
		Event:   pipeline.NewEventVars(event(t, events.TypeSchemaChanged, "", nil)),
		Steps:   map[string]pipeline.StepState{"a": {Outputs: map[string]any{"token": secret}, Outcome: "success", Conclusion: "success"}},
		Secrets: mapSecrets{"TOKEN": secret},
	}
	r, err := plan.Render(context.Background(), "b", rc)
	if err == nil {
		t.Fatalf("Render = %v; want a no such key error", r.With)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if l := leaks(e.Error(), secret); l != nil {
			t.Errorf("Render error (or one it wraps) holds the secret (%v): %q", l, e.Error())
		}
	}
	if !strings.Contains(err.Error(), "no such key: ***") {
		t.Errorf("Render error = %q; want the failed lookup, redacted", err)
	}
	// A secret source's failure keeps its sentinel through redaction.
	_, err = plan.Render(context.Background(), "b", pipeline.RenderContext{Event: rc.Event, Steps: rc.Steps, Secrets: mapSecrets{}})
	if !errors.Is(err, steps.ErrSecretNotFound) {
		t.Errorf("Render without the secret = %v; want ErrSecretNotFound", err)
	}
}

// TestTransformedSecretIsLoadError: what CEL computes from a secret other
// than the secret itself could not be redacted, so the definition is
// rejected at load, at the secret's position (the first two are the
// reported leaks: both used to fail at render time quoting the value).
func TestTransformedSecretIsLoadError(t *testing.T) {
	for _, expr := range []string{
		`timestamp(secrets.TOKEN)`,
		`event.data[secrets.TOKEN]`,
		`bytes(secrets.TOKEN)`,
		`secrets.TOKEN.upperAscii()`,
		`secrets.TOKEN.split('')`,
		`{secrets.TOKEN: 1}`,
		`size(secrets.TOKEN) > 3 ? 'long' : 'short'`,
		`secrets.TOKEN.startsWith('h')`,
	} {
		_, err := secretPlan(t, `{v: "${{ `+expr+` }}"}`)
		var list pipeline.ErrorList
		if !errors.As(err, &list) || len(list) != 1 || !strings.Contains(list[0].Msg, "secrets.TOKEN cannot be") {
			t.Errorf("Parse(%s) = %v; want one error saying the secret cannot be transformed", expr, err)
			continue
		}
		if want := 12 + len(`{v: "${{ `) + strings.Index(expr, "secrets") + 1; list[0].Pos.Line != 10 || list[0].Pos.Col != want {
			t.Errorf("Parse(%s) error at %d:%d; want 10:%d (the secret)", expr, list[0].Pos.Line, list[0].Pos.Col, want)
		}
	}
}

// TestRedactedEveryKind: a secret is masked wherever With holds it: in a
// lone list or map, JSON-escaped inside interpolated text, in map keys
// and bytes that came from earlier steps or the payload, at any depth.
func TestRedactedEveryKind(t *testing.T) {
	const secret = `p@ss"w<r>d&\é`
	plan, err := secretPlan(t, `{list: "${{ [secrets.T, 'x'] }}", nested: "${{ {'a': [{'b': 'x-' + secrets.T}]} }}", `+
		`text: "cfg=${{ {'t': secrets.T} }}", keys: "${{ steps.a.outputs.m }}", raw: "${{ steps.a.outputs.b }}", `+
		`payload: "${{ event.data }}", plain: "${{ secrets.T }}"}`)
	if err != nil {
		t.Fatal(err)
	}
	rc := pipeline.RenderContext{
		Event: pipeline.NewEventVars(event(t, events.TypeSchemaChanged, "", map[string]any{secret: secret, "k": 1})),
		Steps: map[string]pipeline.StepState{"a": {Outputs: map[string]any{
			"m": map[string]any{secret: 1, "x" + secret: 2, "***": 3},
			"b": []byte("bin:" + secret),
		}}},
		Secrets: mapSecrets{"T": secret},
	}
	r, err := plan.Render(context.Background(), "b", rc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "x.y",
		"data": map[string]any{
			"list":    []any{"***", "x"},
			"nested":  map[string]any{"a": []any{map[string]any{"b": "x-***"}}},
			"text":    `cfg={"t":"***"}`,
			"keys":    map[string]any{"***": int64(3), "***#2": int64(1), "x***": int64(2)},
			"raw":     []byte("bin:***"),
			"payload": map[string]any{"***": "***", "k": int64(1)},
			"plain":   "***",
		},
	}
	red := r.Redacted()
	if diff := cmp.Diff(want, red); diff != "" {
		t.Errorf("Redacted mismatch (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(red)
	if err != nil {
		t.Fatal(err)
	}
	if l := leaks(string(b), secret); l != nil {
		t.Errorf("stored form holds the secret (%v): %s", l, b)
	}
	if r.With["data"].(map[string]any)["plain"] != secret {
		t.Errorf("With[data][plain] = %v; the step must get the secret in clear", r.With["data"].(map[string]any)["plain"])
	}
}

// TestHasSecretIsFalseWhenMissing: a step ready for a secret to be
// missing (has(), .?) renders without it; one that reads it plainly
// still fails with ErrSecretNotFound.
func TestHasSecretIsFalseWhenMissing(t *testing.T) {
	plan, err := secretPlan(t, `{a: "${{ has(secrets.OPT) ? 'Bearer ' + secrets.OPT : 'anonymous' }}", b: "${{ secrets.?OPT.orValue('none') }}"}`)
	if err != nil {
		t.Fatal(err)
	}
	ev := pipeline.NewEventVars(event(t, events.TypeSchemaChanged, "", nil))
	for _, src := range []steps.SecretSource{mapSecrets{}, nil} {
		r, err := plan.Render(context.Background(), "b", pipeline.RenderContext{Event: ev, Secrets: src})
		if err != nil {
			t.Fatalf("Render with secrets %v = %v; want has(secrets.OPT) false", src, err)
		}
		if diff := cmp.Diff(map[string]any{"a": "anonymous", "b": "none"}, r.With["data"]); diff != "" {
			t.Errorf("Render with secrets %v mismatch (-want +got):\n%s", src, diff)
		}
	}
	r, err := plan.Render(context.Background(), "b", pipeline.RenderContext{Event: ev, Secrets: mapSecrets{"OPT": "tok-123"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"a": "Bearer ***", "b": "***"}, r.Redacted()["data"]); diff != "" {
		t.Errorf("Redacted with the secret mismatch (-want +got):\n%s", diff)
	}
	required, err := secretPlan(t, `{a: "${{ secrets.REQ }}"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := required.Render(context.Background(), "b", pipeline.RenderContext{Event: ev, Secrets: mapSecrets{}}); !errors.Is(err, steps.ErrSecretNotFound) {
		t.Errorf("Render of a plain read of a missing secret = %v; want ErrSecretNotFound", err)
	}
}

// genTemplate writes a random `with:` expression over secrets.T, the
// payload and literals, using operations the load rule allows and
// operations it forbids.
func genTemplate(rng *rand.Rand, depth int) string {
	leaf := []string{`secrets.T`, `secrets.T`, `'lit'`, `event.data.s`, `event.data.n`, `secrets.?T.orValue('d')`, `"q\"x"`, `b'by'`}
	if depth == 0 || rng.IntN(3) == 0 {
		return leaf[rng.IntN(len(leaf))]
	}
	a, b := genTemplate(rng, depth-1), genTemplate(rng, depth-1)
	forms := []string{
		"%s + %s", "[%s, %s]", "{'k': %s, 'j': %s}", "{%s: %s}", "has(secrets.T) ? %s : %s", "%s == %s ? 'y' : 'n'",
		"[%s, %s].join('-')", "(%s).upperAscii() + %s", "bytes(%s) + bytes(%s)", "string(%s) + %s", "%s.split('') + [%s]",
		"timestamp(%s) + duration(%s)", "{'m': %s}[%s]", "[%s].map(x, x + %s)", "size(%s) + size(%s)", "%s.substring(1) + %s",
		"(%s).reverse() + %s", "'%%s-%%s'.format([%s, %s])", "base64.encode(%s) + %s", "[%s, %s][0]",
	}
	return fmt.Sprintf(forms[rng.IntN(len(forms))], a, b)
}

// genSecret draws a secret of 12 to 30 characters, JSON's and quoting's
// special characters and non-ASCII among them.
func genSecret(rng *rand.Rand) string {
	const alphabet = "abcXYZ019\"\\'<>&*{}$ é\u2028\t/+=-"
	r := []rune(alphabet)
	var b strings.Builder
	for range 12 + rng.IntN(19) {
		b.WriteRune(r[rng.IntN(len(r))])
	}
	return b.String()
}

// renderRedacted loads expr twice in a step (the whole value, and inside
// text), renders it with secret and returns what would be stored (JSON),
// or the load or render error.
func renderRedacted(t *testing.T, expr, secret string) (stored string, loadErr, renderErr error) {
	t.Helper()
	lone, _ := json.Marshal("${{ " + expr + " }}") // YAML reads a JSON string as a double-quoted scalar
	mixed, _ := json.Marshal("pre ${{ " + expr + " }} post")
	plan, err := secretPlan(t, "{v: "+string(lone)+", t: "+string(mixed)+"}")
	if err != nil {
		return "", err, nil
	}
	rc := pipeline.RenderContext{
		Event:   pipeline.NewEventVars(event(t, events.TypeSchemaChanged, "", map[string]any{"s": "text", "n": 4})),
		Secrets: mapSecrets{"T": secret},
	}
	r, err := plan.Render(context.Background(), "b", rc)
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(r.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	return string(b), nil, nil
}

// checkNoLeak fails when secret, in any form, reaches what renderRedacted
// stores or an error. It reports whether the expression loaded.
func checkNoLeak(t *testing.T, expr, secret string) bool {
	t.Helper()
	stored, loadErr, renderErr := renderRedacted(t, expr, secret)
	for what, text := range map[string]string{"redacted output": stored, "load error": errText(loadErr), "render error": errText(renderErr)} {
		if l := leaks(text, secret); l != nil {
			t.Fatalf("expression %s with secret %q: %s holds the secret (%v): %s", expr, secret, what, l, text)
		}
	}
	return loadErr == nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSecretNeverLeaks is the property behind redaction: for random
// expressions over a secret, whether the load rule admits them or not,
// no form of the secret reaches a redacted output or an error.
func TestSecretNeverLeaks(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 1))
	loaded := 0
	const n = 600
	for range n {
		if checkNoLeak(t, genTemplate(rng, 3), genSecret(rng)) {
			loaded++
		}
	}
	t.Logf("%d of %d random expressions loaded and rendered", loaded, n)
	// The property must not hold only because everything is rejected.
	if loaded < n/10 {
		t.Errorf("only %d of %d random expressions loaded; the test would prove little", loaded, n)
	}
}

// FuzzSecretRedaction: the same property for expressions and secrets the
// fuzzer writes.
func FuzzSecretRedaction(f *testing.F) {
	for _, s := range []string{`secrets.T`, `[secrets.T, 'x']`, `{'k': 'a' + secrets.T}`, `timestamp(secrets.T)`, `event.data[secrets.T]`, `secrets.T.upperAscii()`} {
		f.Add(s, `hunter2"<&>é`)
	}
	f.Fuzz(func(t *testing.T, expr, secret string) {
		if len(secret) < 8 || len(expr) > 300 || strings.Contains(expr, "}}") {
			return // a short secret is found in any text; "}}" would end the template early
		}
		if leaks(expr, secret) != nil {
			return // the expression writes the secret itself
		}
		// A secret that is text any output holds (`"data":{`) is no test:
		// render with another secret and skip if it shows up there.
		if stored, _, err := renderRedacted(t, expr, "Q7zvP3kW9xR2mL5t"); leaks(stored+errText(err), secret) != nil {
			return
		}
		checkNoLeak(t, expr, secret)
	})
}
