package steps_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/steps"
)

func prRegistry(t *testing.T) *steps.Registry {
	t.Helper()
	r := steps.NewRegistry()
	if err := steps.RegisterCreatePR(r, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

func githubWith(baseURL, token string, files ...any) map[string]any {
	return map[string]any{
		"provider": "github", "base_url": baseURL + ghPrefix, "repo": "octo/sdk", "token": token,
		"branch": "mockops/sdk-update", "base_branch": "main", "title": "Regenerate the SDK", "body": "From the payments contract.",
		"files": files, "labels": []any{"sdk", "automated"}, "reviewers": []any{"alice"}, "team_reviewers": []any{"sdk-team"},
	}
}

func file(path, content string) map[string]any {
	return map[string]any{"path": path, "content": content}
}
func deleted(path string) map[string]any { return map[string]any{"path": path, "delete": true} }

func TestCreatePRGitHub(t *testing.T) {
	f, srv := newFakeGitHub(t)
	r := prRegistry(t)
	const repo = "/repos/octo/sdk"

	// First run: the branch does not exist; one commit creates, updates and
	// deletes files (the deletion of a missing file is left out, and the
	// unchanged README needs no blob); the pull request is opened.
	with := githubWith(srv.URL, f.token, file("sdk/client.go", "package sdk\n"), file("gen.sh", "#!/bin/sh\nexit 0\n"),
		file("README.md", "# sdk\n"), deleted("old.txt"), deleted("never-there.txt"))
	var logs strings.Builder
	out, err := runStep(t, r, "create_pr", with, steps.Input{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Run = %v; want success", err)
	}
	diffLines(t, "first run requests", []string{
		"GET " + repo + "/git/ref/heads/main",
		"GET " + repo + "/git/ref/heads/mockops/sdk-update",
		"POST " + repo + "/git/refs",
		"GET " + repo + "/git/commits/" + f.refs["main"],
		"GET " + repo + "/git/trees/" + f.commits[f.refs["main"]].Tree,
		"POST " + repo + "/git/blobs",
		"POST " + repo + "/git/blobs",
		"POST " + repo + "/git/trees",
		"POST " + repo + "/git/commits",
		"PATCH " + repo + "/git/refs/heads/mockops/sdk-update",
		"GET " + repo + "/pulls",
		"POST " + repo + "/pulls",
		"POST " + repo + "/issues/1/labels",
		"POST " + repo + "/pulls/1/requested_reviewers",
	}, f.takeRequests())
	head := f.refs["mockops/sdk-update"]
	if b, _ := json.Marshal(out.Outputs); holdsSecret(string(b), f.token) {
		t.Errorf("outputs %s hold the token", b)
	}
	if !strings.Contains(logs.String(), "pull request created") || holdsSecret(logs.String(), f.token) {
		t.Errorf("logs = %q; want a creation record without the token", logs.String())
	}
	wantOut := map[string]any{"url": "https://github.com/octo/sdk/pull/1", "number": int64(1), "branch": "mockops/sdk-update", "commit_sha": head, "action": "created"}
	if diff := cmp.Diff(wantOut, out.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	wantFiles := map[string]string{"README.md": "# sdk\n", "gen.sh": "#!/bin/sh\nexit 0\n", "sdk/client.go": "package sdk\n"}
	if diff := cmp.Diff(wantFiles, f.files("mockops/sdk-update")); diff != "" {
		t.Errorf("branch files mismatch (-want +got):\n%s", diff)
	}
	if f.modes["gen.sh"] != "100755" {
		t.Errorf("gen.sh mode = %s; want the existing 100755 kept", f.modes["gen.sh"])
	}
	if c := f.commits[head]; c.Message != "Regenerate the SDK" || len(c.Parents) != 1 || c.Parents[0] != f.refs["main"] {
		t.Errorf("commit = %+v; want the title as message and main as the only parent", c)
	}
	wantPull := []*fakePull{{Number: 1, Head: "mockops/sdk-update", Base: "main", Title: "Regenerate the SDK", Body: "From the payments contract.",
		State: "open", Labels: []string{"sdk", "automated"}, Reviewers: []string{"alice", "sdk-team"}}}
	if diff := cmp.Diff(wantPull, f.pulls); diff != "" {
		t.Errorf("pull requests mismatch (-want +got):\n%s", diff)
	}

	// Second run, new content: the existing branch gets a commit on top of
	// its head and the open pull request is updated, not duplicated.
	with = githubWith(srv.URL, f.token, file("sdk/client.go", "package sdk // v2\n"))
	with["title"] = "Regenerate the SDK (v2)"
	out, err = runStep(t, r, "create_pr", with, steps.Input{})
	if err != nil {
		t.Fatalf("Run(second) = %v; want success", err)
	}
	diffLines(t, "second run requests", []string{
		"GET " + repo + "/git/ref/heads/main",
		"GET " + repo + "/git/ref/heads/mockops/sdk-update",
		"GET " + repo + "/git/commits/" + head,
		"GET " + repo + "/git/trees/" + f.commits[head].Tree,
		"POST " + repo + "/git/blobs",
		"POST " + repo + "/git/trees",
		"POST " + repo + "/git/commits",
		"PATCH " + repo + "/git/refs/heads/mockops/sdk-update",
		"GET " + repo + "/pulls",
		"PATCH " + repo + "/pulls/1",
		"POST " + repo + "/issues/1/labels",
		"POST " + repo + "/pulls/1/requested_reviewers",
	}, f.takeRequests())
	if len(f.pulls) != 1 || f.pulls[0].Title != "Regenerate the SDK (v2)" {
		t.Errorf("pull requests = %d, first titled %q; want 1, retitled", len(f.pulls), f.pulls[0].Title)
	}
	second := f.refs["mockops/sdk-update"]
	if out.Outputs["action"] != "updated" || out.Outputs["number"] != int64(1) || out.Outputs["commit_sha"] != second || second == head {
		t.Errorf("outputs = %v; want action updated, number 1, the new head %s", out.Outputs, second)
	}

	// Third run, same content: nothing to commit, the head stays.
	out, err = runStep(t, r, "create_pr", with, steps.Input{})
	if err != nil {
		t.Fatalf("Run(third) = %v; want success", err)
	}
	for _, req := range f.takeRequests() {
		if strings.HasPrefix(req, "POST "+repo+"/git/") || strings.HasPrefix(req, "PATCH "+repo+"/git/") {
			t.Errorf("unchanged files sent %s; want no blob, tree, commit or ref update", req)
		}
	}
	if out.Outputs["commit_sha"] != second || out.Outputs["action"] != "updated" || len(f.pulls) != 1 {
		t.Errorf("outputs = %v with %d pulls; want commit %s, updated, 1 pull", out.Outputs, len(f.pulls), second)
	}
}

func TestCreatePRGitHubErrors(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		setup     func(f *fakeGitHub)
		with      func(w map[string]any)
		wantErr   error // errors.Is, when set
		status    int   // *APIError status, when set
		permanent bool
		contains  string
		lastReq   string // the last request sent
	}{
		{
			name: "bad credentials", token: "wrong", status: 401, permanent: true, contains: "Bad credentials",
			lastReq: "GET /repos/octo/sdk/git/ref/heads/main",
		},
		{
			name: "missing base branch", with: func(w map[string]any) { w["base_branch"] = "develop" },
			status: 404, permanent: true, contains: "read base branch develop", lastReq: "GET /repos/octo/sdk/git/ref/heads/develop",
		},
		{
			name: "server error is retryable", status: 502, permanent: false,
			setup: func(f *fakeGitHub) {
				f.inject = func(m, p string) (int, string, bool) {
					return 502, `{"message":"Server Error"}`, m == "POST" && p == "/repos/octo/sdk/pulls"
				}
			},
			contains: "open pull request", lastReq: "POST /repos/octo/sdk/pulls",
		},
		{
			name: "validation failure is permanent", status: 422, permanent: true,
			setup: func(f *fakeGitHub) {
				f.inject = func(m, p string) (int, string, bool) {
					return 422, `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"No commits between main and mockops/sdk-update"}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"422"}`,
						m == "POST" && p == "/repos/octo/sdk/pulls"
				}
			},
			contains: "No commits between main and mockops/sdk-update", lastReq: "POST /repos/octo/sdk/pulls",
		},
		{
			name: "malformed answer is retryable", permanent: false, contains: "malformed answer",
			setup: func(f *fakeGitHub) {
				f.inject = func(m, p string) (int, string, bool) {
					return 201, `{"sha": `, m == "POST" && p == "/repos/octo/sdk/git/commits"
				}
			},
			lastReq: "POST /repos/octo/sdk/git/commits",
		},
		{
			name: "remaining reaches zero: stop before the next request", wantErr: steps.ErrRateLimited,
			setup: func(f *fakeGitHub) { f.remaining = 3 }, lastReq: "POST /repos/octo/sdk/git/refs",
		},
		{
			name: "403 rate limit answer", wantErr: steps.ErrRateLimited,
			setup: func(f *fakeGitHub) { f.remaining = 0 }, lastReq: "GET /repos/octo/sdk/git/ref/heads/main",
		},
		{
			name: "secondary rate limit with Retry-After", wantErr: steps.ErrRateLimited,
			setup: func(f *fakeGitHub) {
				f.inject = func(m, p string) (int, string, bool) {
					return 429, `{"message":"You have exceeded a secondary rate limit."}`, m == "POST" && p == "/repos/octo/sdk/git/blobs"
				}
			},
			lastReq: "POST /repos/octo/sdk/git/blobs",
		},
		{
			name: "an echoed base64 token is redacted", status: 401, permanent: true, contains: "[redacted]",
			setup: func(f *fakeGitHub) {
				f.inject = func(m, p string) (int, string, bool) {
					// base64 of the token.
					return 401, `{"message":"rejected Basic Z2hwX3MzY3IzdFQwa2Vu"}`, m == "GET" && p == "/repos/octo/sdk/git/ref/heads/main"
				}
			},
			lastReq: "GET /repos/octo/sdk/git/ref/heads/main",
		},
		{
			name: "an echoed token is redacted", status: 400, permanent: true, contains: "[redacted]",
			setup: func(f *fakeGitHub) {
				f.inject = func(m, p string) (int, string, bool) {
					return 400, `{"message":"bad header Bearer ghp_s3cr3tT0ken"}`, m == "POST" && p == "/repos/octo/sdk/git/refs"
				}
			},
			lastReq: "POST /repos/octo/sdk/git/refs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeGitHub(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			token := f.token
			if tt.token != "" {
				token = tt.token
			}
			with := githubWith(srv.URL, token, file("a.txt", "a"))
			if tt.with != nil {
				tt.with(with)
			}
			_, err := runStep(t, prRegistry(t), "create_pr", with, steps.Input{})
			if err == nil {
				t.Fatalf("Run = nil; want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Run = %v; want %v", err, tt.wantErr)
			}
			var rl *steps.RateLimitError
			if errors.Is(tt.wantErr, steps.ErrRateLimited) && (!errors.As(err, &rl) || rl.Reset.IsZero()) {
				t.Errorf("Run = %v; want a *RateLimitError with a reset time", err)
			}
			if tt.status != 0 {
				var apiErr *steps.APIError
				if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
					t.Errorf("Run = %v; want an *APIError with status %d", err, tt.status)
				}
			}
			if tt.wantErr == nil && steps.IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v; want %v", err, steps.IsPermanent(err), tt.permanent)
			}
			if steps.IsPermanent(err) && errors.Is(err, steps.ErrRateLimited) {
				t.Errorf("Run = %v: a rate limit must not be permanent", err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Run = %v; want it to mention %q", err, tt.contains)
			}
			if holdsSecret(err.Error(), f.token) {
				t.Errorf("Run = %v; the error holds the token", err)
			}
			reqs := f.takeRequests()
			if got := reqs[len(reqs)-1]; got != tt.lastReq {
				t.Errorf("last request = %s; want %s", got, tt.lastReq)
			}
		})
	}
}

func TestCreatePRConfig(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{"provider": "github", "repo": "o/r", "token": "t", "branch": "b", "title": "x", "files": []any{file("a", "1")}}
	}
	tests := []struct {
		name string
		edit func(w map[string]any)
	}{
		{"unknown provider", func(w map[string]any) { w["provider"] = "bitbucket" }},
		{"github repo without owner", func(w map[string]any) { w["repo"] = "r" }},
		{"gitlab empty repo", func(w map[string]any) { w["provider"], w["repo"] = "gitlab", "/" }},
		{"base URL with credentials", func(w map[string]any) { w["base_url"] = "https://u:p@ghe.example.com/api/v3" }},
		{"base URL not http", func(w map[string]any) { w["base_url"] = "file:///etc" }},
		{"empty token", func(w map[string]any) { w["token"] = "" }},
		{"bad branch", func(w map[string]any) { w["branch"] = "a..b" }},
		{"branch is base", func(w map[string]any) { w["branch"] = "main" }},
		{"no files", func(w map[string]any) { w["files"] = []any{} }},
		{"path escapes", func(w map[string]any) { w["files"] = []any{file("../x", "1")} }},
		{"absolute path", func(w map[string]any) { w["files"] = []any{file("/x", "1")} }},
		{"into .git", func(w map[string]any) { w["files"] = []any{file(".git/config", "1")} }},
		{"path twice", func(w map[string]any) { w["files"] = []any{file("a", "1"), file("a", "2")} }},
		{"delete with content", func(w map[string]any) {
			w["files"] = []any{map[string]any{"path": "a", "delete": true, "content": "x"}}
		}},
		{"missing title", func(w map[string]any) { delete(w, "title") }},
	}
	typ, _ := prRegistry(t).Lookup("create_pr")
	if _, err := typ.New(good()); err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := good()
			tt.edit(w)
			if _, err := typ.New(w); err == nil || !steps.IsPermanent(err) {
				t.Errorf("New = %v; want a permanent config error", err)
			}
		})
	}
}

// TestCreatePRGitHubBranchRace: the branch appears between the read and
// the create (another run for the same branch); the step uses it.
func TestCreatePRGitHubBranchRace(t *testing.T) {
	f, srv := newFakeGitHub(t)
	f.refs["mockops/sdk-update"] = f.refs["main"]
	first := true
	f.inject = func(m, p string) (int, string, bool) {
		if m == "GET" && p == "/repos/octo/sdk/git/ref/heads/mockops/sdk-update" && first {
			first = false
			return 404, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/git/refs#get-a-reference","status":"404"}`, true
		}
		return 0, "", false
	}
	out, err := runStep(t, prRegistry(t), "create_pr", githubWith(srv.URL, f.token, file("a.txt", "a")), steps.Input{})
	if err != nil {
		t.Fatalf("Run = %v; want success", err)
	}
	reqs := f.takeRequests()
	diffLines(t, "first requests", []string{
		"GET /repos/octo/sdk/git/ref/heads/main",
		"GET /repos/octo/sdk/git/ref/heads/mockops/sdk-update",
		"POST /repos/octo/sdk/git/refs",
		"GET /repos/octo/sdk/git/ref/heads/mockops/sdk-update",
	}, reqs[:4])
	if out.Outputs["action"] != "created" || f.files("mockops/sdk-update")["a.txt"] != "a" {
		t.Errorf("outputs = %v; want the PR created on the existing branch with a.txt", out.Outputs)
	}
}
