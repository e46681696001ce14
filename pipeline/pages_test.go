package pipeline_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// contains fails the test for each of wants missing from body.
func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s: body lacks %q", what, w)
		}
	}
	if t.Failed() {
		t.Logf("%s body:\n%s", what, body)
	}
}

func TestPagesRead(t *testing.T) {
	f := newPagesFixture(t, roles())
	build := f.trigger("build", schemaEvent(t))
	if build.Status != store.StatusSucceeded {
		t.Fatalf("build = %s (%s); want succeeded", build.Status, build.Error)
	}
	// follow runs on the event build's tell step emitted.
	var follow store.Execution
	for follow.ID == "" || !follow.Status.Terminal() {
		follow = f.wait(f.lastExecutionWait(t, "follow").ID)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"list", "/ui/pipelines", []string{
			`<a href="/ui/pipelines/build">build</a>`, `data-pipeline="follow"`, "<code>schema.changed</code>",
			"100.0%", `class="badge b-ok"`, "enabled", "<main", `<a class="skip" href="#main">`, `aria-current="page"`}},
		{"list by workspace", "/ui/pipelines?workspace=payments", []string{`data-pipeline="build"`}},
		{"one pipeline", "/ui/pipelines/build", []string{
			"<h1>Pipeline <code>build</code></h1>", `id="L1"`, "name: build", `data-execution="` + build.ID + `"`,
			`<label for="r-type">`, `action="/ui/pipelines/build/run"`, "<td>2</td><th scope=\"row\"><code>b</code>"}},
		{"editor", "/ui/pipelines/build/edit", []string{`<label for="source">`, `name="version" value="1"`, "name: build"}},
		{"new editor", "/ui/pipelines/new", []string{`action="/ui/pipelines/new"`, "my-pipeline"}},
		{"test form", "/ui/test", []string{`<label for="t-event">`, `<option value="drift.threshold_exceeded">`}},
		{"executions", "/ui/executions", []string{`data-execution="` + build.ID + `"`, `data-execution="` + follow.ID + `"`, `<label for="f-status">`}},
		{"executions by pipeline", "/ui/executions?pipeline=follow", []string{`data-execution="` + follow.ID + `"`}},
		{"execution timeline", "/ui/executions/" + build.ID, []string{
			"<h3>Level 2</h3>", `data-step="b"`, `data-step="c"`, `data-step="tell"`, "&#34;echo&#34;: &#34;openapi&#34;",
			`href="/ui/executions?event=`, `data-execution="` + follow.ID + `"`, "Re-run"}},
		{"caused execution", "/ui/executions/" + follow.ID, []string{"Caused by", "?event=" + build.EventID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do(t, "GET", tt.path, "operator", nil)
			if status != http.StatusOK {
				t.Fatalf("GET %s = %d; want 200\n%s", tt.path, status, body)
			}
			contains(t, tt.path, body, tt.want...)
		})
	}
	// A viewer is not offered what it may not do.
	for path, offer := range map[string]string{"/ui/pipelines/build": "/run", "/ui/executions/" + build.ID: "/rerun"} {
		_, _, body := f.do(t, "GET", path, "viewer", nil)
		if strings.Contains(body, offer+`"`) {
			t.Errorf("viewer GET %s offers the %s form", path, offer)
		}
	}
	// b and c are side by side: the same level of the timeline.
	_, _, body := f.do(t, "GET", "/ui/executions/"+build.ID, "viewer", nil)
	lv := body[strings.Index(body, "<h3>Level 2</h3>"):]
	lv = lv[:strings.Index(lv, "</ul>")]
	contains(t, "level 2", lv, `data-step="b"`, `data-step="c"`)
	// executions?pipeline=build leaves follow out.
	_, _, body = f.do(t, "GET", "/ui/executions?pipeline=build", "viewer", nil)
	if strings.Contains(body, `data-execution="`+follow.ID+`"`) {
		t.Errorf("executions?pipeline=build lists follow's execution")
	}
}

// lastExecutionWait waits for pipeline name to have an execution: the bus
// delivers the emitted event in the background, with nothing to wait on
// but the store, so this polls it (for readiness, never to time anything).
func (f *pagesFixture) lastExecutionWait(t *testing.T, name string) store.Execution {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for {
		page, err := f.eng.Executions(context.Background(), store.ExecutionQuery{Pipeline: name, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Executions) > 0 {
			return page.Executions[0]
		}
		select {
		case <-timeout:
			t.Fatalf("%s never ran", name)
		case <-tick.C:
		}
	}
}

func TestPagesErrors(t *testing.T) {
	f := newPagesFixture(t, roles())
	tests := []struct {
		name, method, path, user string
		accept                   string
		want                     int
	}{
		{"unknown pipeline", "GET", "/ui/pipelines/nope", "viewer", "", http.StatusNotFound},
		{"unknown execution", "GET", "/ui/executions/nope", "viewer", "", http.StatusNotFound},
		{"unknown page", "GET", "/ui/nothing", "viewer", "", http.StatusNotFound},
		{"not signed in", "GET", "/ui/pipelines", "", "", http.StatusUnauthorized},
		{"unknown role", "GET", "/ui/pipelines", "stranger", "", http.StatusForbidden},
		{"bad status filter", "GET", "/ui/executions?status=weird", "viewer", "", http.StatusBadRequest},
		{"bad time filter", "GET", "/ui/executions?from=yesterday", "viewer", "", http.StatusBadRequest},
		{"bad cursor", "GET", "/ui/executions?cursor=!!", "viewer", "", http.StatusBadRequest},
		{"problem json", "GET", "/ui/pipelines/nope", "viewer", "application/json", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do(t, tt.method, tt.path, tt.user, nil, "Accept", tt.accept)
			if status != tt.want {
				t.Fatalf("%s %s = %d; want %d\n%s", tt.method, tt.path, status, tt.want, body)
			}
			if tt.accept != "" {
				var p map[string]any
				if err := json.Unmarshal([]byte(body), &p); err != nil || p["status"] != float64(tt.want) {
					t.Errorf("body = %s (%v); want problem+json with status %d", body, err, tt.want)
				}
				return
			}
			contains(t, tt.path, body, "<h1>"+http.StatusText(tt.want)+"</h1>", "<main")
		})
	}
	// The problem's content type.
	req, _ := http.NewRequest("GET", f.srv.URL+"/ui/pipelines/nope", nil)
	req.Header.Set("X-User", "viewer")
	req.Header.Set("Accept", "application/problem+json")
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q; want %q", ct, problem.ContentType)
	}
}

const brokenBuild = `name: build
workspace: payments
on:
  - event: schema.changed
steps:
  - {id: a, uses: probe, with: {key: a}}
  - {id: b, uses: nope}
  - {id: c, uses: probe, needs: [zzz], with: {key: c}}
`

func TestPagesEditor(t *testing.T) {
	f := newPagesFixture(t, roles())
	rec, err := f.eng.Get(context.Background(), "build")
	if err != nil {
		t.Fatal(err)
	}
	version := func(v int64) string { return strconv.FormatInt(v, 10) }

	t.Run("broken is shown in place, not saved", func(t *testing.T) {
		status, _, body := f.do(t, "POST", "/ui/pipelines/build/edit", "admin",
			url.Values{"source": {brokenBuild}, "version": {version(rec.Version)}})
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("POST broken = %d; want 422\n%s", status, body)
		}
		contains(t, "editor", body, `<li id="L7" class="bad">`, `<a href="#L7">build.yaml:7:`, `<li id="L8" class="bad">`,
			"line 7: col", "uses: nope", `<textarea id="source"`)
		if got, _ := f.eng.Get(context.Background(), "build"); got.Version != rec.Version {
			t.Errorf("version = %d after a broken save; want %d", got.Version, rec.Version)
		}
	})
	t.Run("a viewer may validate but not save", func(t *testing.T) {
		status, _, _ := f.do(t, "POST", "/ui/pipelines/build/edit", "viewer",
			url.Values{"source": {brokenBuild}, "version": {version(rec.Version)}})
		if status != http.StatusUnprocessableEntity {
			t.Errorf("viewer POST broken = %d; want 422", status)
		}
		status, _, _ = f.do(t, "POST", "/ui/pipelines/build/edit", "viewer",
			url.Values{"source": {buildPipeline}, "version": {version(rec.Version)}})
		if status != http.StatusForbidden {
			t.Errorf("viewer POST valid = %d; want 403", status)
		}
		status, _, _ = f.do(t, "POST", "/ui/pipelines/build/edit", "operator",
			url.Values{"source": {buildPipeline}, "version": {version(rec.Version)}})
		if status != http.StatusForbidden {
			t.Errorf("operator POST valid = %d; want 403", status)
		}
	})
	t.Run("valid is saved and redirects", func(t *testing.T) {
		src := strings.Replace(buildPipeline, "A diamond", "Still a diamond", 1)
		status, loc, body := f.do(t, "POST", "/ui/pipelines/build/edit", "admin",
			url.Values{"source": {src}, "version": {version(rec.Version)}})
		if status != http.StatusSeeOther || loc != "/ui/pipelines/build?done=saved" {
			t.Fatalf("POST valid = %d %q; want 303 to the pipeline\n%s", status, loc, body)
		}
		got, _ := f.eng.Get(context.Background(), "build")
		if got.Version != rec.Version+1 || string(got.Source) != src {
			t.Errorf("stored version %d %q; want version %d with the new source", got.Version, got.Source, rec.Version+1)
		}
		_, _, body = f.do(t, "GET", loc, "viewer", nil)
		contains(t, "after save", body, "Saved.", "Still a diamond")
	})
	t.Run("a stale editor conflicts", func(t *testing.T) {
		status, _, body := f.do(t, "POST", "/ui/pipelines/build/edit", "admin",
			url.Values{"source": {buildPipeline}, "version": {version(rec.Version)}})
		if status != http.StatusConflict {
			t.Fatalf("POST stale = %d; want 409\n%s", status, body)
		}
		contains(t, "conflict", body, "changed (or created) by someone else")
	})
	t.Run("rename is refused", func(t *testing.T) {
		got, _ := f.eng.Get(context.Background(), "build")
		status, _, _ := f.do(t, "POST", "/ui/pipelines/build/edit", "admin",
			url.Values{"source": {strings.Replace(buildPipeline, "name: build", "name: built", 1)}, "version": {version(got.Version)}})
		if status != http.StatusUnprocessableEntity {
			t.Errorf("POST renamed = %d; want 422", status)
		}
	})
	t.Run("new", func(t *testing.T) {
		src := strings.Replace(followPipeline, "name: follow", "name: fresh", 1)
		status, loc, _ := f.do(t, "POST", "/ui/pipelines/new", "admin", url.Values{"source": {src}})
		if status != http.StatusSeeOther || loc != "/ui/pipelines/fresh?done=created" {
			t.Fatalf("POST new = %d %q; want 303 to /ui/pipelines/fresh", status, loc)
		}
		status, _, _ = f.do(t, "POST", "/ui/pipelines/new", "admin", url.Values{"source": {src}})
		if status != http.StatusConflict {
			t.Errorf("POST new twice = %d; want 409", status)
		}
	})
	t.Run("a stored definition that does not load shows its problems", func(t *testing.T) {
		// Stored behind the engine's back, as another replica with other
		// step types might.
		if _, err := f.st.PutPipeline(context.Background(), store.Pipeline{Name: "stale", Version: 0, Source: []byte(strings.Replace(brokenBuild, "name: build", "name: stale", 1)), Enabled: true}); err != nil {
			t.Fatal(err)
		}
		if err := f.eng.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, _, body := f.do(t, "GET", "/ui/pipelines/stale", "viewer", nil)
		contains(t, "stale", body, "does not load", `<li id="L7" class="bad">`, "b-fail")
		_, _, body = f.do(t, "GET", "/ui/pipelines", "viewer", nil)
		contains(t, "list", body, "does not load: stale:7:")
	})
}

func TestPagesActions(t *testing.T) {
	f := newPagesFixture(t, roles())

	t.Run("run by hand", func(t *testing.T) {
		status, loc, body := f.do(t, "POST", "/ui/pipelines/build/run", "operator",
			url.Values{"type": {"schema.changed"}, "workspace": {"payments"}, "data": {`{"schema_type":"grpc"}`}})
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/executions/") {
			t.Fatalf("POST run = %d %q; want 303 to an execution\n%s", status, loc, body)
		}
		x := f.wait(strings.TrimSuffix(strings.TrimPrefix(loc, "/ui/executions/"), "?done=triggered"))
		if x.Status != store.StatusSucceeded || x.Event.Workspace != "payments" || x.Event.Get("schema_type").String() != "grpc" {
			t.Errorf("execution %s %s event %+v; want succeeded with the form's event", x.ID, x.Status, x.Event)
		}
		if status, _, _ := f.do(t, "POST", "/ui/pipelines/build/run", "viewer", url.Values{}); status != http.StatusForbidden {
			t.Errorf("viewer POST run = %d; want 403", status)
		}
		if status, _, _ := f.do(t, "POST", "/ui/pipelines/build/run", "operator", url.Values{"data": {"[1]"}}); status != http.StatusUnprocessableEntity {
			t.Errorf("POST run with array data = %d; want 422", status)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		id, err := f.eng.Trigger(context.Background(), "slow", events.Event{})
		if err != nil {
			t.Fatal(err)
		}
		f.blocked(t, id)
		_, _, body := f.do(t, "GET", "/ui/executions/"+id, "operator", nil)
		contains(t, "running", body, "Cancel execution", `<meta http-equiv="refresh" content="2">`, "running")
		if status, _, _ := f.do(t, "POST", "/ui/executions/"+id+"/cancel", "viewer", url.Values{}); status != http.StatusForbidden {
			t.Errorf("viewer POST cancel = %d; want 403", status)
		}
		status, loc, _ := f.do(t, "POST", "/ui/executions/"+id+"/cancel", "operator", url.Values{})
		if status != http.StatusSeeOther || loc != "/ui/executions/"+id+"?done=cancelled" {
			t.Fatalf("POST cancel = %d %q; want 303 back to the execution", status, loc)
		}
		if x := f.wait(id); x.Status != store.StatusCancelled {
			t.Errorf("status = %s after cancel; want cancelled", x.Status)
		}
		_, _, body = f.do(t, "GET", loc, "viewer", nil)
		contains(t, "cancelled", body, "Cancellation requested.", "b-warn")
		if strings.Contains(body, "Cancel execution") || strings.Contains(body, "http-equiv") {
			t.Errorf("a cancelled execution still offers to cancel or refreshes")
		}
	})

	t.Run("rerun", func(t *testing.T) {
		orig := f.trigger("build", schemaEvent(t))
		if status, _, _ := f.do(t, "POST", "/ui/executions/"+orig.ID+"/rerun", "viewer", url.Values{}); status != http.StatusForbidden {
			t.Errorf("viewer POST rerun = %d; want 403", status)
		}
		status, loc, _ := f.do(t, "POST", "/ui/executions/"+orig.ID+"/rerun", "operator", url.Values{})
		if status != http.StatusSeeOther {
			t.Fatalf("POST rerun = %d; want 303", status)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(loc, "/ui/executions/"), "?done=rerun")
		x := f.wait(id)
		if x.ID == orig.ID || x.EventID == orig.EventID || x.Event.Extensions[pipeline.ExtRerunOf] != orig.ID ||
			string(x.Event.Data) != string(orig.Event.Data) || x.Status != store.StatusSucceeded {
			t.Errorf("rerun %+v; want a new execution of a copy of %s's event marked rerunof", x, orig.ID)
		}
		_, _, body := f.do(t, "GET", "/ui/executions/"+orig.ID, "viewer", nil)
		contains(t, "original", body, "<h2>Re-runs</h2>", `data-execution="`+id+`"`)
		_, _, body = f.do(t, "GET", loc, "viewer", nil)
		contains(t, "rerun", body, "Re-run of", `href="/ui/executions/`+orig.ID+`"`)
	})

	t.Run("test an event", func(t *testing.T) {
		ev := schemaEvent(t)
		raw, _ := json.Marshal(ev)
		for _, form := range []url.Values{
			{"event": {string(raw)}},
			{"type": {"schema.changed"}, "workspace": {"payments"}, "data": {`{"schema_type":"openapi"}`}},
		} {
			status, _, body := f.do(t, "POST", "/ui/test", "viewer", form)
			if status != http.StatusOK {
				t.Fatalf("POST test = %d; want 200\n%s", status, body)
			}
			contains(t, "test", body, `data-pipeline="build" data-matched="true"`, `data-pipeline="follow" data-matched="false"`,
				"&#34;value&#34;: &#34;openapi&#34;", "Why not:")
		}
		status, _, body := f.do(t, "POST", "/ui/test", "viewer", url.Values{"event": {"{not json"}})
		if status != http.StatusUnprocessableEntity {
			t.Errorf("POST test with bad JSON = %d; want 422", status)
		}
		contains(t, "bad event", body, "not a CloudEvents JSON event")
	})
}

// TestPagesCrossOrigin: a form posted from another site is refused before
// it reaches the handler; the same form from the UI's origin passes.
func TestPagesCrossOrigin(t *testing.T) {
	f := newPagesFixture(t, access.AllowAll) // authorization is not what refuses here
	x := f.trigger("build", schemaEvent(t))
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"sec-fetch-site cross-site", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"origin mismatch", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"same origin", []string{"Sec-Fetch-Site", "same-origin", "Origin", f.srv.URL}, http.StatusSeeOther},
		{"no browser headers", nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.eng.Executions(context.Background(), store.ExecutionQuery{Pipeline: "build", Limit: 100})
			status, _, body := f.do(t, "POST", "/ui/executions/"+x.ID+"/rerun", "", url.Values{}, tt.hdr...)
			if status != tt.want {
				t.Fatalf("POST = %d; want %d\n%s", status, tt.want, body)
			}
			after, _ := f.eng.Executions(context.Background(), store.ExecutionQuery{Pipeline: "build", Limit: 100})
			if created := len(after.Executions) - len(before.Executions); (created == 1) != (tt.want == http.StatusSeeOther) {
				t.Errorf("%d executions created; want one only when allowed", created)
			}
			if tt.want == http.StatusForbidden {
				contains(t, "refused", body, "sent from another site")
			}
		})
	}
	// Wait for the re-runs so the engine stops idle.
	page, _ := f.eng.Executions(context.Background(), store.ExecutionQuery{Pipeline: "build", Limit: 100})
	for _, x := range page.Executions {
		f.wait(x.ID)
	}
}

func TestPagesPagination(t *testing.T) {
	f := newPagesFixture(t, roles())
	want := map[string]bool{}
	for i := range 7 {
		ev := schemaEvent(t)
		if i%2 == 1 {
			ev.Workspace = "other"
		}
		x := f.trigger("follow", ev) // unscoped: the event's workspace counts
		want[x.ID] = ev.Workspace == "other"
	}
	for _, tt := range []struct {
		name, query string
		other       bool // only the "other" workspace
	}{
		{"all", "pipeline=follow&limit=2", false},
		{"workspace", "pipeline=follow&limit=2&workspace=other", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			next := "/ui/executions?" + tt.query
			for pages := 0; next != ""; pages++ {
				if pages > 10 {
					t.Fatal("more than 10 pages")
				}
				status, _, body := f.do(t, "GET", next, "viewer", nil)
				if status != http.StatusOK {
					t.Fatalf("GET %s = %d", next, status)
				}
				for id := range want {
					if strings.Contains(body, `data-execution="`+id+`"`) {
						if seen[id] {
							t.Errorf("%s listed twice", id)
						}
						seen[id] = true
					}
				}
				next = ""
				if i := strings.Index(body, `rel="next"`); i >= 0 {
					head := body[:i]
					href := head[strings.LastIndex(head, `href="`)+6:]
					next = strings.ReplaceAll(href[:strings.Index(href, `"`)], "&amp;", "&")
				}
			}
			for id, other := range want {
				if seen[id] != (!tt.other || other) {
					t.Errorf("%s listed %v; want %v", id, seen[id], !tt.other || other)
				}
			}
		})
	}
}

// TestPagesWorkspaces: a viewer of one workspace sees that workspace's
// executions and nothing of the others', and hostile text is escaped.
func TestPagesWorkspaces(t *testing.T) {
	authz := roles()
	authz.Roles["pay-viewer"] = map[string]access.Role{"payments": access.Viewer}
	f := newPagesFixture(t, authz)
	pay := f.trigger("build", schemaEvent(t)) // build is scoped to payments
	hostile := schemaEvent(t)
	hostile.Workspace = `<script>alert(1)</script>`
	other := f.trigger("follow", hostile) // follow is unscoped: the event's workspace
	// A scoped pipeline's executions are its workspace's, whatever the event says.
	elsewhere := schemaEvent(t)
	elsewhere.Workspace = "elsewhere"
	payToo := f.trigger("build", elsewhere)

	_, _, body := f.do(t, "GET", "/ui/executions?workspace=payments", "pay-viewer", nil)
	contains(t, "pay-viewer list", body, `data-execution="`+pay.ID+`"`, `data-execution="`+payToo.ID+`"`)
	if strings.Contains(body, other.ID) {
		t.Errorf("pay-viewer sees an execution of another workspace")
	}
	if status, _, _ := f.do(t, "GET", "/ui/executions/"+other.ID, "pay-viewer", nil); status != http.StatusForbidden {
		t.Errorf("pay-viewer GET another workspace's execution = %d; want 403", status)
	}
	if status, _, _ := f.do(t, "GET", "/ui/executions", "pay-viewer", nil); status != http.StatusForbidden {
		t.Errorf("pay-viewer GET every workspace's executions = %d; want 403", status)
	}
	for _, path := range []string{"/ui/executions", "/ui/executions/" + other.ID} {
		_, _, body = f.do(t, "GET", path, "viewer", nil)
		if strings.Contains(body, "<script>") {
			t.Errorf("%s: the workspace's markup is not escaped", path)
		}
		contains(t, path, body, "&lt;script&gt;")
	}
}

// TestPagesSecrets: a secret a step read, echoed and failed with appears
// on no page, in clear or in base64.
func TestPagesSecrets(t *testing.T) {
	f := newPagesFixture(t, roles())
	ev, err := events.New("secret.test", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	x := f.trigger("secretive", ev)
	if x.Status != store.StatusFailed {
		t.Fatalf("secretive = %s; want failed", x.Status)
	}
	forms := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/ui/executions/" + x.ID, nil},
		{"GET", "/ui/executions", nil},
		{"GET", "/ui/pipelines/secretive", nil},
		{"POST", "/ui/test", url.Values{"type": {"secret.test"}}},
	}
	leaks := []string{pageSecret, base64.StdEncoding.EncodeToString([]byte(pageSecret)), base64.RawURLEncoding.EncodeToString([]byte(pageSecret))}
	for _, c := range forms {
		status, _, body := f.do(t, c.method, c.path, "viewer", c.form)
		if status != http.StatusOK {
			t.Fatalf("%s %s = %d", c.method, c.path, status)
		}
		for _, l := range leaks {
			if strings.Contains(body, l) {
				t.Errorf("%s %s shows the secret (%q)", c.method, c.path, l)
			}
		}
	}
	_, _, body := f.do(t, "GET", "/ui/executions/"+x.ID, "viewer", nil)
	contains(t, "redacted", body, "refused token", `data-step="leak"`)
}
