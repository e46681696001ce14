package steps

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CreatePRConfig is the `with:` block of the create_pr step type.
type CreatePRConfig struct {
	// Provider is "github" or "gitlab".
	Provider string `json:"provider" step:"required"`
	// BaseURL is the API root: https://api.github.com (default for github),
	// https://HOST/api/v3 for GitHub Enterprise Server,
	// https://gitlab.com/api/v4 (default for gitlab) or a self-managed
	// GitLab's /api/v4.
	BaseURL string `json:"base_url"`
	// Repo is "owner/name" on GitHub, the project's full path
	// ("group/sub/project") or numeric id on GitLab.
	Repo string `json:"repo" step:"required"`
	// Token authenticates (a secret: `${{ secrets.GITHUB_TOKEN }}`). It is
	// sent as a Bearer token and never appears in outputs or errors.
	Token string `json:"token" step:"required"`
	// Branch is the head branch, created from BaseBranch when missing and
	// updated when it exists.
	Branch     string `json:"branch" step:"required"`
	BaseBranch string `json:"base_branch"` // default "main"
	Title      string `json:"title" step:"required"`
	Body       string `json:"body"`
	// CommitMessage defaults to the title.
	CommitMessage string `json:"commit_message"`
	// Files and Directories are the changes; at least one must be given.
	Files []PRFile `json:"files"`
	// Directories commits the regular files of host directories (an SDK
	// regenerate_sdk produced), when the host set CreatePROptions.FilesRoot.
	Directories []PRDirectory `json:"directories"`
	Labels      []string      `json:"labels"`
	// Reviewers are GitHub logins; TeamReviewers GitHub team slugs.
	Reviewers     []string `json:"reviewers"`
	TeamReviewers []string `json:"team_reviewers"`
	// ReviewerIDs are GitLab user ids.
	ReviewerIDs []int64 `json:"reviewer_ids"`
	// Draft opens a draft PR (GitHub) or a "Draft:" merge request (GitLab).
	Draft bool `json:"draft"`
}

// PRFile is one change of the commit: a file created or replaced with
// Content, or deleted.
type PRFile struct {
	Path    string `json:"path" step:"required"`
	Content string `json:"content"`
	Delete  bool   `json:"delete"`
}

// PRDirectory adds every regular file under a host directory, From, to
// the commit, at the same relative path under To in the repository ("" is
// the repository root). From is absolute or relative to the host's
// CreatePROptions.FilesRoot and must lie inside it (symbolic links
// resolved); symbolic links inside it are not followed.
type PRDirectory struct {
	From string `json:"from" step:"required"`
	To   string `json:"to"`
}

// CreatePROptions is what a host gives the create_pr step type.
type CreatePROptions struct {
	// Client sends every request; nil means the default outbound client
	// (NewHTTPClient(HTTPConfig{})), which brings the timeouts, retries on
	// 429/5xx and the egress policy. RegisterBuiltins passes the client
	// its Deps describe.
	Client *http.Client
	// FilesRoot is the only host directory `directories:` may read from
	// (typically the CommandGenerator's Root). Empty refuses
	// `directories:`, so a pipeline cannot publish host files by default.
	FilesRoot string
	// MaxDirectoryFiles and MaxDirectoryBytes bound what `directories:`
	// add to one commit (defaults 1000 files, 32 MiB).
	MaxDirectoryFiles int
	MaxDirectoryBytes int64
}

// prResult is what both providers report.
type prResult struct {
	URL       string
	Number    int64
	CommitSHA string
	Created   bool
}

// RegisterCreatePR registers the create_pr step type. It commits Files to
// Branch (created from BaseBranch if missing) in one commit, then opens a
// pull request (GitHub) or merge request (GitLab) from it, or updates the
// open one: running the step twice for one branch never opens a second.
// Files whose content is already on the branch, and deletions of files
// that are not there, are left out; when nothing changes no commit is made.
//
// client sends every request; nil means http.DefaultClient (tests).
// RegisterBuiltins passes the shared outbound client, which brings the
// timeouts, retries on 429/5xx and the egress policy. RegisterCreatePR
// refuses `directories:`; RegisterCreatePRWith configures it.
//
// Outputs:
//
//	url         the pull/merge request's web URL
//	number      its number (GitHub) or iid (GitLab)
//	branch      the head branch
//	commit_sha  the branch head after the step (the new commit, or the
//	            existing head when nothing changed)
//	action      "created" or "updated"
//
// Errors: a 4xx answer (other than 408 and 429) is permanent and an
// *APIError carrying the provider's message; 5xx, 408 and malformed
// answers are retryable; an exhausted rate limit (GitHub's
// X-RateLimit-Remaining: 0, a 429, a secondary limit) stops the run before
// the next request with a *RateLimitError (errors.Is ErrRateLimited), to be
// retried after its Reset.
func RegisterCreatePR(r *Registry, client *http.Client) error {
	return RegisterCreatePRWith(r, CreatePROptions{Client: client})
}

// RegisterCreatePRWith is RegisterCreatePR with every option.
func RegisterCreatePRWith(r *Registry, opts CreatePROptions) error {
	client := opts.Client
	if client == nil {
		client = NewHTTPClient(HTTPConfig{})
	}
	if opts.MaxDirectoryFiles <= 0 {
		opts.MaxDirectoryFiles = 1000
	}
	if opts.MaxDirectoryBytes <= 0 {
		opts.MaxDirectoryBytes = 32 << 20
	}
	return Register(r, "create_pr", func(cfg CreatePRConfig) (Step, error) {
		if err := checkPRConfig(&cfg); err != nil {
			return nil, Permanent(fmt.Errorf("steps: create_pr: %w", err))
		}
		if len(cfg.Directories) > 0 && opts.FilesRoot == "" {
			return nil, Permanent(errors.New("steps: create_pr: directories: the host configured no FilesRoot"))
		}
		return StepFunc(func(ctx context.Context, in Input) (Output, error) {
			if len(cfg.Directories) > 0 {
				files, err := readDirectories(opts, cfg)
				if err != nil {
					return Output{}, fmt.Errorf("steps: create_pr: directories: %w", err)
				}
				cfg.Files = files
			}
			api := &apiClient{client: client, base: strings.TrimSuffix(cfg.BaseURL, "/"), provider: cfg.Provider, token: cfg.Token}
			var res prResult
			var err error
			switch cfg.Provider {
			case "github":
				res, err = githubPR(ctx, api, cfg)
			case "gitlab":
				res, err = gitlabPR(ctx, api, cfg)
			}
			if err != nil {
				return Output{}, fmt.Errorf("steps: create_pr %s %s: %w", cfg.Provider, cfg.Repo, err)
			}
			action := "updated"
			if res.Created {
				action = "created"
			}
			if in.Logger != nil {
				in.Logger.LogAttrs(ctx, slog.LevelInfo, "pull request "+action, slog.String("provider", cfg.Provider),
					slog.String("repo", cfg.Repo), slog.Int64("number", res.Number), slog.String("commit", res.CommitSHA))
			}
			return Output{Outputs: map[string]any{
				"url": res.URL, "number": res.Number, "branch": cfg.Branch, "commit_sha": res.CommitSHA, "action": action,
			}}, nil
		}), nil
	})
}

func checkPRConfig(cfg *CreatePRConfig) error {
	switch cfg.Provider {
	case "github":
		if cfg.BaseURL == "" {
			cfg.BaseURL = "https://api.github.com"
		}
		if o, n, ok := strings.Cut(cfg.Repo, "/"); !ok || o == "" || n == "" || strings.Contains(n, "/") {
			return fmt.Errorf("repo %q: want owner/name", cfg.Repo)
		}
	case "gitlab":
		if cfg.BaseURL == "" {
			cfg.BaseURL = "https://gitlab.com/api/v4"
		}
		if cfg.Repo == "" || strings.HasPrefix(cfg.Repo, "/") || strings.HasSuffix(cfg.Repo, "/") {
			return fmt.Errorf("repo %q: want a project path or id", cfg.Repo)
		}
	default:
		return fmt.Errorf("provider %q: want github or gitlab", cfg.Provider)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return errors.New("base_url: want an http(s) URL without credentials or query")
	}
	if cfg.BaseBranch == "" {
		cfg.BaseBranch = "main"
	}
	if cfg.CommitMessage == "" {
		cfg.CommitMessage = cfg.Title
	}
	if cfg.Token == "" {
		return errors.New("empty token")
	}
	if !validBranch(cfg.Branch) || !validBranch(cfg.BaseBranch) {
		return fmt.Errorf("branch %q or base_branch %q is not a valid branch name", cfg.Branch, cfg.BaseBranch)
	}
	if cfg.Branch == cfg.BaseBranch {
		return fmt.Errorf("branch and base_branch are both %q", cfg.Branch)
	}
	if len(cfg.Files) == 0 && len(cfg.Directories) == 0 {
		return errors.New("no files and no directories")
	}
	for i, d := range cfg.Directories {
		if d.From == "" {
			return fmt.Errorf("directories[%d].from: empty", i)
		}
		if d.To != "" && !validRepoPath(d.To) {
			return fmt.Errorf("directories[%d].to %q: want a relative slash-separated path without . or .. elements", i, d.To)
		}
	}
	seen := map[string]bool{}
	for i, f := range cfg.Files {
		if !validRepoPath(f.Path) {
			return fmt.Errorf("files[%d].path %q: want a relative slash-separated path without . or .. elements", i, f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("files[%d].path %q: listed twice", i, f.Path)
		}
		seen[f.Path] = true
		if f.Delete && f.Content != "" {
			return fmt.Errorf("files[%d] %q: delete with content", i, f.Path)
		}
	}
	return nil
}

// validBranch is a conservative subset of git check-ref-format.
func validBranch(b string) bool {
	if b == "" || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") ||
		strings.HasPrefix(b, "-") || strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f || strings.ContainsRune("~^:?*[\\", c) {
			return false
		}
	}
	return true
}

func validRepoPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." || el == ".git" {
			return false
		}
	}
	return true
}

// escapeSegments escapes each '/'-separated element of p for a URL path.
func escapeSegments(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// escapeAll escapes p as one URL path element, '/' included (GitLab ids).
func escapeAll(p string) string { return strings.ReplaceAll(url.PathEscape(p), "/", "%2F") }

// ErrRateLimited is matched (errors.Is) by *RateLimitError.
var ErrRateLimited = errors.New("steps: rate limited")

// RateLimitError reports an exhausted API rate limit; retry after Reset.
type RateLimitError struct {
	Provider string
	Reset    time.Time // zero when the API did not say
}

func (e *RateLimitError) Error() string {
	if e.Reset.IsZero() {
		return e.Provider + " rate limit exhausted"
	}
	return e.Provider + " rate limit exhausted until " + e.Reset.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// APIError is an error answer of a provider's API.
type APIError struct {
	Provider string
	Method   string
	Path     string // the request path, without query
	Status   int
	Message  string // the provider's message, secrets removed, bounded
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// apiClient sends JSON requests to one provider for one step run.
type apiClient struct {
	client   *http.Client
	base     string
	provider string
	token    string
	header   http.Header // extra request headers (Accept, API version)

	// GitHub's primary rate limit as last reported.
	remaining int // -1 unknown
	reset     time.Time
	known     bool
}

// do sends method path with body (JSON-encoded unless nil) and decodes a
// 2xx answer into out (when not nil). A non-2xx answer is an *APIError,
// wrapped Permanent for a 4xx other than 408 and 429.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	return c.send(ctx, method, path, body, out, nil)
}

// head sends a HEAD request and stores the answer's header in *h.
func (c *apiClient) head(ctx context.Context, path string, h *http.Header) error {
	return c.send(ctx, http.MethodHead, path, nil, nil, h)
}

func (c *apiClient) send(ctx context.Context, method, path string, body, out any, h *http.Header) error {
	if c.known && c.remaining == 0 && time.Now().Before(c.reset) {
		return &RateLimitError{Provider: c.provider, Reset: c.reset}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, pathOnly(path), err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", "mockops")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// The URL holds no secret (checked at load), the token is a header.
		return fmt.Errorf("%s %s: %w", method, pathOnly(path), c.redactErr(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, pathOnly(path), c.redactErr(err))
	}
	c.noteRateLimit(resp.Header)
	if h != nil {
		*h = resp.Header
	}
	if resp.StatusCode/100 != 2 {
		if rl := c.rateLimited(resp); rl != nil {
			return rl
		}
		e := &APIError{Provider: c.provider, Method: method, Path: pathOnly(path), Status: resp.StatusCode, Message: c.redact(apiMessage(data))}
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout {
			return Permanent(e)
		}
		return e
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: malformed answer: %w", method, pathOnly(path), err)
		}
	}
	return nil
}

func pathOnly(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}

// noteRateLimit records GitHub's X-RateLimit-Remaining/Reset (GitLab
// sends the same as RateLimit-Remaining/Reset); Reset is in Unix seconds.
func (c *apiClient) noteRateLimit(h http.Header) {
	prefix := "X-"
	if h.Get("X-RateLimit-Remaining") == "" {
		prefix = ""
	}
	rem, err := strconv.Atoi(h.Get(prefix + "RateLimit-Remaining"))
	if err != nil {
		return
	}
	c.known, c.remaining = true, rem
	if reset, err := strconv.ParseInt(h.Get(prefix+"RateLimit-Reset"), 10, 64); err == nil {
		c.reset = time.Unix(reset, 0)
	}
}

// rateLimited recognises GitHub's primary (403/429 with
// X-RateLimit-Remaining: 0) and secondary (403/429 with Retry-After)
// limits, and any 429.
func (c *apiClient) rateLimited(resp *http.Response) *RateLimitError {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return nil
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
		return &RateLimitError{Provider: c.provider, Reset: time.Now().Add(time.Duration(secs) * time.Second)}
	}
	if c.known && c.remaining == 0 {
		return &RateLimitError{Provider: c.provider, Reset: c.reset}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return &RateLimitError{Provider: c.provider}
	}
	return nil
}

// apiMessage extracts the human message of a GitHub ({"message", "errors":
// [{"message"|"code"}]}) or GitLab ({"message": string|list|object},
// {"error", "error_description"}) error body, bounded.
func apiMessage(data []byte) string {
	var body struct {
		Message     json.RawMessage `json:"message"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
		Errors      []struct {
			Message  string `json:"message"`
			Code     string `json:"code"`
			Field    string `json:"field"`
			Resource string `json:"resource"`
		} `json:"errors"`
	}
	if json.Unmarshal(data, &body) != nil {
		return ""
	}
	var parts []string
	if len(body.Message) > 0 {
		var s string
		if json.Unmarshal(body.Message, &s) == nil {
			parts = append(parts, s)
		} else {
			parts = append(parts, string(body.Message)) // GitLab's list or field map, as JSON
		}
	}
	if body.Error != "" {
		parts = append(parts, body.Error)
	}
	if body.Description != "" {
		parts = append(parts, body.Description)
	}
	for _, e := range body.Errors {
		switch {
		case e.Message != "":
			parts = append(parts, e.Message)
		case e.Code != "":
			parts = append(parts, strings.TrimSpace(e.Resource+" "+e.Field+" "+e.Code))
		}
	}
	msg := strings.Join(parts, "; ")
	if len(msg) > 500 {
		msg = strings.ToValidUTF8(msg[:500], "") + "..."
	}
	return msg
}

// redact removes the token, as is and base64-encoded (as in a Basic
// authorization header an API might echo), from s.
func (c *apiClient) redact(s string) string {
	if c.token == "" {
		return s
	}
	s = strings.ReplaceAll(s, c.token, "[redacted]")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s = strings.ReplaceAll(s, enc.EncodeToString([]byte(c.token)), "[redacted]")
	}
	return s
}

// redactErr keeps the chain (errors.Is on context errors) when the token
// is not in the message, which is the normal case.
func (c *apiClient) redactErr(err error) error {
	if msg := err.Error(); c.redact(msg) != msg {
		return errors.New(c.redact(msg))
	}
	return err
}
