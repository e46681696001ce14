package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"time"
)

// Funcs returns the template helpers every page may use:
//
//	duration d          a short human duration ("1.2s", "3m04s", "—" for 0)
//	span a b            the duration from a to b ("—" if either is zero)
//	when t              t in UTC, "2006-01-02 15:04:05Z" ("—" if zero)
//	iso t               t in RFC 3339 (for <time datetime>)
//	badge status        a status badge: a symbol and the status in words
//	tone status         the tone class of a status: ok, fail, run, warn, none
//	percent p           a *float64 ratio as "97.5%" ("—" if nil)
//	prettyjson raw      indented JSON of a json.RawMessage or any value
//	query base k v ...  base with the non-empty query parameters k=v
//	add a b             a+b
func Funcs() template.FuncMap {
	return template.FuncMap{
		"duration":   Duration,
		"span":       Span,
		"when":       When,
		"iso":        ISO,
		"badge":      Badge,
		"tone":       Tone,
		"percent":    Percent,
		"prettyjson": PrettyJSON,
		"query":      Query,
		"add":        func(a, b int) int { return a + b },
	}
}

// Duration renders d briefly, rounded to what a person reads.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Span is the duration from a to b, "—" when either is unknown.
func Span(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return "—"
	}
	return Duration(b.Sub(a))
}

// When renders t in UTC to the second.
func When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ISO renders t in RFC 3339, "" when zero.
func ISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Tone classifies a status for styling: ok, fail, run, warn or none.
// It knows the execution, step and reality words of every package, so a
// new status reads as neutral rather than wrong.
func Tone(status any) string {
	s, ok := status.(string)
	if !ok {
		s = fmt.Sprint(status)
	}
	switch s {
	case "succeeded", "success", "matched", "enabled", "valid", "ok", "real":
		return "ok"
	case "failed", "failure", "error", "timed_out", "invalid", "denied":
		return "fail"
	case "running", "queued", "active":
		return "run"
	case "cancelled", "skipped", "disabled", "not matched", "cancel requested":
		return "warn"
	}
	return "none"
}

var symbols = map[string]string{"ok": "✓", "fail": "✗", "run": "◷", "warn": "⊘", "none": "•"}

// Badge renders status as a badge: a symbol (hidden from screen readers)
// and the status in words, so colour is never the only signal.
func Badge(status any) template.HTML {
	s, ok := status.(string)
	if !ok {
		s = fmt.Sprint(status)
	}
	if s == "" {
		s = "none"
	}
	tone := Tone(s)
	return template.HTML(`<span class="badge b-` + tone + `"><span aria-hidden="true">` + symbols[tone] + `</span> ` +
		template.HTMLEscapeString(s) + `</span>`)
}

// Percent renders a ratio in [0,1]; nil (nothing to compute it from) is "—".
func Percent(p *float64) string {
	if p == nil {
		return "—"
	}
	return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
}

// PrettyJSON indents JSON for a <pre>. A json.RawMessage or []byte is
// indented as is (shown raw if it is not JSON); any other value is
// marshalled. Empty input is "".
func PrettyJSON(v any) string {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	case nil:
		return ""
	default:
		b, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return string(raw)
	}
	return out.String()
}

// Query returns base with the query parameters given as key, value pairs;
// empty values are left out, so filter links stay short. An odd trailing
// key is ignored.
func Query(base string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Add(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}
