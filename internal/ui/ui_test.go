package ui

import (
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "—"}, {-time.Second, "—"}, {250 * time.Microsecond, "250µs"}, {12 * time.Millisecond, "12ms"},
		{1234 * time.Millisecond, "1.2s"}, {3*time.Minute + 4*time.Second, "3m04s"}, {2*time.Hour + 5*time.Minute, "2h05m"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 1, 2, 3, 0, time.FixedZone("X", 3600))
	half := 0.975
	tests := []struct {
		name, got, want string
	}{
		{"when", When(t0), "2026-12-02 00:02:03Z"},
		{"when zero", When(time.Time{}), "—"},
		{"iso", ISO(t0), "2026-12-02T00:02:03Z"},
		{"iso zero", ISO(time.Time{}), ""},
		{"span", Span(t0, t0.Add(1500*time.Millisecond)), "1.5s"},
		{"span unknown", Span(time.Time{}, t0), "—"},
		{"percent", Percent(&half), "97.5%"},
		{"percent nil", Percent(nil), "—"},
		{"json raw", PrettyJSON(json.RawMessage(`{"a":1}`)), "{\n  \"a\": 1\n}"},
		{"json not json", PrettyJSON([]byte(`nope`)), "nope"},
		{"json null", PrettyJSON(json.RawMessage(`null`)), ""},
		{"json value", PrettyJSON(map[string]int{"b": 2}), "{\n  \"b\": 2\n}"},
		{"query", Query("/x", "a", "1", "b", "", "c", "d e"), "/x?a=1&c=d+e"},
		{"query empty", Query("/x", "a", ""), "/x"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q; want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestBadge(t *testing.T) {
	tests := []struct {
		status, tone, symbol string
	}{
		{"succeeded", "ok", "✓"}, {"failed", "fail", "✗"}, {"timed_out", "fail", "✗"}, {"running", "run", "◷"},
		{"cancelled", "warn", "⊘"}, {"whatever", "none", "•"}, {"<b>", "none", "•"},
	}
	for _, tt := range tests {
		got := string(Badge(tt.status))
		if !strings.Contains(got, `b-`+tt.tone+`"`) || !strings.Contains(got, tt.symbol) {
			t.Errorf("Badge(%q) = %s; want tone %s and symbol %s", tt.status, got, tt.tone, tt.symbol)
		}
		// The status is always in words, never colour alone, and escaped.
		if !strings.Contains(got, template.HTMLEscapeString(tt.status)+"</span>") {
			t.Errorf("Badge(%q) = %s; want the status in words", tt.status, got)
		}
	}
}

func TestWantsProblem(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"application/json", true},
		{"application/problem+json", true},
		{"text/html;q=0.5, application/json", true},
		{"application/json;q=0.1, text/html", false},
		{"*/*", false},
		{"garbage;;;", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", tt.accept)
		if got := WantsProblem(r); got != tt.want {
			t.Errorf("WantsProblem(Accept: %q) = %v; want %v", tt.accept, got, tt.want)
		}
	}
}

func TestBuilder(t *testing.T) {
	var b Builder
	b.Raw("<p")
	b.Attr("title", `"x" & <y>`)
	b.Raw(`><a href="`)
	b.URL("javascript:alert(1)")
	b.Raw(`">`)
	b.Text("<script>")
	b.Raw(`</a><a href="`)
	b.URL("/ui/x?a=1&b=2")
	b.Raw(`"></a></p>`)
	want := `<p title="&#34;x&#34; &amp; &lt;y&gt;"><a href="#">&lt;script&gt;</a><a href="/ui/x?a=1&amp;b=2"></a></p>`
	if got := string(b.HTML()); got != want {
		t.Errorf("Builder wrote\n%s\nwant\n%s", got, want)
	}
	for u, ok := range map[string]bool{"/a": true, "?q=1": true, "#f": true, "https://x": true, "HTTP://x": true,
		"a/b:c": true, "javascript:x": false, "data:text/html,x": false, " javascript:x": false} {
		if got := SafeURL(u); got != ok {
			t.Errorf("SafeURL(%q) = %v; want %v", u, got, ok)
		}
	}
}

var testPages = fstest.MapFS{
	"p/_parts.html": {Data: []byte(`{{define "hello"}}hello {{.}}{{end}}`)},
	"p/ok.html":     {Data: []byte(`{{define "content"}}<h1>{{template "hello" .Name}}</h1>{{end}}`)},
	"p/bad.html":    {Data: []byte(`{{define "content"}}{{.Missing.Field}}{{end}}`)},
}

func newTestRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := New(Config{Nav: []NavItem{{Label: "One", Path: "/one"}, {Label: "Two", Path: "/two"}}}, testPages, "p/*.html")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRender(t *testing.T) {
	r := newTestRenderer(t)
	w := httptest.NewRecorder()
	r.Render(w, httptest.NewRequest("GET", "/one", nil), http.StatusAccepted, "ok", Page{Title: "T", Current: "/one", Refresh: 3, Flash: "done"}, struct{ Name string }{"<world>"})
	body := w.Body.String()
	if w.Code != http.StatusAccepted || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("Render = %d %q; want 202 text/html", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{`<html lang="en">`, "<title>T · MockOps</title>", `<a class="skip" href="#main">`,
		`<nav aria-label="Main">`, `<a href="/one" aria-current="page">One</a>`, `<a href="/two">Two</a>`,
		`<main id="main"`, "<h1>hello &lt;world&gt;</h1>", `<meta http-equiv="refresh" content="3">`, `role="status">done<`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

// A template that fails midway never sends half a page with 200.
func TestRenderFailure(t *testing.T) {
	r := newTestRenderer(t)
	for _, name := range []string{"bad", "missing"} {
		w := httptest.NewRecorder()
		r.Render(w, httptest.NewRequest("GET", "/", nil), http.StatusOK, name, Page{Title: "T"}, struct{ Name string }{"x"})
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "<h1>Internal Server Error</h1>") {
			t.Errorf("Render(%s) = %d\n%s; want the 500 error page", name, w.Code, w.Body.String())
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
	}{
		{"syntax", fstest.MapFS{"a.html": {Data: []byte(`{{define "content"}}{{.X`)}}},
		{"no content", fstest.MapFS{"a.html": {Data: []byte(`hello`)}}},
		{"bad partial", fstest.MapFS{"_a.html": {Data: []byte(`{{end}}`)}}},
	}
	for _, tt := range tests {
		if _, err := New(Config{}, tt.fs, "*.html"); err == nil {
			t.Errorf("New(%s) = nil error; want one", tt.name)
		}
	}
	if _, err := New(Config{}, fstest.MapFS{}, "[("); err == nil {
		t.Error("New with a bad pattern = nil error")
	}
}

func TestError(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct {
		accept, wantType string
	}{
		{"text/html", "text/html; charset=utf-8"},
		{"application/json", "application/problem+json"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Accept", tt.accept)
		r.Error(w, req, http.StatusNotFound, "no <such> thing")
		if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != tt.wantType {
			t.Errorf("Error(Accept %s) = %d %q; want 404 %s", tt.accept, w.Code, w.Header().Get("Content-Type"), tt.wantType)
		}
		if !strings.Contains(w.Body.String(), "no ") || strings.Contains(w.Body.String(), "<such>") {
			t.Errorf("Error body = %s; want the detail, escaped", w.Body.String())
		}
	}
}

func TestProtect(t *testing.T) {
	r := newTestRenderer(t)
	h, err := r.Protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }), "https://trusted.example")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method string
		hdr          map[string]string
		want         int
	}{
		{"get cross-site", "GET", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusNoContent},
		{"post cross-site", "POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"post same-site sibling", "POST", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"post same-origin", "POST", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusNoContent},
		{"post foreign origin", "POST", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"post own origin", "POST", map[string]string{"Origin": "http://example.com"}, http.StatusNoContent},
		{"post trusted origin", "POST", map[string]string{"Origin": "https://trusted.example", "Sec-Fetch-Site": "cross-site"}, http.StatusNoContent},
		{"post no browser headers", "POST", nil, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://example.com/x", nil)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("%s = %d; want %d", tt.name, w.Code, tt.want)
			}
		})
	}
	if _, err := r.Protect(http.NotFoundHandler(), "not an origin"); err == nil {
		t.Error("Protect with a malformed trusted origin = nil error")
	}
}

func TestMountPrefix(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "/ui", true},
		{"/", "/ui", true},
		{"/admin/", "/admin", true},
		{"/a/b", "/a/b", true},
		{"admin", "admin", false},
	}
	for _, tt := range tests {
		if got, ok := MountPrefix(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("MountPrefix(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNavWith(t *testing.T) {
	type pageLink struct {
		Label string
		Path  string // a package's public PageLink
	}
	own := []NavItem{{Label: "A", Path: "/ui/a"}}
	got := NavWith(own, []pageLink{{"Coverage", "/coverage"}})
	want := []NavItem{{"A", "/ui/a"}, {"Coverage", "/coverage"}}
	if !slices.Equal(got, want) {
		t.Errorf("NavWith = %v; want %v", got, want)
	}
	if got := NavWith[pageLink](own, nil); !slices.Equal(got, own) {
		t.Errorf("NavWith without links = %v; want %v", got, own)
	}
}

func TestMux(t *testing.T) {
	r := newTestRenderer(t)
	m := r.NewMux("/admin", "/admin/things")
	m.HandleFunc("GET /things", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "things") })
	m.HandleFunc("POST /things", func(w http.ResponseWriter, req *http.Request) {
		if r.ParseForm(w, req, 1<<10) {
			_, _ = io.WriteString(w, "got "+req.PostFormValue("x"))
		}
	})
	m.HandleFunc("GET /denied", func(w http.ResponseWriter, req *http.Request) {
		r.Denied(w, req, http.StatusForbidden, "write pipelines")
	})
	m.HandleFunc("GET /anonymous", func(w http.ResponseWriter, req *http.Request) {
		r.Denied(w, req, http.StatusUnauthorized, "write pipelines")
	})
	h, err := m.Handler()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, body string
		status             int
		want               string // in the body, or the Location
	}{
		{"GET", "/admin/", "", http.StatusSeeOther, "/admin/things"},
		{"GET", "/admin/things", "", http.StatusOK, "things"},
		{"POST", "/admin/things", "x=1", http.StatusOK, "got 1"},
		{"POST", "/admin/things", "x=" + strings.Repeat("a", 2<<10), http.StatusRequestEntityTooLarge, "larger than 1 KiB"},
		{"POST", "/admin/things", "x=%zz", http.StatusBadRequest, "could not be read"},
		{"GET", "/admin/nothing", "", http.StatusNotFound, "There is no page at this address."},
		{"GET", "/elsewhere", "", http.StatusNotFound, "There is no page at this address."},
		{"GET", "/admin/denied", "", http.StatusForbidden, "You are not allowed to write pipelines."},
		{"GET", "/admin/anonymous", "", http.StatusUnauthorized, "Sign in to see this page."},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		got := w.Body.String()
		if w.Code >= 300 && w.Code < 400 {
			got = w.Header().Get("Location")
		}
		if w.Code != tt.status || !strings.Contains(got, tt.want) {
			t.Errorf("%s %s = %d %q; want %d with %q", tt.method, tt.path, w.Code, got, tt.status, tt.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{1 << 20, "1 MiB"}, {64 << 10, "64 KiB"}, {3 << 30, "3 GiB"}, {1500, "1500 bytes"}}
	for _, tt := range tests {
		if got := byteSize(tt.n); got != tt.want {
			t.Errorf("byteSize(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}
