package problem

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		p    Details
		code int
		want map[string]any
	}{
		{"blank", New(http.StatusNotFound, "no service for /x"), 404,
			map[string]any{"type": "about:blank", "title": "Not Found", "status": 404.0, "detail": "no service for /x"}},
		{"extensions", New(http.StatusBadGateway, "upstream refused").With("service", "auth").With("status", 1), 502,
			map[string]any{"type": "about:blank", "title": "Bad Gateway", "status": 502.0, "detail": "upstream refused", "service": "auth"}},
		{"custom", Details{Type: "https://mockops.dev/problems/loop", Title: "Loop detected", Status: 508, Instance: "/a"}, 508,
			map[string]any{"type": "https://mockops.dev/problems/loop", "title": "Loop detected", "status": 508.0, "instance": "/a"}},
		{"zero status", Details{}, 500,
			map[string]any{"type": "about:blank", "title": "Internal Server Error", "status": 500.0}},
		{"bad extension", New(400, "x").With("f", func() {}), 400,
			map[string]any{"type": "about:blank", "title": "Bad Request", "status": 400.0, "detail": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Length", "12")
			Write(rec, tt.p)
			if rec.Code != tt.code {
				t.Errorf("status = %d; want %d", rec.Code, tt.code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != ContentType {
				t.Errorf("Content-Type = %q; want %q", ct, ContentType)
			}
			if cl := rec.Header().Get("Content-Length"); cl != "" {
				t.Errorf("stale Content-Length %q kept", cl)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func ExampleWrite() {
	rec := httptest.NewRecorder()
	Write(rec, New(http.StatusForbidden, "workspace payments is not yours").With("service", "payments"))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body.String())
	// Output:
	// 403 application/problem+json
	// {"detail":"workspace payments is not yours","service":"payments","status":403,"title":"Forbidden","type":"about:blank"}
}
