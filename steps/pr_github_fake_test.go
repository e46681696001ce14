package steps_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const ghPrefix = "/api/v3" // a GitHub Enterprise Server base path

// fakeGitHub implements the GitHub REST v3 endpoints create_pr uses over
// an in-memory repository, with the JSON shapes and error bodies of
// docs.github.com, and records every request.
type fakeGitHub struct {
	t     *testing.T
	token string
	owner string

	mu        sync.Mutex
	refs      map[string]string            // branch -> commit sha
	commits   map[string]fakeGHCommit      // sha -> commit
	trees     map[string]map[string]string // tree sha -> path -> blob sha
	modes     map[string]string            // path -> mode, for every tree
	blobs     map[string]string            // sha -> content
	pulls     []*fakePull
	requests  []string
	remaining int // X-RateLimit-Remaining; < 0 disables the header
	// inject, when set, may answer a request instead of the fake.
	inject func(method, path string) (status int, body string, ok bool)
}

type fakeGHCommit struct {
	Tree    string
	Parents []string
	Message string
}

type fakePull struct {
	Number             int64
	Head, Base         string
	Title, Body, State string
	Draft              bool
	Labels, Reviewers  []string
}

func gitSHA(kind, s string) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00%s", kind, len(s), s)
	return hex.EncodeToString(h.Sum(nil))
}

func newFakeGitHub(t *testing.T) (*fakeGitHub, *httptest.Server) {
	f := &fakeGitHub{
		t: t, token: "ghp_s3cr3tT0ken", owner: "octo", remaining: -1,
		refs: map[string]string{}, commits: map[string]fakeGHCommit{}, trees: map[string]map[string]string{},
		modes: map[string]string{}, blobs: map[string]string{},
	}
	// The base branch: README.md, old.txt and an executable script.
	files := map[string]string{}
	for path, content := range map[string]string{"README.md": "# sdk\n", "old.txt": "old", "gen.sh": "#!/bin/sh\n"} {
		sha := gitSHA("blob", content)
		f.blobs[sha] = content
		files[path] = sha
		f.modes[path] = "100644"
	}
	f.modes["gen.sh"] = "100755"
	tree := f.putTree(files)
	f.refs["main"] = f.putCommit(fakeGHCommit{Tree: tree, Message: "initial"})

	mux := http.NewServeMux()
	repo := ghPrefix + "/repos/{owner}/{repo}"
	mux.HandleFunc("GET "+repo+"/git/ref/heads/{branch...}", f.getRef)
	mux.HandleFunc("POST "+repo+"/git/refs", f.createRef)
	mux.HandleFunc("PATCH "+repo+"/git/refs/heads/{branch...}", f.updateRef)
	mux.HandleFunc("GET "+repo+"/git/commits/{sha}", f.getCommit)
	mux.HandleFunc("GET "+repo+"/git/trees/{sha}", f.getTree)
	mux.HandleFunc("POST "+repo+"/git/blobs", f.createBlob)
	mux.HandleFunc("POST "+repo+"/git/trees", f.createTree)
	mux.HandleFunc("POST "+repo+"/git/commits", f.createCommit)
	mux.HandleFunc("GET "+repo+"/pulls", f.listPulls)
	mux.HandleFunc("POST "+repo+"/pulls", f.createPull)
	mux.HandleFunc("PATCH "+repo+"/pulls/{number}", f.updatePull)
	mux.HandleFunc("POST "+repo+"/issues/{number}/labels", f.addLabels)
	mux.HandleFunc("POST "+repo+"/pulls/{number}/requested_reviewers", f.requestReviewers)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, r.Method+" "+strings.TrimPrefix(r.URL.Path, ghPrefix))
		if f.remaining >= 0 {
			w.Header().Set("X-RateLimit-Limit", "5000")
			w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(f.remaining-1, 0)))
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
			if f.remaining == 0 {
				ghError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1.", "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting")
				return
			}
			f.remaining--
		}
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			ghError(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
			ghError(w, http.StatusBadRequest, "missing the GitHub media type or API version", "https://docs.github.com/rest")
			return
		}
		if f.inject != nil {
			if status, body, ok := f.inject(r.Method, strings.TrimPrefix(r.URL.Path, ghPrefix)); ok {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				if status == http.StatusTooManyRequests {
					w.Header().Set("Retry-After", "60") // a secondary rate limit
				}
				w.WriteHeader(status)
				fmt.Fprint(w, body)
				return
			}
		}
		if r.PathValue("owner") != "" && r.PathValue("owner") != f.owner {
			ghError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func ghError(w http.ResponseWriter, status int, msg, doc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)})
}

func ghJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON", "https://docs.github.com/rest")
		return false
	}
	return true
}

func (f *fakeGitHub) putTree(files map[string]string) string {
	keys := slices.Sorted(maps.Keys(files))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s %s\n", f.modes[k], k, files[k])
	}
	sha := gitSHA("tree", b.String())
	f.trees[sha] = files
	return sha
}

func (f *fakeGitHub) putCommit(c fakeGHCommit) string {
	sha := gitSHA("commit", fmt.Sprint(c, len(f.commits)))
	f.commits[sha] = c
	return sha
}

// files returns the contents at a branch head.
func (f *fakeGitHub) files(branch string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for path, sha := range f.trees[f.commits[f.refs[branch]].Tree] {
		out[path] = f.blobs[sha]
	}
	return out
}

func (f *fakeGitHub) takeRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

func refJSON(branch, sha string) map[string]any {
	return map[string]any{"ref": "refs/heads/" + branch, "node_id": "REF_1", "url": "https://api.github.com/...",
		"object": map[string]any{"type": "commit", "sha": sha, "url": "https://api.github.com/..."}}
}

func (f *fakeGitHub) getRef(w http.ResponseWriter, r *http.Request) {
	sha, ok := f.refs[r.PathValue("branch")]
	if !ok {
		ghError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/git/refs#get-a-reference")
		return
	}
	ghJSON(w, http.StatusOK, refJSON(r.PathValue("branch"), sha))
}

func (f *fakeGitHub) createRef(w http.ResponseWriter, r *http.Request) {
	var body struct{ Ref, SHA string }
	if !decodeBody(w, r, &body) {
		return
	}
	branch, ok := strings.CutPrefix(body.Ref, "refs/heads/")
	if _, exists := f.refs[branch]; !ok || exists {
		ghError(w, http.StatusUnprocessableEntity, "Reference already exists", "https://docs.github.com/rest/git/refs#create-a-reference")
		return
	}
	if _, ok := f.commits[body.SHA]; !ok {
		ghError(w, http.StatusUnprocessableEntity, "Object does not exist", "https://docs.github.com/rest/git/refs#create-a-reference")
		return
	}
	f.refs[branch] = body.SHA
	ghJSON(w, http.StatusCreated, refJSON(branch, body.SHA))
}

func (f *fakeGitHub) updateRef(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SHA   string
		Force bool
	}
	if !decodeBody(w, r, &body) {
		return
	}
	branch := r.PathValue("branch")
	cur, ok := f.refs[branch]
	c, known := f.commits[body.SHA]
	switch {
	case !ok:
		ghError(w, http.StatusUnprocessableEntity, "Reference does not exist", "https://docs.github.com/rest/git/refs#update-a-reference")
	case !known:
		ghError(w, http.StatusUnprocessableEntity, "Object does not exist", "https://docs.github.com/rest/git/refs#update-a-reference")
	case !body.Force && !slices.Contains(c.Parents, cur):
		ghError(w, http.StatusUnprocessableEntity, "Update is not a fast forward", "https://docs.github.com/rest/git/refs#update-a-reference")
	default:
		f.refs[branch] = body.SHA
		ghJSON(w, http.StatusOK, refJSON(branch, body.SHA))
	}
}

func (f *fakeGitHub) commitJSON(sha string) map[string]any {
	c := f.commits[sha]
	parents := []map[string]string{}
	for _, p := range c.Parents {
		parents = append(parents, map[string]string{"sha": p})
	}
	return map[string]any{"sha": sha, "message": c.Message, "tree": map[string]string{"sha": c.Tree},
		"parents": parents, "html_url": "https://github.com/octo/sdk/commit/" + sha}
}

func (f *fakeGitHub) getCommit(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.commits[r.PathValue("sha")]; !ok {
		ghError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/git/commits#get-a-commit-object")
		return
	}
	ghJSON(w, http.StatusOK, f.commitJSON(r.PathValue("sha")))
}

func (f *fakeGitHub) getTree(w http.ResponseWriter, r *http.Request) {
	files, ok := f.trees[r.PathValue("sha")]
	if !ok || r.URL.Query().Get("recursive") == "" {
		ghError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/git/trees#get-a-tree")
		return
	}
	entries := []map[string]any{}
	for _, path := range slices.Sorted(maps.Keys(files)) {
		entries = append(entries, map[string]any{"path": path, "mode": f.modes[path], "type": "blob", "sha": files[path], "size": len(f.blobs[files[path]])})
	}
	ghJSON(w, http.StatusOK, map[string]any{"sha": r.PathValue("sha"), "tree": entries, "truncated": false})
}

func (f *fakeGitHub) createBlob(w http.ResponseWriter, r *http.Request) {
	var body struct{ Content, Encoding string }
	if !decodeBody(w, r, &body) {
		return
	}
	raw, err := base64.StdEncoding.DecodeString(body.Content)
	if body.Encoding != "base64" || err != nil {
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed", "https://docs.github.com/rest/git/blobs#create-a-blob")
		return
	}
	sha := gitSHA("blob", string(raw))
	f.blobs[sha] = string(raw)
	ghJSON(w, http.StatusCreated, map[string]string{"sha": sha, "url": "https://api.github.com/..."})
}

func (f *fakeGitHub) createTree(w http.ResponseWriter, r *http.Request) {
	var body struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path, Mode, Type string
			SHA              *string
		}
	}
	if !decodeBody(w, r, &body) {
		return
	}
	base, ok := f.trees[body.BaseTree]
	if !ok {
		ghError(w, http.StatusUnprocessableEntity, "base_tree is not a valid tree oid", "https://docs.github.com/rest/git/trees#create-a-tree")
		return
	}
	files := maps.Clone(base)
	for _, e := range body.Tree {
		if e.Type != "blob" || (e.Mode != "100644" && e.Mode != "100755") {
			ghError(w, http.StatusUnprocessableEntity, "Validation Failed", "https://docs.github.com/rest/git/trees#create-a-tree")
			return
		}
		if e.SHA == nil {
			if _, ok := files[e.Path]; !ok {
				ghError(w, http.StatusUnprocessableEntity, "GitRPC::BadObjectState", "https://docs.github.com/rest/git/trees#create-a-tree")
				return
			}
			delete(files, e.Path)
			continue
		}
		if _, ok := f.blobs[*e.SHA]; !ok {
			ghError(w, http.StatusUnprocessableEntity, "tree.sha "+*e.SHA+" is not a valid blob", "https://docs.github.com/rest/git/trees#create-a-tree")
			return
		}
		files[e.Path] = *e.SHA
		f.modes[e.Path] = e.Mode
	}
	ghJSON(w, http.StatusCreated, map[string]any{"sha": f.putTree(files), "tree": []any{}, "truncated": false})
}

func (f *fakeGitHub) createCommit(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Message, Tree string
		Parents       []string
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if _, ok := f.trees[body.Tree]; !ok || len(body.Parents) != 1 {
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed", "https://docs.github.com/rest/git/commits#create-a-commit")
		return
	}
	sha := f.putCommit(fakeGHCommit{Tree: body.Tree, Parents: body.Parents, Message: body.Message})
	ghJSON(w, http.StatusCreated, f.commitJSON(sha))
}

func (f *fakeGitHub) pullJSON(p *fakePull) map[string]any {
	return map[string]any{"number": p.Number, "state": p.State, "title": p.Title, "body": p.Body, "draft": p.Draft,
		"html_url": fmt.Sprintf("https://github.com/octo/sdk/pull/%d", p.Number),
		"head":     map[string]any{"ref": p.Head, "label": f.owner + ":" + p.Head}, "base": map[string]any{"ref": p.Base}}
}

func (f *fakeGitHub) listPulls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for _, p := range f.pulls {
		if (q.Get("state") == "" || q.Get("state") == p.State) && (q.Get("head") == "" || q.Get("head") == f.owner+":"+p.Head) && (q.Get("base") == "" || q.Get("base") == p.Base) {
			out = append(out, f.pullJSON(p))
		}
	}
	ghJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) createPull(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title, Head, Base, Body string
		Draft                   bool
	}
	if !decodeBody(w, r, &body) {
		return
	}
	for _, p := range f.pulls {
		if p.State == "open" && p.Head == body.Head && p.Base == body.Base {
			ghJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
				"errors":            []map[string]string{{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for " + f.owner + ":" + body.Head + "."}},
				"documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"})
			return
		}
	}
	if _, ok := f.refs[body.Head]; !ok {
		ghJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors":            []map[string]string{{"resource": "PullRequest", "field": "head", "code": "invalid"}},
			"documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"})
		return
	}
	p := &fakePull{Number: int64(len(f.pulls) + 1), Head: body.Head, Base: body.Base, Title: body.Title, Body: body.Body, State: "open", Draft: body.Draft}
	f.pulls = append(f.pulls, p)
	ghJSON(w, http.StatusCreated, f.pullJSON(p))
}

func (f *fakeGitHub) pull(w http.ResponseWriter, r *http.Request) *fakePull {
	n, _ := strconv.Atoi(r.PathValue("number"))
	if n < 1 || n > len(f.pulls) {
		ghError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/pulls/pulls")
		return nil
	}
	return f.pulls[n-1]
}

func (f *fakeGitHub) updatePull(w http.ResponseWriter, r *http.Request) {
	var body struct{ Title, Body string }
	p := f.pull(w, r)
	if p == nil || !decodeBody(w, r, &body) {
		return
	}
	p.Title, p.Body = body.Title, body.Body
	ghJSON(w, http.StatusOK, f.pullJSON(p))
}

func (f *fakeGitHub) addLabels(w http.ResponseWriter, r *http.Request) {
	var body struct{ Labels []string }
	p := f.pull(w, r)
	if p == nil || !decodeBody(w, r, &body) {
		return
	}
	out := []map[string]any{}
	for _, l := range body.Labels {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	for i, l := range p.Labels {
		out = append(out, map[string]any{"id": i + 1, "name": l, "color": "ededed"})
	}
	ghJSON(w, http.StatusOK, out)
}

func (f *fakeGitHub) requestReviewers(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	p := f.pull(w, r)
	if p == nil || !decodeBody(w, r, &body) {
		return
	}
	for _, rv := range append(body.Reviewers, body.TeamReviewers...) {
		if !slices.Contains(p.Reviewers, rv) {
			p.Reviewers = append(p.Reviewers, rv)
		}
	}
	ghJSON(w, http.StatusCreated, f.pullJSON(p))
}

// diffLines compares request sequences.
func diffLines(t *testing.T, what string, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}
