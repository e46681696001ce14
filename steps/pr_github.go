package steps

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GitHub REST v3 shapes, only the fields used.
type (
	ghRef struct {
		Ref    string `json:"ref"`
		Object struct {
			SHA string `json:"sha"`
		} `json:"object"`
	}
	ghCommit struct {
		SHA  string `json:"sha"`
		Tree struct {
			SHA string `json:"sha"`
		} `json:"tree"`
	}
	ghTreeEntry struct {
		Path string  `json:"path"`
		Mode string  `json:"mode"`
		Type string  `json:"type"`
		SHA  *string `json:"sha"` // null deletes the path
	}
	ghTree struct {
		SHA       string        `json:"sha"`
		Tree      []ghTreeEntry `json:"tree"`
		Truncated bool          `json:"truncated"`
	}
	ghPull struct {
		Number  int64  `json:"number"`
		HTMLURL string `json:"html_url"`
	}
)

// githubPR runs the git data API sequence: read the base branch head,
// find or create the branch, read its tree, create the changed blobs, one
// tree and one commit, move the branch to it, then find or open the pull
// request and add labels and reviewers.
func githubPR(ctx context.Context, c *apiClient, cfg CreatePRConfig) (prResult, error) {
	c.header = http.Header{
		"Accept":               {"application/vnd.github+json"},
		"X-Github-Api-Version": {"2022-11-28"},
	}
	owner, _, _ := strings.Cut(cfg.Repo, "/")
	repo := "/repos/" + escapeSegments(cfg.Repo)

	var base ghRef
	if err := c.do(ctx, http.MethodGet, repo+"/git/ref/heads/"+escapeSegments(cfg.BaseBranch), nil, &base); err != nil {
		return prResult{}, fmt.Errorf("read base branch %s: %w", cfg.BaseBranch, err)
	}
	var head ghRef
	err := c.do(ctx, http.MethodGet, repo+"/git/ref/heads/"+escapeSegments(cfg.Branch), nil, &head)
	switch {
	case isStatus(err, http.StatusNotFound):
		body := map[string]string{"ref": "refs/heads/" + cfg.Branch, "sha": base.Object.SHA}
		err := c.do(ctx, http.MethodPost, repo+"/git/refs", body, &head)
		if isStatus(err, http.StatusUnprocessableEntity) {
			// Created since we looked (another run for the same branch):
			// use it. A 422 for another reason fails the read as well.
			if rerr := c.do(ctx, http.MethodGet, repo+"/git/ref/heads/"+escapeSegments(cfg.Branch), nil, &head); rerr == nil {
				err = nil
			}
		}
		if err != nil {
			return prResult{}, fmt.Errorf("create branch %s: %w", cfg.Branch, err)
		}
	case err != nil:
		return prResult{}, fmt.Errorf("read branch %s: %w", cfg.Branch, err)
	}
	parent := head.Object.SHA

	var commit ghCommit
	if err := c.do(ctx, http.MethodGet, repo+"/git/commits/"+url.PathEscape(parent), nil, &commit); err != nil {
		return prResult{}, fmt.Errorf("read commit %s: %w", parent, err)
	}
	var tree ghTree
	if err := c.do(ctx, http.MethodGet, repo+"/git/trees/"+url.PathEscape(commit.Tree.SHA)+"?recursive=1", nil, &tree); err != nil {
		return prResult{}, fmt.Errorf("read tree %s: %w", commit.Tree.SHA, err)
	}
	existing := make(map[string]ghTreeEntry, len(tree.Tree))
	for _, e := range tree.Tree {
		if e.Type == "blob" {
			existing[e.Path] = e
		}
	}

	var entries []ghTreeEntry
	for _, f := range cfg.Files {
		old, ok := existing[f.Path]
		if f.Delete {
			// A truncated listing may not show the file: delete it anyway.
			if ok || tree.Truncated {
				mode := old.Mode
				if mode == "" {
					mode = "100644"
				}
				entries = append(entries, ghTreeEntry{Path: f.Path, Mode: mode, Type: "blob"})
			}
			continue
		}
		if ok && old.SHA != nil && *old.SHA == gitBlobSHA(f.Content) {
			continue
		}
		var blob struct {
			SHA string `json:"sha"`
		}
		body := map[string]string{"content": base64.StdEncoding.EncodeToString([]byte(f.Content)), "encoding": "base64"}
		if err := c.do(ctx, http.MethodPost, repo+"/git/blobs", body, &blob); err != nil {
			return prResult{}, fmt.Errorf("create blob for %s: %w", f.Path, err)
		}
		mode := "100644"
		if ok && old.Mode != "" {
			mode = old.Mode
		}
		entries = append(entries, ghTreeEntry{Path: f.Path, Mode: mode, Type: "blob", SHA: &blob.SHA})
	}

	sha := parent
	if len(entries) > 0 {
		var newTree ghTree
		if err := c.do(ctx, http.MethodPost, repo+"/git/trees", map[string]any{"base_tree": commit.Tree.SHA, "tree": entries}, &newTree); err != nil {
			return prResult{}, fmt.Errorf("create tree: %w", err)
		}
		var newCommit ghCommit
		body := map[string]any{"message": cfg.CommitMessage, "tree": newTree.SHA, "parents": []string{parent}}
		if err := c.do(ctx, http.MethodPost, repo+"/git/commits", body, &newCommit); err != nil {
			return prResult{}, fmt.Errorf("create commit: %w", err)
		}
		if err := c.do(ctx, http.MethodPatch, repo+"/git/refs/heads/"+escapeSegments(cfg.Branch), map[string]any{"sha": newCommit.SHA, "force": false}, nil); err != nil {
			return prResult{}, fmt.Errorf("update branch %s: %w", cfg.Branch, err)
		}
		sha = newCommit.SHA
	}

	var open []ghPull
	q := url.Values{"state": {"open"}, "head": {owner + ":" + cfg.Branch}, "base": {cfg.BaseBranch}}
	if err := c.do(ctx, http.MethodGet, repo+"/pulls?"+q.Encode(), nil, &open); err != nil {
		return prResult{}, fmt.Errorf("find pull request: %w", err)
	}
	var pr ghPull
	created := len(open) == 0
	if created {
		body := map[string]any{"title": cfg.Title, "head": cfg.Branch, "base": cfg.BaseBranch, "body": cfg.Body, "draft": cfg.Draft}
		if err := c.do(ctx, http.MethodPost, repo+"/pulls", body, &pr); err != nil {
			return prResult{}, fmt.Errorf("open pull request: %w", err)
		}
	} else {
		n := strconv.FormatInt(open[0].Number, 10)
		if err := c.do(ctx, http.MethodPatch, repo+"/pulls/"+n, map[string]any{"title": cfg.Title, "body": cfg.Body}, &pr); err != nil {
			return prResult{}, fmt.Errorf("update pull request #%s: %w", n, err)
		}
	}
	n := strconv.FormatInt(pr.Number, 10)
	if len(cfg.Labels) > 0 {
		if err := c.do(ctx, http.MethodPost, repo+"/issues/"+n+"/labels", map[string]any{"labels": cfg.Labels}, nil); err != nil {
			return prResult{}, fmt.Errorf("label pull request #%s: %w", n, err)
		}
	}
	if len(cfg.Reviewers) > 0 || len(cfg.TeamReviewers) > 0 {
		body := map[string]any{"reviewers": nonNil(cfg.Reviewers), "team_reviewers": nonNil(cfg.TeamReviewers)}
		if err := c.do(ctx, http.MethodPost, repo+"/pulls/"+n+"/requested_reviewers", body, nil); err != nil {
			return prResult{}, fmt.Errorf("request reviewers on #%s: %w", n, err)
		}
	}
	return prResult{URL: pr.HTMLURL, Number: pr.Number, CommitSHA: sha, Created: created}, nil
}

// gitBlobSHA is git's object id of a blob with content s, as GitHub
// reports it in trees: unchanged files need no new blob.
func gitBlobSHA(s string) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(s))
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func isStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
