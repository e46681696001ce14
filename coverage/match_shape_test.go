package coverage

import "testing"

// TestPatEdgeMatch checks that the inline shapes of a templated segment
// ("{a}", "{a}lit", "lit{a}") answer exactly as matchParts does, on every
// pair of templates and segments below, and that each template gets the
// shape expected of it.
func TestPatEdgeMatch(t *testing.T) {
	templates := []struct {
		tmpl string
		kind patKind
	}{
		{"{a}", patAny},
		{"{a}.json", patSuffix},
		{"{a}x", patSuffix},
		{"v{a}", patPrefix},
		{"ab{a}", patPrefix},
		{"{a}.{b}", patGeneric},
		{"a{b}a", patGeneric},
		{"{a}{b}", patGeneric},
	}
	segs := []string{"", "x", "v", "v1", "ab", "abc", ".json", "x.json", "x.json.json", "xjson", "a", "aa", "axa", "a.b", "a.", ".b", "xy"}
	for _, tt := range templates {
		s, err := parseSegment(tt.tmpl)
		if err != nil {
			t.Fatalf("parseSegment(%q) = %v", tt.tmpl, err)
		}
		e := &patEdge{seg: s}
		e.classify()
		if e.kind != tt.kind {
			t.Errorf("classify(%q) = %d; want %d", tt.tmpl, e.kind, tt.kind)
		}
		for _, seg := range segs {
			if seg == "" {
				continue // walk and find never ask a pattern about an empty segment
			}
			if got, want := e.match(seg), matchParts(s.parts, seg); got != want {
				t.Errorf("patEdge(%q).match(%q) = %v; matchParts says %v", tt.tmpl, seg, got, want)
			}
		}
	}
}

// TestFindBacktracks checks that the greedy descent gives way to the
// backtracking walk: the literal child is a dead end, the templated one
// matches, at the first segment and deeper.
func TestFindBacktracks(t *testing.T) {
	spec, err := LoadOpenAPI([]byte(`
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /a/b: {get: {responses: {"200": {description: ok}}}}
  /a/{x}/c: {get: {responses: {"200": {description: ok}}}}
  /a/b/d/e: {get: {responses: {"200": {description: ok}}}}
  /a/{x}/d/{y}.json: {get: {responses: {"200": {description: ok}}}}
  /{p}/z: {get: {responses: {"200": {description: ok}}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b/c", "/a/{x}/c", true},
		{"/a/b/d/e", "/a/b/d/e", true},
		{"/a/b/d/e.json", "/a/{x}/d/{y}.json", true},
		{"/a/z", "/{p}/z", true},
		{"/a/b/d", "", false},
		{"/a//c", "", false},
	}
	for _, tt := range tests {
		got, ok := spec.MatchTemplate(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MatchTemplate(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}
