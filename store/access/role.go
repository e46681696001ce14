package access

import (
	"context"
	"fmt"
	"net/http"
)

// Role is what a principal may do in a workspace. Roles are ordered: each
// allows what the one below it does.
type Role int

const (
	// NoRole allows nothing.
	NoRole Role = iota
	// Viewer reads: lists, details, dry runs, reports.
	Viewer
	// Operator also acts on what exists: trigger, cancel, switch a
	// reality, activate a scenario, write shared state.
	Operator
	// Admin also creates, replaces and deletes definitions.
	Admin
)

var roleNames = [...]string{NoRole: "none", Viewer: "viewer", Operator: "operator", Admin: "admin"}

func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("Role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole reads a role's name as String writes it.
func ParseRole(s string) (Role, error) {
	for r, name := range roleNames {
		if s == name {
			return Role(r), nil
		}
	}
	return NoRole, fmt.Errorf("access: unknown role %q (want viewer, operator or admin)", s)
}

// Allows reports whether r permits a.
func (r Role) Allows(a Action) bool {
	switch a {
	case Read:
		return r >= Viewer
	case Operate:
		return r >= Operator
	case Write:
		return r >= Admin
	}
	return false
}

// AnyWorkspace is the workspace key of a role that holds in every
// workspace, and the only one that holds for requests scoped to none
// (listing everything, say).
const AnyWorkspace = "*"

// RoleAuthorizer is role-based access control per workspace: it finds the
// caller with Principal, the caller's role in the request's workspace with
// Lookup (or the static Roles), and allows the request when that role
// allows its action. The role in AnyWorkspace counts in every workspace;
// a request with no workspace needs it.
type RoleAuthorizer struct {
	// Principal names the caller of r; "" (or an error) answers 401. Nil
	// reads the user of HTTP basic authentication, which suits only a
	// proxy in front that checked the password.
	Principal func(r *http.Request) (string, error)
	// Roles maps principal -> workspace (or AnyWorkspace) -> role. Used
	// when Lookup is nil.
	Roles map[string]map[string]Role
	// Lookup, when set, gives the role of principal in workspace (called
	// with AnyWorkspace too); errors deny.
	Lookup func(ctx context.Context, principal, workspace string) (Role, error)
}

// Authorize implements Authorizer.
func (a *RoleAuthorizer) Authorize(r *http.Request, req Request) error {
	who, err := a.principal(r)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if who == "" {
		return ErrUnauthenticated
	}
	role, err := a.role(r.Context(), who, req.Workspace)
	if err != nil {
		return fmt.Errorf("%w: role of %s: %w", ErrDenied, who, err)
	}
	if !role.Allows(req.Action) {
		return fmt.Errorf("%w: %s is %s, which may not %s", ErrDenied, who, role, req)
	}
	return nil
}

func (a *RoleAuthorizer) principal(r *http.Request) (string, error) {
	if a.Principal != nil {
		return a.Principal(r)
	}
	user, _, _ := r.BasicAuth()
	return user, nil
}

// role is the higher of the principal's role in AnyWorkspace and in ws.
func (a *RoleAuthorizer) role(ctx context.Context, who, ws string) (Role, error) {
	lookup := a.Lookup
	if lookup == nil {
		lookup = func(_ context.Context, who, ws string) (Role, error) { return a.Roles[who][ws], nil }
	}
	global, err := lookup(ctx, who, AnyWorkspace)
	if err != nil || ws == "" || ws == AnyWorkspace {
		return global, err
	}
	local, err := lookup(ctx, who, ws)
	return max(global, local), err
}
