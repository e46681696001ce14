package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

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
// and whether it exists.
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
// gets, so "3" (string) never equals 3 (number) and 3 equals 3.0.
func canonJSON(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return "s:" + r.Str
	case gjson.Number:
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

// eventVars decodes an event's payload at most once, on the first filter
// that needs it, for all the filters evaluated for that event.
type eventVars struct {
	ev   *events.Event
	vars *expr.Vars
	err  error
	done bool
}

func (l *eventVars) get(pvars map[string]any) (*expr.Vars, error) {
	if !l.done {
		l.done = true
		var ev *expr.EventVars
		ev, l.err = expr.NewEventVars(*l.ev)
		l.vars = &expr.Vars{Event: ev}
	}
	if l.err != nil {
		return nil, l.err
	}
	v := *l.vars // Pipeline differs per plan; the event is shared.
	v.Pipeline = pvars
	return &v, nil
}

// Match evaluates every trigger of the plan against ev and says, for each,
// whether it matched and why not. The plan as a whole matches when any
// trigger matched.
func (p *Plan) Match(ev events.Event) []TriggerResult {
	return p.MatchContext(context.Background(), ev)
}

// MatchContext is Match with a context bounding filter evaluation.
func (p *Plan) MatchContext(ctx context.Context, ev events.Event) []TriggerResult {
	lv := &eventVars{ev: &ev}
	out := make([]TriggerResult, len(p.triggers))
	for i := range p.triggers {
		out[i] = p.evalTrigger(ctx, i, &ev, lv, true)
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
func (p *Plan) evalTrigger(ctx context.Context, i int, ev *events.Event, lv *eventVars, full bool) TriggerResult {
	t := p.triggers[i]
	r := TriggerResult{Trigger: i, Event: t.event}
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
		vars, err := lv.get(p.pvars)
		if err != nil {
			r.Err = fmt.Errorf("pipeline: %s: trigger %d: %w", p.name, i, err)
			return r
		}
		ok, err := t.filter.EvalBool(ctx, vars)
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
	if len(c) > 2 && c[1] == ':' { // n:, b:, j:
		return c[2:]
	}
	return c // null
}
