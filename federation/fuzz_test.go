package federation

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fuzzYAML has no root route, so "no service matches" is a reachable
// outcome, and prefixes that share text but not segments.
const fuzzYAML = `name: fuzz
services:
  - {name: api, base_path: /api, reality: mock_v3}
  - {name: apix, base_path: /apix, reality: mock_v3}
  - {name: admin, base_path: /api/admin, reality: mock_v3, strip_prefix: true}
  - {name: enc, base_path: "/a%2Fb", reality: mock_v3}
  - {name: dots, base_path: /x.y, reality: mock_v3}
`

// refSegments is an independent, naive reading of a path: split on '/',
// decode each segment, drop empty and "." segments, pop on "..".
func refSegments(p string) ([]string, bool) {
	if p == "" {
		return nil, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	var segs []string
	for _, s := range strings.Split(p[1:], "/") {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		switch d {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, d)
		}
	}
	return segs, true
}

func hasSegs(segs, prefix []string) bool {
	if len(prefix) > len(segs) {
		return false
	}
	for i := range prefix {
		if segs[i] != prefix[i] {
			return false
		}
	}
	return true
}

// FuzzRoute checks that a request never reaches a service whose prefix it
// does not have (after cleaning), that the longest such prefix wins, that
// the forwarded path is the cleaned request path (minus the prefix when
// stripped), and that nothing panics.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"/api", "/apix/y", "/api/admin/x", "/api/../apix", "/a%2Fb/c", "/a/b",
		"//api", "/api/%2e%2e/apix", "/x.y/../api/admin", "/%", "/api%2F..%2Fadmin", "", "*", "/api/admin/..",
		"/api/.%2E/apix", `/api\..\apix`, "/api/%zz", strings.Repeat("/x", 40) + strings.Repeat("/..", 40) + "/api/admin/y"} {
		f.Add(s)
	}
	fed, err := Parse("fuzz.yaml", []byte(fuzzYAML))
	if err != nil {
		f.Fatal(err)
	}
	prefixes := map[string][]string{}
	strip := map[string]bool{}
	for _, s := range fed.Services {
		segs, _ := refSegments(s.BasePath)
		prefixes[s.Name] = segs
		strip[s.Name] = s.StripPrefix
	}
	r, err := NewRouter(fed, RouterConfig{Mocks: &echoMocks{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })

	f.Fuzz(func(t *testing.T, p string) {
		rt, ok := r.Lookup("GET", "", p)
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		segs, valid := refSegments(p)
		// The longest prefix the reference reading of the path has.
		best, bestLen := "", -1
		for name, pre := range prefixes {
			if hasSegs(segs, pre) && len(pre) > bestLen {
				best, bestLen = name, len(pre)
			}
		}
		if !valid {
			if ok {
				t.Fatalf("Lookup(%q) routed a malformed path to %s", p, rt.Service)
			}
			return
		}
		if !ok {
			if best != "" {
				t.Fatalf("Lookup(%q) found nothing; %s has a matching prefix", p, best)
			}
			return
		}
		if !hasSegs(segs, prefixes[rt.Service]) {
			t.Fatalf("Lookup(%q) = %s whose prefix %v the path %v does not have", p, rt.Service, prefixes[rt.Service], segs)
		}
		if rt.Service != best {
			t.Fatalf("Lookup(%q) = %s; the longest matching prefix is %s's", p, rt.Service, best)
		}
		fwd, fok := refSegments(rt.RawPath)
		want := segs
		if strip[rt.Service] {
			want = segs[len(prefixes[rt.Service]):]
		}
		if !fok || strings.Join(fwd, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("Lookup(%q) forwards %q (%v); want segments %v", p, rt.RawPath, fwd, want)
		}
		// The same path through ServeHTTP reaches the same mock.
		u, err := url.ParseRequestURI(p)
		if err != nil || u.EscapedPath() != p {
			return // not a request target net/http would hand over as is
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL, req.RequestURI = u, p
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %q = %d; want 200 from %s", p, w.Code, rt.Service)
		}
		if e := decodeEcho(t, w.Body.Bytes()); e.Service != rt.Service || e.RawPath != rt.RawPath {
			t.Fatalf("GET %q reached %s at %q; Lookup said %s at %q", p, e.Service, e.RawPath, rt.Service, rt.RawPath)
		}
	})
}
