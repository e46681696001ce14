package coverage

import (
	"net/url"
	"testing"
)

// TestEscapedPath checks that Middleware's shortcut gives what
// url.URL.EscapedPath gives, for every byte in a path and for paths with
// a RawPath.
func TestEscapedPath(t *testing.T) {
	var urls []*url.URL
	for b := range 256 {
		urls = append(urls, &url.URL{Path: "/a" + string([]byte{byte(b)}) + "z/b"})
	}
	for _, raw := range []struct{ path, raw string }{
		{"/a b", "/a%20b"},
		{"/a/b", "/a%2Fb"},
		{"/a/b", "/a/b"},
		{"*", ""},
		{"", ""},
		{"/é", ""},
	} {
		urls = append(urls, &url.URL{Path: raw.path, RawPath: raw.raw})
	}
	for _, u := range urls {
		if got, want := escapedPath(u), u.EscapedPath(); got != want {
			t.Errorf("escapedPath(%q, raw %q) = %q; want %q", u.Path, u.RawPath, got, want)
		}
	}
}
