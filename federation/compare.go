package federation

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Answer is one side of a mock/real comparison: a response as a client
// would have received it. Body holds the body as sent, encoded or not
// (gzip is decoded by Compare).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// CompareConfig says what a comparison looks at and what it treats as
// noise. The zero value compares the status, Content-Type and Location,
// and the JSON bodies with the default noise left out.
type CompareConfig struct {
	// Headers are compared by value, besides Content-Type and Location
	// (media type only for Content-Type).
	Headers []string
	// IgnoreHeaders are never compared, even when listed in Headers.
	IgnoreHeaders []string
	// IgnorePaths are JSON paths left out, written "$.a.b", "$.items[*].id"
	// or "$.*.updated": "*" matches any member name, "[*]" any index.
	IgnorePaths []string
	// ArrayValues compares arrays element by element, values and lengths
	// included. By default arrays are compared by shape: elements pairwise
	// by type and member names, their scalar values and the lengths not.
	ArrayValues bool
	// KeepDefaultNoise compares what is otherwise noise by default: the
	// members named like request ids and timestamps (see defaultNoiseKeys),
	// and two strings that both read as RFC 3339 times.
	KeepDefaultNoise bool
	// MaxBodyBytes caps each (decoded) body compared; a larger body is not
	// compared and the Comparison says so. 0 means DefaultMaxCompareBytes.
	MaxBodyBytes int64
	// MaxDifferences caps the differences reported; 0 means 100.
	MaxDifferences int
}

// Defaults of CompareConfig.
const (
	DefaultMaxCompareBytes = 256 << 10
	defaultMaxDifferences  = 100
)

// defaultNoiseKeys are JSON member names (compared case-insensitively,
// "_" and "-" ignored) that differ between any two answers: request and
// trace ids and timestamps.
var defaultNoiseKeys = []string{
	"requestid", "traceid", "correlationid", "spanid",
	"timestamp", "createdat", "updatedat", "date", "time", "now", "servertime",
}

// DiffKind says how a mock answer differs from the real one.
type DiffKind string

const (
	DiffStatus  DiffKind = "status"  // the statuses differ
	DiffHeader  DiffKind = "header"  // a compared header differs (Path is "header:Name")
	DiffMissing DiffKind = "missing" // the real answer has it, the mock does not
	DiffExtra   DiffKind = "extra"   // the mock has it, the real answer does not
	DiffType    DiffKind = "type"    // JSON types differ (object, array, string, number, bool, null)
	DiffValue   DiffKind = "value"   // scalar values differ
	DiffLength  DiffKind = "length"  // array lengths differ (ArrayValues only)
	DiffBody    DiffKind = "body"    // non-JSON bodies differ byte for byte
)

// Difference is one way a mock answer differs from the real one. Path is
// a JSON path ("$.user.name", "$.items[2]"), "status", or "header:Name".
// Mock and Real render the values, clipped; the values of headers and
// members named like credentials (Authorization, Cookie, *token*,
// *password*, *secret*, ...) are compared but shown as "[redacted]".
type Difference struct {
	Path string   `json:"path"`
	Kind DiffKind `json:"kind"`
	Mock string   `json:"mock,omitempty"`
	Real string   `json:"real,omitempty"`
}

// Comparison is the result of comparing a mock answer with the real one.
type Comparison struct {
	// Differences are in a deterministic order: status, headers (by
	// name), then the body in document order with members sorted by name.
	Differences []Difference `json:"differences"`
	// Skipped says why a body was not compared (too large, undecodable);
	// empty when it was.
	Skipped string `json:"skipped,omitempty"`
	// Truncated is set when more than MaxDifferences were found.
	Truncated bool `json:"truncated,omitempty"`
}

// Drifted reports whether the answers differ.
func (c *Comparison) Drifted() bool { return len(c.Differences) > 0 }

// comparer is a compiled CompareConfig; it is immutable and shared.
type comparer struct {
	headers  []string // canonical, sorted, ignored ones removed
	ignore   [][]string
	arrays   bool
	noise    bool
	maxBody  int64
	maxDiffs int
}

func newComparer(cfg CompareConfig) (*comparer, error) {
	c := &comparer{arrays: cfg.ArrayValues, noise: !cfg.KeepDefaultNoise, maxBody: cfg.MaxBodyBytes, maxDiffs: cfg.MaxDifferences}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxCompareBytes
	}
	if c.maxDiffs <= 0 {
		c.maxDiffs = defaultMaxDifferences
	}
	ignored := map[string]bool{}
	for _, h := range cfg.IgnoreHeaders {
		ignored[http.CanonicalHeaderKey(h)] = true
	}
	for _, h := range append([]string{"Content-Type", "Location"}, cfg.Headers...) {
		k := http.CanonicalHeaderKey(h)
		if !ignored[k] && !slices.Contains(c.headers, k) {
			c.headers = append(c.headers, k)
		}
	}
	slices.Sort(c.headers)
	for _, p := range cfg.IgnorePaths {
		segs, err := parseJSONPath(p)
		if err != nil {
			return nil, err
		}
		c.ignore = append(c.ignore, segs)
	}
	return c, nil
}

// Compare compares a mock answer with the real one. It is deterministic:
// the same answers give the same Comparison. Its cost is bounded by
// MaxBodyBytes per body. An error means the configuration is invalid.
func Compare(mock, real Answer, cfg CompareConfig) (*Comparison, error) {
	c, err := newComparer(cfg)
	if err != nil {
		return nil, err
	}
	return c.compare(mock, real), nil
}

func (c *comparer) compare(mock, real Answer) *Comparison {
	w := &diffWalk{c: c, out: &Comparison{}}
	if mock.Status != real.Status {
		w.add("status", DiffStatus, strconv.Itoa(mock.Status), strconv.Itoa(real.Status))
	}
	for _, k := range c.headers {
		mv, rv := mock.Header.Get(k), real.Header.Get(k)
		if k == "Content-Type" {
			mv, rv = mediaType(mv), mediaType(rv)
		}
		if mv != rv {
			if secretName(k) { // compared, never shown: a diff may be stored and served
				mv, rv = redactedIf(mv), redactedIf(rv)
			}
			w.add("header:"+k, DiffHeader, mv, rv)
		}
	}
	mb, merr := decodedBody(mock, c.maxBody)
	rb, rerr := decodedBody(real, c.maxBody)
	if err := errors.Join(merr, rerr); err != nil {
		w.out.Skipped = err.Error()
		return w.out
	}
	if len(mb) == 0 && len(rb) == 0 {
		return w.out
	}
	mj, mok := parseJSON(mb)
	rj, rok := parseJSON(rb)
	if !mok || !rok {
		if !bytes.Equal(mb, rb) {
			w.add("$", DiffBody, clipBytes(mb), clipBytes(rb))
		}
		return w.out
	}
	w.value(mj, rj, true)
	return w.out
}

// errBodyTooLarge is why a body over MaxBodyBytes was not compared.
var errBodyTooLarge = errors.New("body over the comparison limit")

// decodedBody returns a's body, gzip decoded when it says so, refusing
// more than limit bytes.
func decodedBody(a Answer, limit int64) ([]byte, error) {
	body := a.Body
	if enc := strings.ToLower(strings.TrimSpace(a.Header.Get("Content-Encoding"))); enc == "gzip" || enc == "x-gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("undecodable gzip body: %w", err)
		}
		body, err = io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return nil, fmt.Errorf("undecodable gzip body: %w", err)
		}
	} else if enc != "" && enc != "identity" {
		return nil, fmt.Errorf("unsupported content encoding %q", enc)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", errBodyTooLarge, limit)
	}
	return body, nil
}

func mediaType(v string) string {
	if v == "" {
		return ""
	}
	if mt, _, err := mime.ParseMediaType(v); err == nil {
		return mt
	}
	return v
}

func parseJSON(b []byte) (any, bool) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // exact numbers: 1.0 and 1 are different texts but equal values, compared as numbers below
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	return v, true
}

// diffWalk walks two JSON values in step, keeping the current path as
// segments so that a path is rendered only for a difference.
type diffWalk struct {
	c    *comparer
	out  *Comparison
	path []string // ".name" or "[3]"
}

func (w *diffWalk) add(path string, kind DiffKind, mock, real string) {
	if len(w.out.Differences) >= w.c.maxDiffs {
		w.out.Truncated = true
		return
	}
	w.out.Differences = append(w.out.Differences, Difference{Path: path, Kind: kind, Mock: mock, Real: real})
}

func (w *diffWalk) here() string { return "$" + strings.Join(w.path, "") }

func (w *diffWalk) ignored() bool {
	for _, pat := range w.c.ignore {
		if len(pat) == len(w.path) && matchPath(pat, w.path) {
			return true
		}
	}
	return false
}

// value compares m (mock) with r (real) at the current path; values says
// whether scalars are compared (false inside arrays compared by shape).
func (w *diffWalk) value(m, r any, values bool) {
	if w.out.Truncated || w.ignored() {
		return
	}
	mt, rt := jsonType(m), jsonType(r)
	if mt != rt {
		w.add(w.here(), DiffType, mt, rt)
		return
	}
	switch mv := m.(type) {
	case map[string]any:
		rv := r.(map[string]any)
		keys := make([]string, 0, len(mv)+len(rv))
		for k := range mv {
			keys = append(keys, k)
		}
		for k := range rv {
			if _, ok := mv[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if w.c.noise && isNoiseKey(k) {
				continue
			}
			w.path = append(w.path, memberSeg(k))
			me, inM := mv[k]
			re, inR := rv[k]
			switch {
			case !inM:
				if !w.ignored() {
					w.add(w.here(), DiffMissing, "", w.show(re))
				}
			case !inR:
				if !w.ignored() {
					w.add(w.here(), DiffExtra, w.show(me), "")
				}
			default:
				w.value(me, re, values)
			}
			w.path = w.path[:len(w.path)-1]
		}
	case []any:
		rv := r.([]any)
		inner := values && w.c.arrays
		if inner && len(mv) != len(rv) {
			w.add(w.here(), DiffLength, strconv.Itoa(len(mv)), strconv.Itoa(len(rv)))
		}
		for i := range min(len(mv), len(rv)) {
			w.path = append(w.path, "["+strconv.Itoa(i)+"]")
			w.value(mv[i], rv[i], inner)
			w.path = w.path[:len(w.path)-1]
		}
	default:
		if values && !w.scalarEqual(m, r) {
			w.add(w.here(), DiffValue, w.show(m), w.show(r))
		}
	}
}

// show renders a value at the current path, redacted under a member
// named like a credential.
func (w *diffWalk) show(v any) string {
	for _, seg := range w.path {
		if seg[0] != '[' || strings.HasPrefix(seg, `["`) {
			if secretName(seg) {
				return redacted
			}
		}
	}
	return clipJSON(v)
}

// redacted replaces the value of a secret in a Difference.
const redacted = "[redacted]"

func redactedIf(v string) string {
	if v == "" {
		return ""
	}
	return redacted
}

// secretName reports whether a header or member name (or path segment)
// names a credential, whose values a Difference must not show.
func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"authorization", "cookie", "password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "credential", "private_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func (w *diffWalk) scalarEqual(m, r any) bool {
	switch mv := m.(type) {
	case json.Number:
		rv := r.(json.Number)
		if mv == rv {
			return true
		}
		mf, e1 := mv.Float64()
		rf, e2 := rv.Float64()
		return e1 == nil && e2 == nil && mf == rf
	case string:
		rv := r.(string)
		if mv == rv {
			return true
		}
		return w.c.noise && isTimestamp(mv) && isTimestamp(rv)
	}
	return m == r // bool, nil
}

func isTimestamp(s string) bool {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

func isNoiseKey(k string) bool {
	if len(k) > 32 {
		return false
	}
	var buf [32]byte
	n := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return slices.Contains(defaultNoiseKeys, string(buf[:n]))
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// memberSeg renders one member name as a path segment: ".name" for an
// identifier, `["a b"]` otherwise.
func memberSeg(k string) string {
	ident := k != ""
	for i := 0; i < len(k) && ident; i++ {
		c := k[i]
		ident = c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
	}
	if ident {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// parseJSONPath reads "$.a.b", "$.items[*].id", `$["a b"]`, "$.a[2]" into
// segments as the walk writes them, with ".*" and "[*]" as wildcards.
func parseJSONPath(p string) ([]string, error) {
	bad := func(why string) error { return fmt.Errorf("federation: JSON path %q: %s", p, why) }
	if !strings.HasPrefix(p, "$") {
		return nil, bad(`must start with "$"`)
	}
	var segs []string
	rest := p[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			name := rest[1 : 1+end]
			if name == "" {
				return nil, bad("empty member name")
			}
			if name == "*" {
				segs = append(segs, ".*")
			} else {
				segs = append(segs, memberSeg(name))
			}
			rest = rest[1+end:]
		case '[':
			if strings.HasPrefix(rest, `["`) {
				q, err := strconv.QuotedPrefix(rest[1:])
				if err != nil || !strings.HasPrefix(rest[1+len(q):], "]") {
					return nil, bad("bad quoted member name")
				}
				name, _ := strconv.Unquote(q)
				segs = append(segs, memberSeg(name))
				rest = rest[1+len(q)+1:]
				continue
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, bad(`unclosed "["`)
			}
			switch in := rest[1:end]; in {
			case "*":
				segs = append(segs, "[*]")
			default:
				if _, err := strconv.Atoi(in); err != nil {
					return nil, bad("index must be a number, * or a quoted name")
				}
				segs = append(segs, "["+in+"]")
			}
			rest = rest[end+1:]
		default:
			return nil, bad(`expected "." or "["`)
		}
	}
	return segs, nil
}

func matchPath(pat, path []string) bool {
	for i, p := range pat {
		s := path[i]
		switch {
		case p == s:
		case p == ".*" && s[0] == '.', p == ".*" && strings.HasPrefix(s, `["`):
		case p == "[*]" && s[0] == '[' && !strings.HasPrefix(s, `["`):
		default:
			return false
		}
	}
	return true
}

func clipJSON(v any) string {
	switch v := v.(type) {
	case string:
		return clip(strconv.Quote(v))
	case json.Number:
		return clip(v.String())
	case nil:
		return "null"
	case map[string]any:
		return "{...}"
	case []any:
		return "[...]"
	}
	return fmt.Sprint(v)
}

func clipBytes(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%d bytes", len(b))
	}
	return strconv.Quote(string(b))
}
