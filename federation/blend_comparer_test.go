package federation

import (
	"testing"
)

// benchBlend is a blend with the noise settings a drift check typically has.
var benchBlend = &Blend{Strategy: Merge, Ignore: []string{"$.items[*].created_at", "$.page", "X-Trace"}}

// TestBlendComparerPerSnapshot: a blended service's comparison is
// compiled when the snapshot is built, with the blend's noise, and
// requests use that one.
func TestBlendComparerPerSnapshot(t *testing.T) {
	f := &Federation{Name: "c", Services: []Service{
		{Name: "b", BasePath: "/b", Reality: Blended, Upstream: "http://127.0.0.1:1", Blend: benchBlend},
		{Name: "d", BasePath: "/d", Reality: Blended, Upstream: "http://127.0.0.1:1"}, // default blend
		{Name: "m", BasePath: "/m", Reality: MockV3},
	}}
	r := newTestRouter(t, f, RouterConfig{Mocks: &echoMocks{}})
	for _, tc := range []struct {
		path    string
		want    bool
		ignores int
	}{{"/b/x", true, 2}, {"/d/x", true, 0}, {"/m/x", false, 0}} {
		rt, ok := r.Lookup("GET", "h", tc.path)
		if !ok {
			t.Fatalf("no route for %s", tc.path)
		}
		c := rt.c.comparer
		if (c != nil) != tc.want {
			t.Errorf("%s: compiled comparer %v; want one: %v", tc.path, c, tc.want)
			continue
		}
		if c == nil {
			continue
		}
		if len(c.ignore) != tc.ignores {
			t.Errorf("%s: comparer ignores %d paths; want %d", tc.path, len(c.ignore), tc.ignores)
		}
		x := &exchange{route: rt}
		if blendComparer(x, blendOf(rt.c.svc.Blend)) != c {
			t.Errorf("%s: a request compiles its own comparer instead of the snapshot's", tc.path)
		}
	}
}

// BenchmarkBlendComparer: what a merge or shadow request pays for its
// comparison setup, compiled per request (the baseline, as before) or
// taken from the snapshot.
func BenchmarkBlendComparer(b *testing.B) {
	mock, real := jsonAnswer(200, string(body2K("widget"))), jsonAnswer(200, string(body2K("gadget")))
	b.Run("baseline-compile-per-request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = newBlendComparer(benchBlend).compare(mock, real)
		}
	})
	b.Run("compiled-per-snapshot", func(b *testing.B) {
		x := &exchange{route: Route{c: &compiled{comparer: newBlendComparer(benchBlend)}}}
		b.ReportAllocs()
		for b.Loop() {
			_ = blendComparer(x, benchBlend).compare(mock, real)
		}
	})
}
