package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServeMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("GET /dir/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	short := func(s string) string { return s[:min(len(s), 8)] }
	tests := []struct {
		name, method, path string
		show               func(string) string
		status             int
		detail, allow, loc string
	}{
		{"routed", "GET", "/things/1", nil, http.StatusTeapot, "", "", ""},
		{"no route", "GET", "/nothing", nil, http.StatusNotFound, "no route for GET /nothing", "", ""},
		{"no route, clipped", "GET", "/nothing/at/all", short, http.StatusNotFound, "no route for GET /nothing", "", ""},
		{"wrong method", "DELETE", "/things/1", nil, http.StatusMethodNotAllowed, "method DELETE is not allowed on /things/1", "GET, HEAD", ""},
		{"redirect to the cleaned path", "GET", "/x/../nothing", nil, http.StatusTemporaryRedirect, "", "", "/nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ServeMux(mux, w, httptest.NewRequest(tt.method, tt.path, nil), tt.show)
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q; want %q", got, tt.allow)
			}
			if got := w.Header().Get("Location"); got != tt.loc {
				t.Errorf("Location = %q; want %q", got, tt.loc)
			}
			if tt.loc != "" && w.Body.Len() > 0 {
				t.Errorf("redirect body = %q; want none", w.Body.String())
			}
			if tt.detail == "" {
				return
			}
			var p struct{ Detail string }
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Header().Get("Content-Type") != ContentType {
				t.Fatalf("body %q (%v), Content-Type %q; want a problem", w.Body, err, w.Header().Get("Content-Type"))
			}
			if p.Detail != tt.detail {
				t.Errorf("detail = %q; want %q", p.Detail, tt.detail)
			}
		})
	}
}

func TestDenied(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{http.StatusForbidden, "not allowed to write pipelines"},
		{http.StatusUnauthorized, "authentication required to write pipelines"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		Denied(w, tt.status, "write", "pipelines")
		if w.Code != tt.status || !strings.Contains(w.Body.String(), `"detail":"`+tt.want+`"`) {
			t.Errorf("Denied(%d) = %d %s; want detail %q", tt.status, w.Code, w.Body, tt.want)
		}
	}
}
