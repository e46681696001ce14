package steps

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// WebhookTarget sends a JSON body to any HTTP endpoint, signed in the
// Standard Webhooks layout (https://www.standardwebhooks.com) when Secret
// is set, so receivers verify it with an existing library.
//
// The body is Payload with "event_id", "event_type", "execution_id" and
// "pipeline" added (Payload may not set those keys). Headers sent:
// webhook-id (the same on every attempt of one step run, for receivers to
// deduplicate), webhook-timestamp (Unix seconds) and, with a Secret,
// webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>". Any
// 2xx is delivery.
type WebhookTarget struct {
	URL string `json:"url" step:"required"`
	// Method defaults to POST.
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Payload map[string]any    `json:"payload"`
	// Secret is the signing key as "whsec_<base64>" (the Standard
	// Webhooks form; the bare base64 is accepted too).
	Secret string `json:"secret"`
}

var webhookReserved = []string{"event_id", "event_type", "execution_id", "pipeline"}

func (n *notifier) webhook(path string, t WebhookTarget, name string) (func(context.Context, Input) (map[string]any, error), error) {
	u, err := parseTargetURL(path+".url", t.URL)
	if err != nil {
		return nil, err
	}
	method := t.Method
	if method == "" {
		method = http.MethodPost
	}
	if !isToken(method) {
		return nil, &ConfigError{Path: path + ".method", Msg: fmt.Sprintf("%q is not an HTTP method", method)}
	}
	for _, k := range webhookReserved {
		if _, ok := t.Payload[k]; ok {
			return nil, &ConfigError{Path: path + ".payload." + k, Msg: "is set by the step"}
		}
	}
	for k, v := range t.Headers {
		if !isToken(k) || strings.ContainsAny(v, "\r\n\x00") {
			return nil, &ConfigError{Path: path + ".headers", Msg: fmt.Sprintf("header %q has an invalid name or value", k)}
		}
	}
	var key []byte
	if t.Secret != "" {
		if key, err = webhookKey(t.Secret); err != nil {
			return nil, &ConfigError{Path: path + ".secret", Msg: "must be \"whsec_\" followed by base64"}
		}
	}
	return func(ctx context.Context, in Input) (map[string]any, error) {
		doc := make(map[string]any, len(t.Payload)+len(webhookReserved))
		for k, v := range t.Payload {
			doc[k] = v
		}
		doc["event_id"] = in.Event.ID
		doc["event_type"] = string(in.Event.Type)
		doc["execution_id"] = in.Execution
		doc["pipeline"] = in.Pipeline
		body, err := json.Marshal(doc)
		if err != nil {
			return nil, Permanent(&ConfigError{Path: path + ".payload", Msg: "cannot be encoded as JSON"})
		}
		id := "msg_" + strings.TrimPrefix(IdempotencyKey(in, "webhook", name), "mockops-")
		ts := strconv.FormatInt(n.deps.now().Unix(), 10)
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, Permanent(&ConfigError{Path: path, Msg: "cannot build the request"})
		}
		for k, v := range t.Headers {
			req.Header.Set(k, v)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", ts)
		if key != nil {
			req.Header.Set("webhook-signature", "v1,"+signWebhook(key, id, ts, body))
		}
		res := map[string]any{"webhook_id": id}
		resp, rbody, err := send(n.client, req)
		if err != nil {
			return res, err
		}
		res["status"] = resp.StatusCode
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return res, statusErr(req, resp.StatusCode, rbody, func(s string) string {
				if t.Secret != "" && strings.Contains(s, t.Secret) {
					return ""
				}
				return scrub(s, t.URL, t.Headers)
			})
		}
		return res, nil
	}, nil
}

func webhookKey(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
}

// signWebhook is the Standard Webhooks v1 signature.
func signWebhook(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
