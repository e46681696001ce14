package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// fakeGitHub stands in for api.github.com so that the quickstart can open
// a pull request without an account: it implements the git data and pulls
// endpoints the create_pr step calls (branch from base, blobs, tree,
// commit, move the branch, open the PR, label it), for one repository, in
// memory. It checks the bearer token, as GitHub would.
type fakeGitHub struct {
	repo  string // "owner/name"
	token string

	mu      sync.Mutex
	refs    map[string]string   // branch -> commit sha
	commits map[string]string   // commit sha -> tree sha
	trees   map[string][]ghFile // tree sha -> files
	blobs   map[string]string   // blob sha -> content (base64, as sent)
	pulls   []PullRequest
}

type ghFile struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	Type string `json:"type"`
	SHA  string `json:"sha"`
}

// PullRequest is one pull request the fake holds.
type PullRequest struct {
	Number int64    `json:"number"`
	Title  string   `json:"title"`
	Head   string   `json:"head"`
	Base   string   `json:"base"`
	Body   string   `json:"body"`
	Labels []string `json:"labels"`
	Files  []string `json:"-"` // paths in the head commit's tree
}

func newFakeGitHub(repo, token string) *fakeGitHub {
	g := &fakeGitHub{repo: repo, token: token, refs: map[string]string{}, commits: map[string]string{},
		trees: map[string][]ghFile{}, blobs: map[string]string{}}
	g.trees["tree0"] = nil
	g.commits["commit0"] = "tree0"
	g.refs["main"] = "commit0"
	return g
}

// pullRequests returns the pull requests opened so far.
func (g *fakeGitHub) pullRequests() []PullRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]PullRequest(nil), g.pulls...)
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(g.token)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/repos/"+g.repo+"/")
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	var body map[string]any
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPatch) {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	status, v := g.route(r.Method, rest, body)
	writeJSON(w, status, v)
}

// route answers one API call, with g.mu held.
func (g *fakeGitHub) route(method, rest string, body map[string]any) (int, any) {
	str := func(k string) string { s, _ := body[k].(string); return s }
	switch {
	case method == http.MethodGet && strings.HasPrefix(rest, "git/ref/heads/"):
		sha, ok := g.refs[strings.TrimPrefix(rest, "git/ref/heads/")]
		if !ok {
			return http.StatusNotFound, map[string]string{"message": "Not Found"}
		}
		return http.StatusOK, ref(rest, sha)
	case method == http.MethodPost && rest == "git/refs":
		branch := strings.TrimPrefix(str("ref"), "refs/heads/")
		if _, taken := g.refs[branch]; taken {
			return http.StatusUnprocessableEntity, map[string]string{"message": "Reference already exists"}
		}
		g.refs[branch] = str("sha")
		return http.StatusCreated, ref(branch, str("sha"))
	case method == http.MethodPatch && strings.HasPrefix(rest, "git/refs/heads/"):
		g.refs[strings.TrimPrefix(rest, "git/refs/heads/")] = str("sha")
		return http.StatusOK, ref(rest, str("sha"))
	case method == http.MethodGet && strings.HasPrefix(rest, "git/commits/"):
		sha := strings.TrimPrefix(rest, "git/commits/")
		tree, ok := g.commits[sha]
		if !ok {
			return http.StatusNotFound, map[string]string{"message": "Not Found"}
		}
		return http.StatusOK, map[string]any{"sha": sha, "tree": map[string]string{"sha": tree}}
	case method == http.MethodGet && strings.HasPrefix(rest, "git/trees/"):
		sha := strings.TrimPrefix(rest, "git/trees/")
		return http.StatusOK, map[string]any{"sha": sha, "tree": nonNil(g.trees[sha]), "truncated": false}
	case method == http.MethodPost && rest == "git/blobs":
		sha := digest("blob", str("content"))
		g.blobs[sha] = str("content")
		return http.StatusCreated, map[string]string{"sha": sha}
	case method == http.MethodPost && rest == "git/trees":
		files := append([]ghFile(nil), g.trees[str("base_tree")]...)
		entries, _ := body["tree"].([]any)
		for _, e := range entries {
			m, _ := e.(map[string]any)
			path, _ := m["path"].(string)
			sha, _ := m["sha"].(string)
			files = append(files, ghFile{Path: path, Mode: "100644", Type: "blob", SHA: sha})
		}
		sha := digest("tree", fmt.Sprint(files))
		g.trees[sha] = files
		return http.StatusCreated, map[string]string{"sha": sha}
	case method == http.MethodPost && rest == "git/commits":
		sha := digest("commit", str("message")+str("tree"))
		g.commits[sha] = str("tree")
		return http.StatusCreated, map[string]any{"sha": sha, "tree": map[string]string{"sha": str("tree")}}
	case method == http.MethodGet && strings.HasPrefix(rest, "pulls"):
		return http.StatusOK, []any{} // no open pull request: create_pr opens one
	case method == http.MethodPost && rest == "pulls":
		pr := PullRequest{Number: int64(len(g.pulls) + 1), Title: str("title"), Head: str("head"), Base: str("base"), Body: str("body")}
		for _, f := range g.trees[g.commits[g.refs[pr.Head]]] {
			pr.Files = append(pr.Files, f.Path)
		}
		g.pulls = append(g.pulls, pr)
		return http.StatusCreated, map[string]any{"number": pr.Number, "html_url": "https://github.example/" + g.repo + "/pull/" + strconv.FormatInt(pr.Number, 10)}
	case method == http.MethodPost && strings.HasPrefix(rest, "issues/") && strings.HasSuffix(rest, "/labels"):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rest, "issues/"), "/labels"))
		if err != nil || n < 1 || n > len(g.pulls) {
			return http.StatusNotFound, map[string]string{"message": "Not Found"}
		}
		labels, _ := body["labels"].([]any)
		for _, l := range labels {
			s, _ := l.(string)
			g.pulls[n-1].Labels = append(g.pulls[n-1].Labels, s)
		}
		return http.StatusOK, labels
	}
	return http.StatusNotFound, map[string]string{"message": "Not Found"}
}

func ref(branch, sha string) map[string]any {
	return map[string]any{"ref": "refs/heads/" + branch, "object": map[string]string{"sha": sha}}
}

func digest(kind, s string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + s))
	return hex.EncodeToString(h[:20])
}

func nonNil(fs []ghFile) []ghFile {
	if fs == nil {
		return []ghFile{}
	}
	return fs
}
