package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/expr"
)

// trigger is one compiled `on:` entry.
type trigger struct {
	event  events.Type
	match  []matchKey // AND of keys; each key is an any-of set
	filter *expr.Program
}

// matchKey is one `match:` entry: the event value at path must equal one of
// the values (canonical form, see canon).
type matchKey struct {
	path   string // as written: "data.endpoint", "subject", "extensions.x"
	attr   string // "data", "subject", "source", "org", "workspace", "extensions"
	sub    string // gjson path inside data, or the extension name
	values map[string]bool
	shown  []string // the values as written, for "why not" messages
}

// lookup returns the canonical form of the event's value at the key's path,
// and whether it exists. The payload must be valid (EventVars.Err nil).
func (k *matchKey) lookup(ev *events.Event) (string, bool) {
	switch k.attr {
	case "data":
		r := gjson.GetBytes(ev.Data, k.sub)
		if !r.Exists() {
			return "", false
		}
		return canonJSON(r), true
	case "subject":
		return "s:" + ev.Subject, true
	case "source":
		return "s:" + ev.Source, true
	case "org":
		return "s:" + ev.Org, true
	case "workspace":
		return "s:" + ev.Workspace, true
	case "extensions":
		v, ok := ev.Extensions[k.sub]
		return "s:" + v, ok
	}
	return "", false
}

// canonJSON gives a payload value the same canonical form a YAML literal
// gets, so "3" (string) never equals 3 (number), 3 equals 3.0 and 1e2
// equals 100, and numbers compare exactly (9007199254740993 is not
// 9007199254740992, as it would be as float64).
func canonJSON(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return "s:" + r.Str
	case gjson.Number:
		if c, ok := canonDecimal(r.Raw); ok {
			return c
		}
		return "n:" + strconvFloat(r.Num)
	case gjson.True:
		return "b:true"
	case gjson.False:
		return "b:false"
	case gjson.Null:
		return "null"
	}
	return "j:" + r.Raw // objects and arrays never equal a scalar
}

// canonYAMLNumber is canonJSON's form for a YAML !!int or !!float: the
// literal's exact decimal value (hex, octal and '_' separators resolved as
// YAML resolves them).
func canonYAMLNumber(n *yaml.Node) (string, bool) {
	if n.Tag == "!!int" {
		var v any
		if err := n.Decode(&v); err != nil {
			return "", false
		}
		switch x := v.(type) {
		case int:
			return canonDecimal(strconv.Itoa(x))
		case int64:
			return canonDecimal(strconv.FormatInt(x, 10))
		case uint64:
			return canonDecimal(strconv.FormatUint(x, 10))
		}
	}
	text := strings.TrimPrefix(strings.ReplaceAll(n.Value, "_", ""), "+")
	if c, ok := canonDecimal(text); ok {
		return c, true
	}
	var f float64 // .inf, .nan: no JSON number equals them
	if err := n.Decode(&f); err != nil {
		return "", false
	}
	return "n:" + strconvFloat(f), true
}

// canonDecimal writes a decimal number exactly, as "n:" then the sign, the
// significant digits and the power of ten ("n:15e-1" for 1.50, "n:1e2" for
// 100 and 1e2, "n:0" for every zero), without big arithmetic, so a huge
// exponent costs nothing. It accepts JSON's number syntax and the forms
// ".5" and "5." of YAML; ok is false for anything else.
func canonDecimal(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	mant, exp, hasExp := strings.Cut(s, "e")
	if !hasExp {
		mant, exp, hasExp = strings.Cut(s, "E")
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return "", false
	}
	e := int64(0)
	if hasExp {
		x, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || x > 1<<60 || x < -(1<<60) {
			return "", false // past int64 with the digits added: float64 decides
		}
		e = x
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	e -= int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	e += int64(len(digits) - len(trimmed))
	if trimmed == "" {
		return "n:0", true
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return "n:" + sign + trimmed + "e" + strconv.FormatInt(e, 10), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseMatchPath splits a `match:` key. Payload paths are plain dotted
// names (letters, digits, '_' and '-'; numeric segments index arrays):
// gjson's wildcards and modifiers are refused so a path means one value.
func parseMatchPath(path string) (attr, sub string, err error) {
	head, rest, dotted := strings.Cut(path, ".")
	switch head {
	case "subject", "source", "org", "workspace":
		if dotted {
			return "", "", fmt.Errorf("%s has no fields", head)
		}
		return head, "", nil
	case "extensions":
		if !dotted || rest == "" || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return "", "", fmt.Errorf("extensions.<name> needs a lower-case alphanumeric name")
		}
		return head, rest, nil
	case "data":
		if !dotted {
			return "", "", fmt.Errorf("match on data needs a field: data.<field>")
		}
		for _, seg := range strings.Split(rest, ".") {
			if seg == "" {
				return "", "", fmt.Errorf("empty path segment")
			}
			for i := 0; i < len(seg); i++ {
				c := seg[i]
				if c != '_' && c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
					return "", "", fmt.Errorf("invalid character %q in path segment %q (wildcards and modifiers are not supported)", c, seg)
				}
			}
		}
		return head, rest, nil
	}
	return "", "", fmt.Errorf("unknown event field %q (use data.<field>, subject, source, org, workspace or extensions.<name>)", head)
}

// TriggerResult is the verdict of one trigger for one event.
type TriggerResult struct {
	Trigger int         // index in `on:`
	Event   events.Type // the trigger's event type
	Matched bool
	// Reason says why the trigger did not match ("" when it matched or
	// when Err is set).
	Reason string
	// Err is set when the filter failed to evaluate (a missing field, a
	// cost limit, a malformed payload): a different outcome from "did not
	// match", recorded as such.
	Err error
}

// Match evaluates every trigger of the plan against ev and says, for each,
// whether it matched and why not, or that its filter failed. The plan as
// a whole matches when any trigger matched (see Matches). ctx bounds the
// evaluation of the filters.
func (p *Plan) Match(ctx context.Context, ev *EventVars) []TriggerResult {
	if ev == nil {
		ev = NewEventVars(events.Event{})
	}
	out := make([]TriggerResult, len(p.triggers))
	for i := range p.triggers {
		out[i] = p.evalTrigger(ctx, i, ev, true)
	}
	return out
}

// Matches reports whether any trigger matched, and the first filter error
// when none did.
func Matches(results []TriggerResult) (bool, error) {
	var firstErr error
	for _, r := range results {
		if r.Matched {
			return true, nil
		}
		if r.Err != nil && firstErr == nil {
			firstErr = r.Err
		}
	}
	return false, firstErr
}

// evalTrigger runs the checks in index order: type, enabled, workspace,
// match keys, then the CEL filter. full is false when called from the
// Index, which has done the cheap checks already and needs no reasons: it
// saves formatting a message per candidate.
func (p *Plan) evalTrigger(ctx context.Context, i int, evv *EventVars, full bool) TriggerResult {
	t := p.triggers[i]
	r := TriggerResult{Trigger: i, Event: t.event}
	ev := &evv.ev
	if full {
		switch {
		case ev.Type != t.event:
			r.Reason = fmt.Sprintf("event type %q is not %q", ev.Type, t.event)
			return r
		case !p.enabled:
			r.Reason = "pipeline is disabled"
			return r
		case p.workspace != "" && ev.Workspace != p.workspace:
			r.Reason = fmt.Sprintf("workspace %q is not the pipeline's workspace %q", ev.Workspace, p.workspace)
			return r
		}
	}
	if err := evv.Err(); err != nil {
		r.Err = fmt.Errorf("pipeline: %s: trigger %d: %w", p.name, i, err)
		return r
	}
	for k := range t.match {
		key := &t.match[k]
		got, ok := key.lookup(ev)
		if !ok {
			if full {
				r.Reason = fmt.Sprintf("match %s: the event has no such field", key.path)
			}
			return r
		}
		if !key.values[got] {
			if full {
				r.Reason = fmt.Sprintf("match %s: %s is not %s", key.path, showCanon(got), strings.Join(key.shown, " or "))
			}
			return r
		}
	}
	if t.filter != nil {
		evx, err := evv.decoded()
		if err != nil {
			r.Err = fmt.Errorf("pipeline: %s: trigger %d: %w", p.name, i, err)
			return r
		}
		ok, err := t.filter.EvalBool(ctx, &expr.Vars{Event: evx, Pipeline: p.pvars})
		if err != nil {
			r.Err = fmt.Errorf("pipeline: %s: trigger %d: filter: %w", p.name, i, err)
			return r
		}
		if !ok {
			if full {
				r.Reason = fmt.Sprintf("if: %s is false", t.filter.Source())
			}
			return r
		}
	}
	r.Matched = true
	return r
}

// showCanon renders a canonical value as the author would write it.
func showCanon(c string) string {
	if s, ok := strings.CutPrefix(c, "s:"); ok {
		return strconv.Quote(s)
	}
	if n, ok := strings.CutPrefix(c, "n:"); ok {
		return showNumber(n)
	}
	if len(c) > 2 && c[1] == ':' { // b:, j:
		return c[2:]
	}
	return c // null
}

// showNumber writes a canonical number (see canonDecimal) in plain
// decimal when its exponent is modest, else as digits and exponent.
func showNumber(c string) string {
	sign, body := "", c
	if strings.HasPrefix(body, "-") {
		sign, body = "-", body[1:]
	}
	digits, e, ok := strings.Cut(body, "e")
	exp, err := strconv.Atoi(e)
	if !ok || err != nil || exp > 21 || exp < -21 {
		return c
	}
	switch {
	case exp >= 0:
		return sign + digits + strings.Repeat("0", exp)
	case -exp < len(digits):
		return sign + digits[:len(digits)+exp] + "." + digits[len(digits)+exp:]
	}
	return sign + "0." + strings.Repeat("0", -exp-len(digits)) + digits
}
