package federation

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// FuzzHandlerBodies sends arbitrary bodies, media types and preconditions
// to the routes that parse them: the API must answer a client error or a
// success, never a 500 or a panic, and every positioned problem must
// point inside the body.
func FuzzHandlerBodies(f *testing.F) {
	f.Add("PUT /api/v2/federations/shop", "application/yaml", "name: shop\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n", "")
	f.Add("PUT /api/v2/federations/shop", "application/json", `{"source": "name: shop"}`, `"1"`)
	f.Add("POST /api/v2/federations", "", `{"source": 3}`, "")
	f.Add("POST /api/v2/federations/shop/route", "", `{"method": "CONNECT", "path": "/a/../b%2F"}`, "")
	f.Add("PUT /api/v2/federations/shop/services/a/reality", "", `{"reality": "blended"}`, "")
	f.Add("PUT /api/v2/federations/shop/state/k", "application/json", `{"a": [1, 2, {"b": null}]}`, `W/"7"`)
	f.Add("DELETE /api/v2/federations/shop/state/k", "", ``, `*`)
	reg, err := NewRegistry(context.Background(), RegistryConfig{Store: memory.New(), Router: RouterConfig{Mocks: &echoMocks{}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { reg.Close() })
	if _, err := reg.Put(context.Background(), "shop", []byte("name: shop\nservices:\n  - {name: a, base_path: /a, reality: mock_v3}\n"), 0); err != nil {
		f.Fatal(err)
	}
	h := NewHandler(reg, HandlerConfig{Authorizer: access.AllowAll, MaxBodyBytes: 4096})
	f.Fuzz(func(t *testing.T, route, ct, body, ifMatch string) {
		method, path, ok := strings.Cut(route, " ")
		if !ok || !strings.HasPrefix(path, "/api/v2/federations") || strings.ContainsAny(path, " \r\n\t?#") {
			return
		}
		req, err := http.NewRequest(method, "http://api.test"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		if ct != "" {
			req.Header["Content-Type"] = []string{ct}
		}
		if ifMatch != "" {
			req.Header["If-Match"] = []string{ifMatch}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s (%q, If-Match %q) with %q = %d %s", method, path, ct, ifMatch, body, rec.Code, rec.Body)
		}
	})
}

// FuzzDecodeJSON checks the positions of JSON body errors.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"path": "/"}`, "{\n\"path\": }", `{"path": "/"} x`, `[`, "", `{"bogus": 1}`, "\n\n{\"method\": 3}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in routeRequest
		err := decodeJSON([]byte(body), &in)
		if err == nil {
			return
		}
		var br *problem.ClientError
		if !errors.As(err, &br) || br.Status != http.StatusBadRequest {
			t.Fatalf("decodeJSON(%q) = %v; want a 400 problem.ClientError", body, err)
		}
		lines := strings.Count(body, "\n") + 1
		for _, p := range br.Problems {
			if p.Line < 1 || p.Line > lines || p.Column < 1 {
				t.Fatalf("decodeJSON(%q): problem at %d:%d outside the body", body, p.Line, p.Column)
			}
		}
	})
}
