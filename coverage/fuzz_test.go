package coverage

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzLoadOpenAPI: no input panics the loader; an error is always a
// diagnostic list wrapping ErrInvalidSpec; a loaded Spec is consistent
// and its matcher takes any path.
func FuzzLoadOpenAPI(f *testing.F) {
	for _, name := range []string{"petstore-expanded.yaml", "redocly-museum-api.yaml", "features.yaml"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, "/v2/pets/1")
	}
	f.Add([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{b}.{c}":{"get":{"responses":{"2XX":{"description":"d"}}}}}}`), "/a/x.y")
	f.Add([]byte("openapi: 3.0.0\npaths: {/a: {$ref: '#/paths/~1a'}}\n"), "/a")
	f.Add([]byte("openapi: 3.0.0\nservers: [{url: 'http://{h}:{p}/{b}', variables: {b: {default: x, enum: [x, y]}}}]\n"), "/x")
	f.Fuzz(func(t *testing.T, src []byte, path string) {
		s, err := LoadOpenAPIFile("fuzz.yaml", src)
		if err != nil {
			var l ErrorList
			if !errors.Is(err, ErrInvalidSpec) || !errors.As(err, &l) || len(l) == 0 {
				t.Fatalf("LoadOpenAPIFile() error %T %v; want an ErrorList wrapping ErrInvalidSpec", err, err)
			}
			return
		}
		for i, op := range s.Operations() {
			if op.ID != OpID(i) {
				t.Fatalf("Operations()[%d].ID = %d; want %d", i, op.ID, i)
			}
		}
		for _, m := range oracleMethods {
			id, err := s.Match(m, path)
			if (err == nil) == (id == NoOp) {
				t.Fatalf("Match(%q, %q) = %d, %v; want an id or an error", m, path, id, err)
			}
			if op, ok := s.Operation(id); err == nil && (!ok || op.Method != m) {
				t.Fatalf("Match(%q, %q) = %d, the operation %v", m, path, id, op)
			}
		}
	})
}

// pathChars are the bytes fuzzed path values are made of: what a URL path
// carries unescaped, and "/" to add or remove segments.
const pathChars = "abcAC019-._~/"

// FuzzMatchOracle checks the matcher against kin-openapi's router on the
// real documents: a route of a document, with one of its segments
// replaced by fuzzed text, must match the same operation, or miss the
// same way, in both.
func FuzzMatchOracle(f *testing.F) {
	f.Add(uint8(2), uint16(7), "Calls", uint8(3), uint8(0))
	f.Add(uint8(2), uint16(40), "abc.json", uint8(5), uint8(1))
	f.Add(uint8(0), uint16(1), "", uint8(2), uint8(2))
	f.Add(uint8(1), uint16(3), "tickets/", uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, doc uint8, route uint16, value string, seg, method uint8) {
		o := newOracle(t, oracleSpecs[int(doc)%len(oracleSpecs)])
		r := o.routes[int(route)%len(o.routes)]
		var b strings.Builder
		for i := 0; i < len(value) && i < 40; i++ {
			b.WriteByte(pathChars[int(value[i])%len(pathChars)])
		}
		p := fill(r.segs, "AC0123abc", int(seg)%len(r.segs), b.String())
		m := oracleMethods[int(method)%len(oracleMethods)]
		if got, want := o.got(m, p), o.want(t, r, m, p); got != want {
			t.Errorf("Match(%q, %q) = %s; want %s (kin-openapi)", m, p, got, want)
		}
	})
}

// FuzzMatchParts checks one templated segment against the regular
// expression gorilla/mux (kin-openapi's router) builds for it: a
// parameter is [^/]+.
func FuzzMatchParts(f *testing.F) {
	f.Add("{a}-{b}-{c}", "1---3")
	f.Add("x{a}y{b}z", "xyyBz")
	f.Add("{Sid}.json", "CA1.json")
	f.Fuzz(func(t *testing.T, tmpl, seg string) {
		// Escaped paths are ASCII, and the regexp reads runes, not bytes.
		if strings.Contains(seg, "/") || strings.Contains(tmpl, "/") || !ascii(seg) || !ascii(tmpl) {
			return
		}
		s, err := parseSegment(tmpl)
		if err != nil || s.parts == nil {
			return
		}
		var re strings.Builder
		re.WriteString("^")
		for _, p := range s.parts {
			if p.param {
				re.WriteString("[^/]+")
			} else {
				re.WriteString(regexp.QuoteMeta(p.lit))
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(seg)
		if got := matchParts(s.parts, seg); got != want {
			t.Errorf("matchParts(%q, %q) = %v; want %v (%s)", tmpl, seg, got, want, re.String())
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
