package steps

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// HTTPStepConfig is the `with:` block of the "http" step: one request.
//
// Outputs: status (the status code), headers (lower-cased names, values of
// a repeated header joined by ", "), body (the answer as text) and json
// (the answer parsed, when its Content-Type is JSON; absent otherwise).
// An answer whose status is not expected fails the step: a 4xx (but 408
// and 429) permanently. The URL and headers may hold secrets: errors and
// logs name the scheme and host only.
type HTTPStepConfig struct {
	// Method is the request method (default GET).
	Method string `json:"method"`
	// URL is the http or https URL to call.
	URL string `json:"url" step:"required"`
	// Headers are sent as given.
	Headers map[string]string `json:"headers"`
	// JSON is encoded as the request body (Content-Type application/json
	// unless Headers sets one). It excludes Body.
	JSON any `json:"json"`
	// Body is sent as text (Content-Type text/plain; charset=utf-8 unless
	// Headers sets one).
	Body string `json:"body"`
	// ExpectStatus lists the statuses that succeed (default: any 2xx).
	ExpectStatus []int `json:"expect_status"`
	// IdempotencyKey is sent as the Idempotency-Key header, unchanged
	// across retries; "auto" derives one from the pipeline, execution and
	// step ids, so every attempt of one step run shares it.
	IdempotencyKey string `json:"idempotency_key"`
}

// RegisterHTTP registers the "http" step type in r.
func RegisterHTTP(r *Registry, deps Deps) error {
	if err := deps.check(); err != nil {
		return err
	}
	c := deps.client()
	log := deps.logger()
	return Register(r, "http", func(cfg HTTPStepConfig) (Step, error) {
		return &httpStep{cfg: cfg, client: c, log: log}, nil
	})
}

type httpStep struct {
	cfg    HTTPStepConfig
	client *http.Client
	log    *slog.Logger
}

// IdempotencyKey derives a key that every attempt of one step run shares
// and no other run does, for targets that accept an Idempotency-Key.
func IdempotencyKey(in Input, parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{in.Pipeline, in.Execution, in.StepID}, parts...) {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return "mockops-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// parseTargetURL checks a configured URL without ever putting it in the
// error: it may be a credential.
func parseTargetURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Permanent(&ConfigError{Path: field, Msg: "not a valid URL"})
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, Permanent(&ConfigError{Path: field, Msg: "must be an absolute http or https URL"})
	}
	return u, nil
}

func (s *httpStep) Run(ctx context.Context, in Input) (Output, error) {
	cfg := s.cfg
	method := cfg.Method
	if method == "" {
		method = http.MethodGet
	}
	if !isToken(method) {
		return Output{}, Permanent(&ConfigError{Path: "with.method", Msg: fmt.Sprintf("%q is not an HTTP method", method)})
	}
	u, err := parseTargetURL("with.url", cfg.URL)
	if err != nil {
		return Output{}, err
	}
	if cfg.JSON != nil && cfg.Body != "" {
		return Output{}, Permanent(&ConfigError{Path: "with", Msg: "json and body exclude each other"})
	}
	var body []byte
	ctype := ""
	switch {
	case cfg.JSON != nil:
		if body, err = json.Marshal(cfg.JSON); err != nil {
			return Output{}, Permanent(&ConfigError{Path: "with.json", Msg: "cannot be encoded as JSON"})
		}
		ctype = "application/json"
	case cfg.Body != "":
		body, ctype = []byte(cfg.Body), "text/plain; charset=utf-8"
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bodyReader(body))
	if err != nil {
		return Output{}, Permanent(&ConfigError{Path: "with", Msg: "cannot build the request"})
	}
	for k, v := range cfg.Headers {
		if !isToken(k) || strings.ContainsAny(v, "\r\n\x00") {
			return Output{}, Permanent(&ConfigError{Path: "with.headers", Msg: fmt.Sprintf("header %q has an invalid name or value", k)})
		}
		req.Header.Set(k, v)
	}
	if ctype != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", ctype)
	}
	switch cfg.IdempotencyKey {
	case "":
	case "auto":
		req.Header.Set("Idempotency-Key", IdempotencyKey(in))
	default:
		req.Header.Set("Idempotency-Key", cfg.IdempotencyKey)
	}
	resp, rbody, err := send(s.client, req)
	if err != nil {
		return Output{}, err
	}
	out := map[string]any{
		"status":  resp.StatusCode,
		"headers": flatHeaders(resp.Header),
		"body":    string(rbody),
	}
	if isJSON(resp.Header.Get("Content-Type")) && len(bytes.TrimSpace(rbody)) > 0 {
		var v any
		if err := json.Unmarshal(rbody, &v); err != nil {
			return Output{Outputs: out}, fmt.Errorf("steps: %s %s: malformed JSON answer: %w", method, redactURL(u), err)
		}
		out["json"] = v
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(cfg.ExpectStatus) > 0 {
		ok = slices.Contains(cfg.ExpectStatus, resp.StatusCode)
	}
	if !ok {
		return Output{Outputs: out}, statusErr(req, resp.StatusCode, rbody, func(s string) string { return scrub(s, cfg.URL, cfg.Headers) })
	}
	log := in.Logger
	if log == nil {
		log = s.log
	}
	log.InfoContext(ctx, "steps: http request done", "method", method, "host", redactURL(u), "status", resp.StatusCode)
	return Output{Outputs: out}, nil
}

// bodyReader returns a reader http.NewRequest knows how to replay (so the
// client may retry), or nil for no body.
func bodyReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

func flatHeaders(h http.Header) map[string]any {
	m := make(map[string]any, len(h))
	for k, v := range h {
		m[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return m
}

func isJSON(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// scrub removes from s every configured value that may be secret: the
// URL, its path and query, header values.
func scrub(s, rawURL string, headers map[string]string) string {
	if s == "" {
		return s
	}
	secrets := []string{rawURL}
	if u, err := url.Parse(rawURL); err == nil {
		secrets = append(secrets, u.Path, u.RawQuery, u.User.String())
		secrets = append(secrets, strings.Split(u.Path, "/")...)
	}
	for _, v := range headers {
		secrets = append(secrets, v)
	}
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			return ""
		}
	}
	return s
}

// isToken reports whether s is an RFC 9110 token (a method, a header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
