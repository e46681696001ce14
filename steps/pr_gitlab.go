package steps

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GitLab REST v4 shapes, only the fields used.
type (
	glBranch struct {
		Name   string `json:"name"`
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	glAction struct {
		Action   string `json:"action"` // create | update | delete
		FilePath string `json:"file_path"`
		Content  string `json:"content,omitempty"`
		Encoding string `json:"encoding,omitempty"`
	}
	glMR struct {
		IID    int64  `json:"iid"`
		WebURL string `json:"web_url"`
	}
)

// gitlabPR finds or creates the branch, commits the changed files with
// one commit of actions, then finds or opens the merge request.
func gitlabPR(ctx context.Context, c *apiClient, cfg CreatePRConfig) (prResult, error) {
	project := "/projects/" + escapeAll(cfg.Repo)

	var branch glBranch
	err := c.do(ctx, http.MethodGet, project+"/repository/branches/"+escapeAll(cfg.Branch), nil, &branch)
	switch {
	case isStatus(err, http.StatusNotFound):
		body := map[string]string{"branch": cfg.Branch, "ref": cfg.BaseBranch}
		err := c.do(ctx, http.MethodPost, project+"/repository/branches", body, &branch)
		if isStatus(err, http.StatusBadRequest) {
			// "Branch already exists": created since we looked.
			if rerr := c.do(ctx, http.MethodGet, project+"/repository/branches/"+escapeAll(cfg.Branch), nil, &branch); rerr == nil {
				err = nil
			}
		}
		if err != nil {
			return prResult{}, fmt.Errorf("create branch %s: %w", cfg.Branch, err)
		}
	case err != nil:
		return prResult{}, fmt.Errorf("read branch %s: %w", cfg.Branch, err)
	}

	var actions []glAction
	for _, f := range cfg.Files {
		sum, exists, err := gitlabFileSHA256(ctx, c, project, f.Path, cfg.Branch)
		if err != nil {
			return prResult{}, err
		}
		switch {
		case f.Delete && exists:
			actions = append(actions, glAction{Action: "delete", FilePath: f.Path})
		case f.Delete:
		case exists && sum == sha256Hex(f.Content):
		default:
			a := glAction{Action: "create", FilePath: f.Path, Content: base64.StdEncoding.EncodeToString([]byte(f.Content)), Encoding: "base64"}
			if exists {
				a.Action = "update"
			}
			actions = append(actions, a)
		}
	}
	sha := branch.Commit.ID
	if len(actions) > 0 {
		var commit struct {
			ID string `json:"id"`
		}
		body := map[string]any{"branch": cfg.Branch, "commit_message": cfg.CommitMessage, "actions": actions}
		if err := c.do(ctx, http.MethodPost, project+"/repository/commits", body, &commit); err != nil {
			return prResult{}, fmt.Errorf("commit: %w", err)
		}
		sha = commit.ID
	}

	title := cfg.Title
	if cfg.Draft && !strings.HasPrefix(title, "Draft:") {
		title = "Draft: " + title
	}
	var open []glMR
	q := url.Values{"state": {"opened"}, "source_branch": {cfg.Branch}, "target_branch": {cfg.BaseBranch}}
	if err := c.do(ctx, http.MethodGet, project+"/merge_requests?"+q.Encode(), nil, &open); err != nil {
		return prResult{}, fmt.Errorf("find merge request: %w", err)
	}
	body := map[string]any{"title": title, "description": cfg.Body}
	if len(cfg.ReviewerIDs) > 0 {
		body["reviewer_ids"] = cfg.ReviewerIDs
	}
	var mr glMR
	created := len(open) == 0
	if created {
		body["source_branch"], body["target_branch"] = cfg.Branch, cfg.BaseBranch
		if len(cfg.Labels) > 0 {
			body["labels"] = strings.Join(cfg.Labels, ",")
		}
		if err := c.do(ctx, http.MethodPost, project+"/merge_requests", body, &mr); err != nil {
			return prResult{}, fmt.Errorf("open merge request: %w", err)
		}
	} else {
		if len(cfg.Labels) > 0 {
			body["add_labels"] = strings.Join(cfg.Labels, ",")
		}
		iid := strconv.FormatInt(open[0].IID, 10)
		if err := c.do(ctx, http.MethodPut, project+"/merge_requests/"+iid, body, &mr); err != nil {
			return prResult{}, fmt.Errorf("update merge request !%s: %w", iid, err)
		}
	}
	return prResult{URL: mr.WebURL, Number: mr.IID, CommitSHA: sha, Created: created}, nil
}

// gitlabFileSHA256 asks for a file's metadata on ref (HEAD
// /repository/files/:path answers with X-Gitlab-Content-Sha256).
func gitlabFileSHA256(ctx context.Context, c *apiClient, project, path, ref string) (sum string, exists bool, err error) {
	var h http.Header
	err = c.head(ctx, project+"/repository/files/"+escapeAll(path)+"?ref="+url.QueryEscape(ref), &h)
	switch {
	case isStatus(err, http.StatusNotFound):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read file %s: %w", path, err)
	}
	return h.Get("X-Gitlab-Content-Sha256"), true, nil
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
