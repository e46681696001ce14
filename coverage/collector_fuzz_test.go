package coverage

import (
	"strings"
	"testing"
)

// FuzzParseRun: any run header parses without panicking, and only the
// two known kinds set an attribution.
func FuzzParseRun(f *testing.F) {
	for _, s := range []string{"ci; id=build-42", "local", "CI;id=\"x\"", ";;", "ci; id=", "=;=", "ci;id=a;id=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := parseRun(s)
		kind, _, _ := strings.Cut(s, ";")
		kind = strings.TrimSpace(kind)
		known := strings.EqualFold(kind, "ci") || strings.EqualFold(kind, "local")
		if a.set != known {
			t.Errorf("parseRun(%q).set = %v; want %v", s, a.set, known)
		}
		if a.ci && !strings.EqualFold(kind, "ci") {
			t.Errorf("parseRun(%q) is CI for kind %q", s, kind)
		}
	})
}

// FuzzRecord: whatever the headers and paths carry (tabs, NUL bytes,
// invalid UTF-8), recording, flushing and reporting neither panic nor
// lose a request, and every key the store gets is text it keeps.
func FuzzRecord(f *testing.F) {
	f.Add("GET", "/pets/7", "happy", "alice", 200)
	f.Add("POST", "/pets", "a\tb", "\x00\xff", 201)
	f.Add("", "", "", "", 0)
	f.Add("GET", "pets", "(overflow)", "(overflow)", 999)
	spec := mustSpec(f, goldenSpecSrc)
	f.Fuzz(func(t *testing.T, method, path, scenario, persona string, status int) {
		c := newCollector(t, Config{Specs: map[string]*Spec{"pets": spec}, MaxKeys: 2, Personas: []string{persona}})
		for i := range 3 {
			c.Record(Hit{Workspace: "w", Service: "pets", Method: method, Path: path, Status: status, Scenario: scenario + strings.Repeat("x", i), Persona: persona, CI: i == 1, RunID: persona})
		}
		rep, err := c.Report(testCtx(t), Query{})
		if err != nil {
			t.Fatal(err)
		}
		if n := countKind(t, c.st, KindRequests); n != 3 {
			t.Errorf("%d requests stored; want 3", n)
		}
		if _, err := rep.MarshalIndent(); err != nil {
			t.Errorf("MarshalIndent = %v", err)
		}
	})
}
