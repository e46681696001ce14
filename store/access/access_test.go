package access

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheck(t *testing.T) {
	read := Request{Resource: Pipelines, Action: Read, Workspace: "ws"}
	write := Request{Resource: Pipelines, Action: Write, Name: "p"}
	operate := Request{Resource: Executions, Action: Operate}
	tests := []struct {
		name string
		a    Authorizer
		req  Request
		want int
	}{
		{"nil reads", nil, read, 0},
		{"nil denies writes", nil, write, http.StatusForbidden},
		{"nil denies operate", nil, operate, http.StatusForbidden},
		{"allow all", AllowAll, write, 0},
		{"unauthenticated", AuthorizerFunc(func(*http.Request, Request) error {
			return fmt.Errorf("no token: %w", ErrUnauthenticated)
		}), read, http.StatusUnauthorized},
		{"other error denies", AuthorizerFunc(func(*http.Request, Request) error {
			return errors.New("nope")
		}), read, http.StatusForbidden},
		{"panic denies", AuthorizerFunc(func(*http.Request, Request) error { panic("bug") }), read, http.StatusForbidden},
	}
	r := httptest.NewRequest("GET", "/", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(tt.a, r, tt.req)
			if got != tt.want {
				t.Fatalf("Check = %d, %v; want %d", got, err, tt.want)
			}
			if (got == 0) != (err == nil) {
				t.Fatalf("status %d with error %v", got, err)
			}
		})
	}
}

func TestRequestString(t *testing.T) {
	got := Request{Resource: Federations, Action: Operate, Name: "shop", Workspace: "ws"}.String()
	if want := "operate federations shop in workspace ws"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}
