package pipeline_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// TestPagesRunWorkspace: running a scoped pipeline by hand gives the event
// the pipeline's workspace when the form names none, and refuses (422) an
// event of another workspace, as the JSON API's trigger does; otherwise an
// operator of one workspace could raise, through the steps' emitted
// events, the pipelines of a workspace it may not operate.
func TestPagesRunWorkspace(t *testing.T) {
	authz := roles()
	authz.Roles["pay-operator"] = map[string]access.Role{"payments": access.Operator}
	f := newPagesFixture(t, authz)
	tests := []struct {
		name, workspace string
		status          int
		want            string // the executed event's workspace
	}{
		{"no workspace", "", http.StatusSeeOther, "payments"},
		{"its workspace", "payments", http.StatusSeeOther, "payments"},
		{"another workspace", "orders", http.StatusUnprocessableEntity, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.count(t)
			status, loc, body := f.do(t, "POST", "/ui/pipelines/build/run", "pay-operator",
				url.Values{"type": {"schema.changed"}, "workspace": {tt.workspace}, "data": {`{"schema_type":"grpc"}`}})
			if status != tt.status {
				t.Fatalf("POST run = %d %q; want %d\n%s", status, loc, tt.status, body)
			}
			if tt.status != http.StatusSeeOther {
				if n := f.count(t); n != before {
					t.Errorf("%d executions after a refused run; want %d", n, before)
				}
				return
			}
			x := f.wait(strings.TrimSuffix(strings.TrimPrefix(loc, "/ui/executions/"), "?done=triggered"))
			if x.Event.Workspace != tt.want {
				t.Errorf("event workspace %q; want %q", x.Event.Workspace, tt.want)
			}
		})
	}
}

// count is how many executions build has.
func (f *pagesFixture) count(t *testing.T) int {
	t.Helper()
	page, err := f.eng.Executions(context.Background(), store.ExecutionQuery{Pipeline: "build", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Executions)
}

// TestPagesPipelineRuns: the pipeline pages list a pipeline's runs only to
// a caller who may read those executions, each in its own workspace (an
// unscoped pipeline's are its events'), as the executions list does.
func TestPagesPipelineRuns(t *testing.T) {
	// Pipelines may be read everywhere, executions only in payments.
	authz := access.AuthorizerFunc(func(_ *http.Request, req access.Request) error {
		if req.Action == access.Read && (req.Resource == access.Pipelines || req.Workspace == "payments") {
			return nil
		}
		return access.ErrDenied
	})
	f := newPagesFixture(t, authz)
	ev := schemaEvent(t)
	ev.Type = "build.done"
	shown := f.trigger("follow", ev) // workspace payments
	ev = schemaEvent(t)
	ev.Type = "build.done"
	ev.Workspace = "orders"
	hidden := f.trigger("follow", ev) // unscoped: the event's workspace; the newest
	for _, path := range []string{"/ui/pipelines/follow", "/ui/pipelines"} {
		status, _, body := f.do(t, "GET", path, "", nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d\n%s", path, status, body)
		}
		if strings.Contains(body, hidden.ID) {
			t.Errorf("%s shows execution %s of workspace orders", path, hidden.ID)
		}
		if path == "/ui/pipelines/follow" && !strings.Contains(body, shown.ID) {
			t.Errorf("%s leaves out execution %s of workspace payments", path, shown.ID)
		}
	}
}

// TestPagesMissingPipeline: a name that is not stored is decided as
// unscoped before the 404, as the JSON API does, on every page that names
// a pipeline: who may not act learns nothing, not even that it is missing.
func TestPagesMissingPipeline(t *testing.T) {
	f := newPagesFixture(t, roles())
	tests := []struct {
		method, path, user string
		status             int
	}{
		{"GET", "/ui/pipelines/nope", "", http.StatusUnauthorized},
		{"GET", "/ui/pipelines/nope/edit", "", http.StatusUnauthorized},
		{"POST", "/ui/pipelines/nope/edit", "", http.StatusUnauthorized},
		{"POST", "/ui/pipelines/nope/run", "", http.StatusUnauthorized},
		{"POST", "/ui/pipelines/nope/run", "viewer", http.StatusForbidden},
		{"GET", "/ui/pipelines/nope/edit", "viewer", http.StatusNotFound},
		{"POST", "/ui/pipelines/nope/run", "operator", http.StatusNotFound},
	}
	for _, tt := range tests {
		var form url.Values
		if tt.method == "POST" {
			form = url.Values{"source": {buildPipeline}}
		}
		if status, _, body := f.do(t, tt.method, tt.path, tt.user, form); status != tt.status {
			t.Errorf("%s %s as %q = %d; want %d\n%s", tt.method, tt.path, tt.user, status, tt.status, body)
		}
	}
}

// TestPagesExecutionsPipelineNames: the executions list offers, as its
// pipeline filter, only the pipelines the caller may read, as the
// pipelines list shows them: a workspace's pipeline names are not shown
// to a viewer of another.
func TestPagesExecutionsPipelineNames(t *testing.T) {
	authz := roles()
	authz.Roles["pay-viewer"] = map[string]access.Role{"payments": access.Viewer}
	f := newPagesFixture(t, authz)
	f.put(strings.NewReplacer("name: build", "name: orders-secret-plan", "workspace: payments", "workspace: orders").Replace(buildPipeline))
	tests := []struct {
		user       string
		shown, not []string
	}{
		{"pay-viewer", []string{"<option>build</option>"}, []string{"orders-secret-plan"}},
		{"viewer", []string{"<option>build</option>", "<option>orders-secret-plan</option>"}, nil},
	}
	for _, tt := range tests {
		status, _, body := f.do(t, "GET", "/ui/executions?workspace=payments", tt.user, nil)
		if status != http.StatusOK {
			t.Fatalf("%s: GET = %d\n%s", tt.user, status, body)
		}
		contains(t, tt.user, body, tt.shown...)
		for _, s := range tt.not {
			if strings.Contains(body, s) {
				t.Errorf("%s sees pipeline %s of workspace orders", tt.user, s)
			}
		}
	}
}

// TestPagesExecutionsOfPipeline: the executions of one scoped pipeline
// (the pipeline page's "all runs" link) are decided in its workspace, as
// the JSON API decides them, so a viewer of that workspace may follow it.
func TestPagesExecutionsOfPipeline(t *testing.T) {
	authz := roles()
	authz.Roles["pay-viewer"] = map[string]access.Role{"payments": access.Viewer}
	f := newPagesFixture(t, authz)
	x := f.trigger("build", schemaEvent(t))
	tests := []struct {
		path   string
		status int
	}{
		{"/ui/executions?pipeline=build", http.StatusOK},
		{"/ui/executions?pipeline=follow", http.StatusForbidden}, // unscoped: its runs span workspaces
		{"/ui/executions?pipeline=nope", http.StatusForbidden},
		{"/ui/executions?pipeline=build&workspace=orders", http.StatusForbidden},
	}
	for _, tt := range tests {
		status, _, body := f.do(t, "GET", tt.path, "pay-viewer", nil)
		if status != tt.status {
			t.Errorf("GET %s = %d; want %d", tt.path, status, tt.status)
		}
		if status == http.StatusOK {
			contains(t, tt.path, body, `data-execution="`+x.ID+`"`)
		}
	}
}

// TestPagesDeniedNamesNoWorkspace: a denial says what was refused but not
// the workspace of what the caller may not read, as the JSON API's
// denials do: that workspace is the other tenant's.
func TestPagesDeniedNamesNoWorkspace(t *testing.T) {
	authz := roles()
	authz.Roles["pay-viewer"] = map[string]access.Role{"payments": access.Viewer}
	f := newPagesFixture(t, authz)
	ev := schemaEvent(t)
	ev.Type = "build.done"
	ev.Workspace = "hidden-tenant"
	x := f.trigger("follow", ev) // unscoped: the event's workspace
	f.put(strings.NewReplacer("name: build", "name: theirs", "workspace: payments", "workspace: hidden-tenant").Replace(buildPipeline))
	for _, path := range []string{"/ui/executions/" + x.ID, "/ui/pipelines/theirs", "/ui/pipelines/theirs/edit"} {
		for _, accept := range []string{"text/html", "application/json"} {
			status, _, body := f.do(t, "GET", path, "pay-viewer", nil, "Accept", accept)
			if status != http.StatusForbidden {
				t.Errorf("GET %s = %d; want 403", path, status)
			}
			if strings.Contains(body, "hidden-tenant") {
				t.Errorf("GET %s (%s): the denial names the workspace:\n%s", path, accept, body)
			}
		}
	}
}
