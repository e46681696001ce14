package steps_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/steps"
)

// fakeGitLab implements the GitLab REST v4 endpoints create_pr uses for one
// project ("group/sdk", addressed URL-encoded as group%2Fsdk), with the
// JSON shapes and error bodies of docs.gitlab.com, and records every
// request with its escaped path.
type fakeGitLab struct {
	token string

	mu       sync.Mutex
	branches map[string]map[string]string // branch -> path -> content
	heads    map[string]string            // branch -> commit id
	commits  int
	mrs      []*fakeMR
	requests []string
	actions  [][]string // per commit: "action path"
	inject   func(method, path string) (status int, body string, ok bool)
}

type fakeMR struct {
	IID                       int64
	Source, Target            string
	Title, Description, State string
	Labels                    string
	ReviewerIDs               []int64
}

func newFakeGitLab(t *testing.T) (*fakeGitLab, *httptest.Server) {
	f := &fakeGitLab{token: "glpat-s3cr3tT0ken",
		branches: map[string]map[string]string{"main": {"README.md": "# sdk\n", "old.txt": "old"}},
		heads:    map[string]string{"main": "c0"}}
	mux := http.NewServeMux()
	const project = "/api/v4/projects/{id}"
	mux.HandleFunc("GET "+project+"/repository/branches/{branch}", f.getBranch)
	mux.HandleFunc("POST "+project+"/repository/branches", f.createBranch)
	mux.HandleFunc("HEAD "+project+"/repository/files/{path}", f.headFile)
	mux.HandleFunc("POST "+project+"/repository/commits", f.commit)
	mux.HandleFunc("GET "+project+"/merge_requests", f.listMRs)
	mux.HandleFunc("POST "+project+"/merge_requests", f.createMR)
	mux.HandleFunc("PUT "+project+"/merge_requests/{iid}", f.updateMR)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4")
		f.requests = append(f.requests, r.Method+" "+path)
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			glJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
			return
		}
		if f.inject != nil {
			if status, body, ok := f.inject(r.Method, path); ok {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprint(w, body)
				return
			}
		}
		if !strings.HasPrefix(path, "/projects/group%2Fsdk/") {
			glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func glJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func glDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "body is invalid"})
		return false
	}
	return true
}

func (f *fakeGitLab) branchJSON(name string) map[string]any {
	return map[string]any{"name": name, "merged": false, "protected": false, "default": name == "main",
		"web_url": "https://gitlab.example.com/group/sdk/-/tree/" + name, "commit": map[string]any{"id": f.heads[name], "short_id": f.heads[name]}}
}

func (f *fakeGitLab) getBranch(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.branches[r.PathValue("branch")]; !ok {
		glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Branch Not Found"})
		return
	}
	glJSON(w, http.StatusOK, f.branchJSON(r.PathValue("branch")))
}

func (f *fakeGitLab) createBranch(w http.ResponseWriter, r *http.Request) {
	var body struct{ Branch, Ref string }
	if !glDecode(w, r, &body) {
		return
	}
	if _, ok := f.branches[body.Branch]; ok {
		glJSON(w, http.StatusBadRequest, map[string]string{"message": "Branch already exists"})
		return
	}
	files, ok := f.branches[body.Ref]
	if !ok {
		glJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid reference name: " + body.Ref})
		return
	}
	f.branches[body.Branch] = maps.Clone(files)
	f.heads[body.Branch] = f.heads[body.Ref]
	glJSON(w, http.StatusCreated, f.branchJSON(body.Branch))
}

func (f *fakeGitLab) headFile(w http.ResponseWriter, r *http.Request) {
	content, ok := f.branches[r.URL.Query().Get("ref")][r.PathValue("path")]
	if !ok {
		w.WriteHeader(http.StatusNotFound) // HEAD: no body
		return
	}
	sum := sha256.Sum256([]byte(content))
	w.Header().Set("X-Gitlab-File-Path", r.PathValue("path"))
	w.Header().Set("X-Gitlab-Size", strconv.Itoa(len(content)))
	w.Header().Set("X-Gitlab-Content-Sha256", hex.EncodeToString(sum[:]))
	w.Header().Set("X-Gitlab-Ref", r.URL.Query().Get("ref"))
	w.WriteHeader(http.StatusOK)
}

func (f *fakeGitLab) commit(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Branch        string `json:"branch"`
		CommitMessage string `json:"commit_message"`
		Actions       []struct {
			Action   string `json:"action"`
			FilePath string `json:"file_path"`
			Content  string `json:"content"`
			Encoding string `json:"encoding"`
		} `json:"actions"`
	}
	if !glDecode(w, r, &body) {
		return
	}
	files, ok := f.branches[body.Branch]
	if !ok || body.CommitMessage == "" || len(body.Actions) == 0 {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "branch, commit_message, actions are missing"})
		return
	}
	next := maps.Clone(files)
	var log []string
	for _, a := range body.Actions {
		_, exists := next[a.FilePath]
		switch {
		case a.Action == "create" && exists:
			glJSON(w, http.StatusBadRequest, map[string]string{"message": "A file with this name already exists"})
			return
		case (a.Action == "update" || a.Action == "delete") && !exists:
			glJSON(w, http.StatusBadRequest, map[string]string{"message": "A file with this name doesn't exist"})
			return
		case a.Action == "delete":
			delete(next, a.FilePath)
		case a.Action == "create" || a.Action == "update":
			raw, err := base64.StdEncoding.DecodeString(a.Content)
			if a.Encoding != "base64" || err != nil {
				glJSON(w, http.StatusBadRequest, map[string]string{"error": "actions[encoding] does not have a valid value"})
				return
			}
			next[a.FilePath] = string(raw)
		default:
			glJSON(w, http.StatusBadRequest, map[string]string{"error": "actions[action] does not have a valid value"})
			return
		}
		log = append(log, a.Action+" "+a.FilePath)
	}
	f.branches[body.Branch] = next
	f.commits++
	id := fmt.Sprintf("c%d", f.commits)
	f.heads[body.Branch] = id
	f.actions = append(f.actions, log)
	glJSON(w, http.StatusCreated, map[string]any{"id": id, "short_id": id, "title": body.CommitMessage, "message": body.CommitMessage,
		"web_url": "https://gitlab.example.com/group/sdk/-/commit/" + id})
}

func (f *fakeGitLab) mrJSON(m *fakeMR) map[string]any {
	return map[string]any{"id": 1000 + m.IID, "iid": m.IID, "project_id": 7, "title": m.Title, "description": m.Description,
		"state": m.State, "source_branch": m.Source, "target_branch": m.Target, "labels": strings.Split(m.Labels, ","),
		"web_url": fmt.Sprintf("https://gitlab.example.com/group/sdk/-/merge_requests/%d", m.IID)}
}

func (f *fakeGitLab) listMRs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for _, m := range f.mrs {
		if q.Get("state") == m.State && q.Get("source_branch") == m.Source && q.Get("target_branch") == m.Target {
			out = append(out, f.mrJSON(m))
		}
	}
	glJSON(w, http.StatusOK, out)
}

type glMRBody struct {
	SourceBranch string  `json:"source_branch"`
	TargetBranch string  `json:"target_branch"`
	Title        string  `json:"title"`
	Description  string  `json:"description"`
	Labels       string  `json:"labels"`
	AddLabels    string  `json:"add_labels"`
	ReviewerIDs  []int64 `json:"reviewer_ids"`
}

func (f *fakeGitLab) createMR(w http.ResponseWriter, r *http.Request) {
	var body glMRBody
	if !glDecode(w, r, &body) {
		return
	}
	for _, m := range f.mrs {
		if m.State == "opened" && m.Source == body.SourceBranch && m.Target == body.TargetBranch {
			glJSON(w, http.StatusConflict, map[string]any{"message": []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", m.IID)}})
			return
		}
	}
	m := &fakeMR{IID: int64(len(f.mrs) + 1), Source: body.SourceBranch, Target: body.TargetBranch, Title: body.Title,
		Description: body.Description, State: "opened", Labels: body.Labels, ReviewerIDs: body.ReviewerIDs}
	f.mrs = append(f.mrs, m)
	glJSON(w, http.StatusCreated, f.mrJSON(m))
}

func (f *fakeGitLab) updateMR(w http.ResponseWriter, r *http.Request) {
	var body glMRBody
	if !glDecode(w, r, &body) {
		return
	}
	iid, _ := strconv.Atoi(r.PathValue("iid"))
	if iid < 1 || iid > len(f.mrs) {
		glJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
		return
	}
	m := f.mrs[iid-1]
	m.Title, m.Description = body.Title, body.Description
	for _, l := range strings.Split(body.AddLabels, ",") {
		if l != "" && !strings.Contains(","+m.Labels+",", ","+l+",") {
			m.Labels = strings.TrimPrefix(m.Labels+","+l, ",")
		}
	}
	if body.ReviewerIDs != nil {
		m.ReviewerIDs = body.ReviewerIDs
	}
	glJSON(w, http.StatusOK, f.mrJSON(m))
}

func (f *fakeGitLab) takeRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

func gitlabWith(baseURL, token string, files ...any) map[string]any {
	return map[string]any{
		"provider": "gitlab", "base_url": baseURL + "/api/v4", "repo": "group/sdk", "token": token,
		"branch": "mockops/sdk-update", "title": "Regenerate the SDK", "body": "From the payments contract.",
		"files": files, "labels": []any{"sdk", "automated"}, "reviewer_ids": []any{int64(42)}, "draft": true,
	}
}

func TestCreatePRGitLab(t *testing.T) {
	f, srv := newFakeGitLab(t)
	r := prRegistry(t)
	const p = "/projects/group%2Fsdk"

	with := gitlabWith(srv.URL, f.token, file("sdk/client.go", "package sdk\n"), file("README.md", "# sdk\n"),
		file("old.txt", "new"), deleted("gone.txt"))
	out, err := runStep(t, r, "create_pr", with, steps.Input{})
	if err != nil {
		t.Fatalf("Run = %v; want success", err)
	}
	diffLines(t, "first run requests", []string{
		"GET " + p + "/repository/branches/mockops%2Fsdk-update",
		"POST " + p + "/repository/branches",
		"HEAD " + p + "/repository/files/sdk%2Fclient.go",
		"HEAD " + p + "/repository/files/README.md",
		"HEAD " + p + "/repository/files/old.txt",
		"HEAD " + p + "/repository/files/gone.txt",
		"POST " + p + "/repository/commits",
		"GET " + p + "/merge_requests",
		"POST " + p + "/merge_requests",
	}, f.takeRequests())
	if diff := cmp.Diff([][]string{{"create sdk/client.go", "update old.txt"}}, f.actions); diff != "" {
		t.Errorf("commit actions mismatch (-want +got):\n%s", diff)
	}
	if b, _ := json.Marshal(out.Outputs); holdsSecret(string(b), f.token) {
		t.Errorf("outputs %s hold the token", b)
	}
	wantOut := map[string]any{"url": "https://gitlab.example.com/group/sdk/-/merge_requests/1", "number": int64(1),
		"branch": "mockops/sdk-update", "commit_sha": "c1", "action": "created"}
	if diff := cmp.Diff(wantOut, out.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	wantMR := []*fakeMR{{IID: 1, Source: "mockops/sdk-update", Target: "main", Title: "Draft: Regenerate the SDK",
		Description: "From the payments contract.", State: "opened", Labels: "sdk,automated", ReviewerIDs: []int64{42}}}
	if diff := cmp.Diff(wantMR, f.mrs); diff != "" {
		t.Errorf("merge requests mismatch (-want +got):\n%s", diff)
	}

	// Second run: the branch exists, a file changes and one is deleted;
	// the open merge request is updated, not duplicated.
	with = gitlabWith(srv.URL, f.token, file("sdk/client.go", "package sdk // v2\n"), deleted("old.txt"))
	with["labels"] = []any{"v2"}
	out, err = runStep(t, r, "create_pr", with, steps.Input{})
	if err != nil {
		t.Fatalf("Run(second) = %v; want success", err)
	}
	diffLines(t, "second run requests", []string{
		"GET " + p + "/repository/branches/mockops%2Fsdk-update",
		"HEAD " + p + "/repository/files/sdk%2Fclient.go",
		"HEAD " + p + "/repository/files/old.txt",
		"POST " + p + "/repository/commits",
		"GET " + p + "/merge_requests",
		"PUT " + p + "/merge_requests/1",
	}, f.takeRequests())
	if diff := cmp.Diff([]string{"update sdk/client.go", "delete old.txt"}, f.actions[1]); diff != "" {
		t.Errorf("second commit actions mismatch (-want +got):\n%s", diff)
	}
	if len(f.mrs) != 1 || f.mrs[0].Labels != "sdk,automated,v2" || out.Outputs["action"] != "updated" || out.Outputs["commit_sha"] != "c2" {
		t.Errorf("after the second run: %d MRs, labels %q, outputs %v; want 1 MR labelled sdk,automated,v2, updated, c2", len(f.mrs), f.mrs[0].Labels, out.Outputs)
	}

	// Third run, same content: no commit.
	out, err = runStep(t, r, "create_pr", with, steps.Input{})
	if err != nil {
		t.Fatalf("Run(third) = %v; want success", err)
	}
	if f.commits != 2 || out.Outputs["commit_sha"] != "c2" || len(f.mrs) != 1 {
		t.Errorf("third run: %d commits, outputs %v, %d MRs; want 2 commits, head c2, 1 MR", f.commits, out.Outputs, len(f.mrs))
	}
	want := map[string]string{"README.md": "# sdk\n", "sdk/client.go": "package sdk // v2\n"}
	if diff := cmp.Diff(want, f.branches["mockops/sdk-update"]); diff != "" {
		t.Errorf("branch files mismatch (-want +got):\n%s", diff)
	}
}

func TestCreatePRGitLabErrors(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		repo      string
		inject    func(method, path string) (int, string, bool)
		status    int
		permanent bool
		contains  string
	}{
		{name: "unauthorized", token: "nope", status: 401, permanent: true, contains: "401 Unauthorized"},
		{name: "unknown project", repo: "group/other", status: 404, permanent: true, contains: "404 Project Not Found"},
		{
			name: "conflicting merge request (list message)", status: 409, permanent: true, contains: "Another open merge request already exists",
			inject: func(m, p string) (int, string, bool) {
				return 409, `{"message":["Another open merge request already exists for this source branch: !9"]}`, m == "POST" && strings.HasSuffix(p, "/merge_requests")
			},
		},
		{
			name: "field errors (map message)", status: 400, permanent: true, contains: "branch",
			inject: func(m, p string) (int, string, bool) {
				return 400, `{"message":{"branch":["is invalid"]}}`, m == "POST" && strings.HasSuffix(p, "/repository/commits")
			},
		},
		{
			name: "server error is retryable", status: 500, permanent: false, contains: "commit",
			inject: func(m, p string) (int, string, bool) {
				return 500, `{"message":"500 Internal Server Error"}`, m == "POST" && strings.HasSuffix(p, "/repository/commits")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeGitLab(t)
			f.inject = tt.inject
			token := f.token
			if tt.token != "" {
				token = tt.token
			}
			with := gitlabWith(srv.URL, token, file("a.txt", "a"))
			if tt.repo != "" {
				with["repo"] = tt.repo
			}
			_, err := runStep(t, prRegistry(t), "create_pr", with, steps.Input{})
			var apiErr *steps.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Fatalf("Run = %v; want an *APIError with status %d", err, tt.status)
			}
			if steps.IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v; want %v", err, steps.IsPermanent(err), tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Run = %v; want it to mention %q", err, tt.contains)
			}
			if holdsSecret(err.Error(), f.token) {
				t.Errorf("Run = %v; the error holds the token", err)
			}
		})
	}
}

// TestCreatePRGitLabBranchRace: the branch appears between the read and
// the create; the step uses it.
func TestCreatePRGitLabBranchRace(t *testing.T) {
	f, srv := newFakeGitLab(t)
	f.branches["mockops/sdk-update"] = map[string]string{"README.md": "# sdk\n"}
	f.heads["mockops/sdk-update"] = "c0"
	first := true
	f.inject = func(m, p string) (int, string, bool) {
		if m == "GET" && p == "/projects/group%2Fsdk/repository/branches/mockops%2Fsdk-update" && first {
			first = false
			return 404, `{"message":"404 Branch Not Found"}`, true
		}
		return 0, "", false
	}
	out, err := runStep(t, prRegistry(t), "create_pr", gitlabWith(srv.URL, f.token, file("a.txt", "a")), steps.Input{})
	if err != nil {
		t.Fatalf("Run = %v; want success", err)
	}
	diffLines(t, "first requests", []string{
		"GET /projects/group%2Fsdk/repository/branches/mockops%2Fsdk-update",
		"POST /projects/group%2Fsdk/repository/branches",
		"GET /projects/group%2Fsdk/repository/branches/mockops%2Fsdk-update",
	}, f.takeRequests()[:3])
	if out.Outputs["commit_sha"] != "c1" || f.branches["mockops/sdk-update"]["a.txt"] != "a" {
		t.Errorf("outputs = %v; want commit c1 with a.txt on the existing branch", out.Outputs)
	}
}
