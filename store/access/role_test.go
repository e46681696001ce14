package access

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRoleAuthorizer(t *testing.T) {
	a := &RoleAuthorizer{Roles: map[string]map[string]Role{
		"ann": {AnyWorkspace: Viewer, "payments": Admin},
		"bob": {"orders": Operator},
	}}
	tests := []struct {
		user string
		req  Request
		want int
	}{
		{"ann", Request{Action: Read, Workspace: "orders"}, 0},
		{"ann", Request{Action: Read}, 0},
		{"ann", Request{Action: Write, Workspace: "payments"}, 0},
		{"ann", Request{Action: Operate, Workspace: "orders"}, http.StatusForbidden},
		{"ann", Request{Action: Write}, http.StatusForbidden},
		{"bob", Request{Action: Operate, Workspace: "orders"}, 0},
		{"bob", Request{Action: Write, Workspace: "orders"}, http.StatusForbidden},
		{"bob", Request{Action: Read, Workspace: "payments"}, http.StatusForbidden},
		{"bob", Request{Action: Read}, http.StatusForbidden},
		{"carl", Request{Action: Read, Workspace: "orders"}, http.StatusForbidden},
		{"", Request{Action: Read}, http.StatusUnauthorized},
		{"ann", Request{Action: "delete-everything", Workspace: "payments"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.user != "" {
			r.SetBasicAuth(tt.user, "x")
		}
		if got, err := Check(a, r, tt.req); got != tt.want {
			t.Errorf("%s %s: Check = %d (%v); want %d", tt.user, tt.req, got, err, tt.want)
		}
	}
}

func TestRoleAuthorizerLookup(t *testing.T) {
	boom := errors.New("directory down")
	a := &RoleAuthorizer{
		Principal: func(r *http.Request) (string, error) { return r.Header.Get("X-User"), nil },
		Lookup: func(_ context.Context, who, ws string) (Role, error) {
			switch {
			case ws == "broken":
				return Admin, boom
			case who == "ops" && ws == "orders":
				return Operator, nil
			}
			return NoRole, nil
		},
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-User", "ops")
	if got, err := Check(a, r, Request{Action: Operate, Workspace: "orders"}); got != 0 {
		t.Errorf("operator in orders: %d %v", got, err)
	}
	if got, err := Check(a, r, Request{Action: Read, Workspace: "broken"}); got != http.StatusForbidden || !errors.Is(err, boom) {
		t.Errorf("lookup error: %d %v; want 403 wrapping it", got, err)
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range []Role{NoRole, Viewer, Operator, Admin} {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r, got, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) succeeded")
	}
	if s := Role(9).String(); s != "Role(9)" {
		t.Errorf("Role(9) = %q", s)
	}
}
