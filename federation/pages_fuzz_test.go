package federation

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mockops/mockops/store/access"
)

// FuzzPages sends arbitrary paths, queries and forms to the pages: every
// answer is a complete page with a status below 500 (the fixture's store
// and activator do not fail), and nothing panics.
func FuzzPages(f *testing.F) {
	for _, seed := range []struct{ method, target, form string }{
		{"GET", "/ui/federations/shop/route?path=/orders/1&method=GET", ""},
		{"GET", "/ui/federations/shop/route?path=%2e%2e/%2Forders&host=x", ""},
		{"GET", "/ui/federations/shop/state?prefix=users/", ""},
		{"GET", "/ui/federations/shop/state/a%2Fb/../c", ""},
		{"GET", "/ui/federations/shop/services/%3Cscript%3E", ""},
		{"POST", "/ui/federations/shop/services/orders/reality", "reality=real"},
		{"POST", "/ui/federations/shop/services/orders/reality", "reality=%00&reality=mock_v3"},
		{"POST", "/ui/federations/shop/scenarios/outage/activate", "confirm=yes"},
		{"POST", "/ui/federations/shop/scenarios/deactivate", "confirm=yes&confirm=no"},
		{"GET", "/ui/federations/shop/scenarios/%E2%9C%93/activate", ""},
	} {
		f.Add(seed.method, seed.target, seed.form)
	}
	fx := newPagesFixture(f, access.AllowAll)
	f.Fuzz(func(t *testing.T, method, target, form string) {
		if method != "GET" && method != "POST" {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		req := httptest.NewRequest(method, "/", strings.NewReader(form))
		req.URL, req.RequestURI = u, target
		if method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		fx.pages.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s (form %q) = %d\n%s", method, target, form, w.Code, w.Body)
		}
		if w.Code == http.StatusOK && !strings.HasSuffix(strings.TrimSpace(w.Body.String()), "</html>") {
			t.Fatalf("%s %s: a 200 with an incomplete page", method, target)
		}
	})
}
