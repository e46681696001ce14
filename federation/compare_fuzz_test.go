package federation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzCompare: any two bodies compare without panicking, identically on
// a second run (determinism), and a body compared with itself never
// drifts.
func FuzzCompare(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[1,2,{"c":null}]}`), []byte(`{"a":"1","b":[]}`), true)
	f.Add([]byte(`[1,2]`), []byte(`not json`), false)
	f.Add([]byte(`{"created_at":"2026-01-01T00:00:00Z"}`), []byte(`{"created_at":1}`), false)
	f.Fuzz(func(t *testing.T, mb, rb []byte, arrays bool) {
		cfg := CompareConfig{ArrayValues: arrays, IgnorePaths: []string{"$.b[*].c"}, MaxBodyBytes: 4096}
		mock, real := jsonAnswer(200, string(mb)), jsonAnswer(200, string(rb))
		first, err := Compare(mock, real, cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Compare(mock, real, cfg)
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("Compare not deterministic (-first +again):\n%s", diff)
		}
		self, _ := Compare(mock, mock, cfg)
		if self.Drifted() {
			t.Fatalf("Compare(x, x) = %+v; want no difference", self.Differences)
		}
	})
}

// FuzzJSONPath: parsing never panics, and a path the walk writes for a
// member name parses back to that one segment.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"$.a.b", "$.items[*].id", `$["a b"]`, "$[3]", "$.*"} {
		f.Add(s, "name")
	}
	f.Fuzz(func(t *testing.T, path, member string) {
		_, _ = parseJSONPath(path)
		seg := memberSeg(member)
		got, err := parseJSONPath("$" + seg)
		if err != nil {
			t.Fatalf("parseJSONPath(%q) = %v; want the segment of member %q", "$"+seg, err, member)
		}
		if want := []string{seg}; !cmp.Equal(got, want) && member != "*" {
			t.Fatalf("parseJSONPath(%q) = %q; want %q", "$"+seg, got, want)
		}
	})
}
