package pipeline_test

import (
	"context"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// TestHandlerCrossOrigin checks that a browser request from another site
// cannot change anything through the admin API, even for a caller whose
// browser holds credentials (basic auth, cookies) the Authorizer accepts:
// a form needs no JavaScript to POST a cancel, and a no-cors fetch sends a
// body without a Content-Type, which the API reads as JSON. Requests
// without browser headers (API clients) and same-origin ones pass.
func TestHandlerCrossOrigin(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"cross-site form", []string{"Sec-Fetch-Site: cross-site", "Content-Type: application/x-www-form-urlencoded"}, 403},
		{"other origin", []string{"Origin: https://evil.example"}, 403},
		{"same origin", []string{"Sec-Fetch-Site: same-origin"}, 200},
		{"api client", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, apiOptions{cfg: pipeline.HandlerConfig{Authorizer: access.AllowAll}})
			a.put(payDef)
			id, err := a.eng.Trigger(context.Background(), "pay", events.Event{})
			if err != nil {
				t.Fatal(err)
			}
			a.do(req{method: "POST", path: "/api/v2/executions/" + id + "/cancel", headers: tt.headers}).want(tt.status)
			x, err := a.st.GetExecution(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if cancelled := x.Status == store.StatusCancelled || x.CancelRequested; cancelled != (tt.status == 200) {
				t.Errorf("status %s, cancel requested %v after a %d", x.Status, x.CancelRequested, tt.status)
			}
		})
	}
}
