package access_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mockops/mockops/store/access"
)

// One authorizer for every admin API: tokens map to workspaces, reads are
// open to every known caller, anything else only in the caller's workspace.
func ExampleAuthorizerFunc() {
	tokens := map[string]string{"Bearer t-payments": "payments"}
	authz := access.AuthorizerFunc(func(r *http.Request, req access.Request) error {
		ws, ok := tokens[r.Header.Get("Authorization")]
		switch {
		case !ok:
			return access.ErrUnauthenticated
		case req.Action == access.Read, req.Workspace == ws:
			return nil
		}
		return fmt.Errorf("%w: caller of %s may not %s", access.ErrDenied, ws, req)
	})

	r := httptest.NewRequest("POST", "/api/v2/pipelines/p/trigger", nil)
	r.Header.Set("Authorization", "Bearer t-payments")
	for _, ws := range []string{"payments", "orders"} {
		status, _ := access.Check(authz, r, access.Request{Resource: access.Pipelines, Action: access.Operate, Name: "p", Workspace: ws})
		fmt.Println(ws, status)
	}
	// Output:
	// payments 0
	// orders 403
}
