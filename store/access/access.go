// Package access is the one authorization contract of the three MockOps
// admin APIs (pipelines, federations, coverage) and their pages: a host
// writes one Authorizer, told the resource, the action and the workspace
// of every request, and hands it to each package's HandlerConfig.
//
// It lives under store because that is the lowest layer every admin API
// already imports, and because what it guards are the store's records
// (pipelines, executions, federations, shared state, coverage rollups): a
// package of its own at the top level would sit in no layer of DESIGN.md.
// It imports nothing of MockOps.
package access

import (
	"errors"
	"fmt"
	"net/http"
)

// Resource names the kind of thing a request touches.
type Resource string

// The resources of the admin APIs.
const (
	Pipelines   Resource = "pipelines"
	Executions  Resource = "executions"
	Federations Resource = "federations"
	Scenarios   Resource = "scenarios"
	State       Resource = "state"
	Coverage    Resource = "coverage"
)

// Action is what a request does to its resource. The three are ordered:
// whoever may Write may Operate, whoever may Operate may Read (RoleAuthorizer
// applies that order; an Authorizer of a host may not).
type Action string

const (
	// Read lists, gets, dry-runs and reports: nothing changes.
	Read Action = "read"
	// Operate acts on what exists without changing any definition:
	// trigger or cancel an execution, switch a service's reality,
	// activate a scenario, write shared state.
	Operate Action = "operate"
	// Write creates, replaces or deletes a definition.
	Write Action = "write"
)

// Request is what an Authorizer decides on.
type Request struct {
	Resource  Resource
	Action    Action
	Workspace string // "" when the resource is not scoped to one workspace
	Name      string // the pipeline, execution, federation, ... when one is named
}

func (r Request) String() string {
	s := string(r.Action) + " " + string(r.Resource)
	if r.Name != "" {
		s += " " + r.Name
	}
	if r.Workspace != "" {
		s += " in workspace " + r.Workspace
	}
	return s
}

// An Authorizer decides one request of an admin API. It returns nil to
// allow it, an error wrapping ErrUnauthenticated for a caller it does not
// know (401) and any other error to deny (403). The error's text is not
// shown to the caller, so it may say why for the host's logs.
type Authorizer interface {
	Authorize(r *http.Request, req Request) error
}

// AuthorizerFunc adapts a function to an Authorizer.
type AuthorizerFunc func(r *http.Request, req Request) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(r *http.Request, req Request) error { return f(r, req) }

// Sentinel errors an Authorizer returns (wrapped or not).
var (
	ErrDenied          = errors.New("access: denied")
	ErrUnauthenticated = errors.New("access: unauthenticated")
)

// ReadOnly allows every Read and denies everything else: what a handler
// whose config names no Authorizer does, so an admin API mounted without
// thought shows data but changes nothing.
var ReadOnly Authorizer = AuthorizerFunc(func(_ *http.Request, req Request) error {
	if req.Action == Read {
		return nil
	}
	return fmt.Errorf("%w: %s needs an Authorizer in the handler's config", ErrDenied, req)
})

// AllowAll allows every request. It is for tests and single-user local
// setups; say so where it is used.
var AllowAll Authorizer = AuthorizerFunc(func(*http.Request, Request) error { return nil })

// Check runs a (ReadOnly when nil) on req and returns the HTTP status to
// answer when it denies: 0 when allowed, 401 or 403 otherwise. A panicking
// Authorizer denies (403) rather than failing open; the panic value is
// returned in the error for the host's logs.
func Check(a Authorizer, r *http.Request, req Request) (status int, err error) {
	if a == nil {
		a = ReadOnly
	}
	defer func() {
		if v := recover(); v != nil {
			status, err = http.StatusForbidden, fmt.Errorf("%w: authorizer panicked: %v", ErrDenied, v)
		}
	}()
	switch err := a.Authorize(r, req); {
	case err == nil:
		return 0, nil
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, err
	default:
		return http.StatusForbidden, err
	}
}
