package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClientErrorWrite(t *testing.T) {
	tests := []struct {
		name string
		e    *ClientError
		want map[string]any
	}{
		{"no positions", &ClientError{Status: http.StatusUnsupportedMediaType, Detail: "malformed Content-Type"},
			map[string]any{"type": "about:blank", "title": "Unsupported Media Type", "status": 415.0, "detail": "malformed Content-Type"}},
		{"positions", &ClientError{Status: http.StatusBadRequest, Detail: "malformed JSON body: x", Problems: []Position{
			{File: "request", Line: 2, Column: 5, Message: "x"},
			{File: "f.yaml", Line: 1, Column: 1, Message: "y", Path: "services[0]"},
		}}, map[string]any{"type": "about:blank", "title": "Bad Request", "status": 400.0, "detail": "malformed JSON body: x",
			"errors": []any{
				map[string]any{"file": "request", "line": 2.0, "column": 5.0, "message": "x"},
				map[string]any{"file": "f.yaml", "line": 1.0, "column": 1.0, "message": "y", "path": "services[0]"},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.e.Error() != tt.e.Detail {
				t.Errorf("Error() = %q; want the detail %q", tt.e.Error(), tt.e.Detail)
			}
			w := httptest.NewRecorder()
			tt.e.Write(w)
			if w.Code != tt.e.Status || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("answered %d %q; want %d application/problem+json", w.Code, w.Header().Get("Content-Type"), tt.e.Status)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}
