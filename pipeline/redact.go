package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mockops/mockops/steps"
)

// mask replaces a secret in what is stored or logged.
const mask = "***"

// redactor replaces every secret's exact bytes, in each form the renderer
// or an error message can write them, by mask.
//
// It is complete because of the rule expressions are held to at load
// (see package internal/expr): a secret reaches a rendered value only as
// it is, so wherever a value holds anything computed from a secret it
// holds the secret's bytes, either raw or, inside a list or map
// interpolated into text, JSON-escaped; errors may quote them (%q). A
// secret that is not valid UTF-8 is refused before rendering, so every
// form is the same bytes whatever surrounds them. Outputs also hold what
// outside systems answered (an API that echoes a token in its JSON error),
// so the JSON escapings other encoders write are forms too (jsonEscapes);
// an answer that encodes a secret otherwise (base64, nested JSON) is
// beyond what the redactor can recognise.
type redactor struct {
	forms []string // longest first: a secret that is part of another goes last
	// starred is set when a form holds the mask's own character, so that
	// replacing can leave the form in place around a new mask.
	starred bool
}

func newRedactor(secrets []string) redactor {
	var r redactor
	for _, s := range secrets {
		if s == "" {
			continue // an empty secret tells nothing
		}
		j, _ := json.Marshal(s) // a string always encodes
		forms := append([]string{s, string(j[1 : len(j)-1]), unquote(strconv.Quote(s)), unquote(strconv.QuoteToASCII(s))}, jsonEscapes(s)...)
		// Outputs are redacted as their JSON text, where a text output
		// holding an answer's escaped secret is escaped once more.
		for _, f := range forms[1:] {
			if jf, _ := json.Marshal(f); !slices.Contains(forms, unquote(string(jf))) {
				forms = append(forms, unquote(string(jf)))
			}
		}
		for _, f := range forms {
			if !slices.Contains(r.forms, f) {
				r.forms = append(r.forms, f)
				r.starred = r.starred || strings.Contains(f, mask[:1])
			}
		}
	}
	slices.SortStableFunc(r.forms, func(a, b string) int { return len(b) - len(a) })
	return r
}

func unquote(q string) string { return q[1 : len(q)-1] }

// jsonEscapes returns s as the inside of a JSON string in the ways other
// encoders write it, for the answers of outside systems a step stores
// (an http step's response body is text): without Go's escaping of <, >
// and & (JavaScript's JSON.stringify, most encoders), ASCII only with
// \uXXXX and surrogate pairs (Python's json.dumps), and U+2028 and U+2029
// escaped or not. Go's own form is json.Marshal's.
func jsonEscapes(s string) []string {
	// Only the choices s has characters for make different forms.
	choices := func(matters bool) []bool {
		if matters {
			return []bool{false, true}
		}
		return []bool{false}
	}
	nonASCII := strings.IndexFunc(s, func(r rune) bool { return r > 0x7f }) >= 0
	var out []string
	for _, html := range choices(strings.ContainsAny(s, "<>&")) {
		for _, ascii := range choices(nonASCII) {
			for _, seps := range choices(strings.ContainsAny(s, "\u2028\u2029")) {
				if f := escapeJSON(s, html, ascii, seps); !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

func escapeJSON(s string, html, ascii, seps bool) string {
	const hexDigits = "0123456789abcdef"
	var b strings.Builder
	u := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hexDigits[r>>shift&0xf])
		}
	}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20, html && (r == '<' || r == '>' || r == '&'), seps && (r == '\u2028' || r == '\u2029'):
			u(r)
		case ascii && r > 0x7f:
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				u(r1)
				u(r2)
			} else {
				u(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (r redactor) active() bool { return len(r.forms) > 0 }

// string redacts s. Forms without '*' cannot re-form around a mask, so
// one pass is enough; otherwise passes repeat, and text that still holds
// a form after a few is masked whole.
func (r redactor) string(s string) string {
	for pass := 0; ; pass++ {
		found := false
		for _, f := range r.forms {
			if strings.Contains(s, f) {
				found = true
				s = strings.ReplaceAll(s, f, mask)
			}
		}
		if !found || !r.starred {
			return s
		}
		if pass == 3 {
			return mask
		}
	}
}

// value returns a redacted deep copy of v: strings, bytes and map keys at
// any depth. Two keys that redact to the same text are kept apart with a
// #n suffix, in key order, so nothing is lost silently.
func (r redactor) value(v any) any {
	switch x := v.(type) {
	case string:
		return r.string(x)
	case []byte:
		return []byte(r.string(string(x)))
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = r.value(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			rk := r.string(k)
			for n := 2; ; n++ {
				if _, taken := out[rk]; !taken {
					break
				}
				rk = r.string(k) + "#" + strconv.Itoa(n)
			}
			out[rk] = r.value(x[k])
		}
		return out
	case nil, bool, int64, uint64, float64, int, time.Time, time.Duration:
		return v
	}
	// Not a kind the renderer produces; redact its JSON form rather than
	// trust it.
	b, err := json.Marshal(v)
	if err != nil {
		return mask
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		return mask
	}
	return r.value(back)
}

// error returns err with every secret redacted from its text. The result
// keeps nothing of err but the redacted text and the sentinels a caller
// branches on: an unwrapped error would still hold the secret.
func (r redactor) error(err error) error {
	if err == nil || !r.active() {
		return err
	}
	out := &redactedError{msg: r.string(err.Error())}
	for _, s := range redactedSentinels {
		if errors.Is(err, s) {
			out.is = append(out.is, s)
		}
	}
	return out
}

// redactedSentinels are the errors a redacted error still matches with
// errors.Is.
var redactedSentinels = [...]error{
	context.Canceled, context.DeadlineExceeded, steps.ErrSecretNotFound, ErrUnknownStep, ErrInvalidPayload,
}

type redactedError struct {
	msg string
	is  []error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool { return slices.Contains(e.is, target) }
