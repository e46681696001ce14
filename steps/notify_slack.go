package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// SlackTarget posts to a Slack incoming webhook
// (https://api.slack.com/messaging/webhooks). The webhook URL is a
// credential: it never appears in errors, outputs or logs.
//
// Slack's answers are surfaced: 200 "ok" is delivery; a 4xx with a code
// such as invalid_payload, no_text, invalid_blocks, channel_not_found or
// channel_is_archived fails permanently and names the code; 429 (with
// Retry-After) and 5xx are retried by the client, then fail for the
// engine to retry.
type SlackTarget struct {
	WebhookURL string `json:"webhook_url" step:"required"`
	// Text is the message (mrkdwn), or the notification fallback when
	// Blocks is set. One of Text and Blocks is required.
	Text string `json:"text"`
	// Blocks are Block Kit blocks, sent as given (Slack validates them).
	Blocks []map[string]any `json:"blocks"`
	// ThreadTS replies in the thread of that message.
	ThreadTS string `json:"thread_ts"`
	// Username, IconEmoji and IconURL override the webhook's defaults
	// where the Slack app allows it.
	Username  string `json:"username"`
	IconEmoji string `json:"icon_emoji"`
	IconURL   string `json:"icon_url"`
}

// slackMessage is the incoming webhook payload.
type slackMessage struct {
	Text      string           `json:"text,omitempty"`
	Blocks    []map[string]any `json:"blocks,omitempty"`
	ThreadTS  string           `json:"thread_ts,omitempty"`
	Username  string           `json:"username,omitempty"`
	IconEmoji string           `json:"icon_emoji,omitempty"`
	IconURL   string           `json:"icon_url,omitempty"`
}

func (n *notifier) slack(path string, t SlackTarget) (func(context.Context, Input) (map[string]any, error), error) {
	u, err := parseTargetURL(path+".webhook_url", t.WebhookURL)
	if err != nil {
		return nil, err
	}
	if t.Text == "" && len(t.Blocks) == 0 {
		return nil, &ConfigError{Path: path, Msg: "set text, blocks or both"}
	}
	for i, b := range t.Blocks {
		if typ, _ := b["type"].(string); typ == "" {
			return nil, &ConfigError{Path: fmt.Sprintf("%s.blocks[%d]", path, i), Msg: "a block needs a string \"type\""}
		}
	}
	body, err := json.Marshal(slackMessage{t.Text, t.Blocks, t.ThreadTS, t.Username, t.IconEmoji, t.IconURL})
	if err != nil {
		return nil, &ConfigError{Path: path, Msg: "cannot be encoded as JSON"}
	}
	return func(ctx context.Context, in Input) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, Permanent(&ConfigError{Path: path + ".webhook_url", Msg: "cannot build the request"})
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		resp, rbody, err := send(n.client, req)
		if err != nil {
			return nil, err
		}
		res := map[string]any{"status": resp.StatusCode}
		clean := func(s string) string { return scrub(s, t.WebhookURL, nil) }
		if resp.StatusCode != http.StatusOK {
			return res, statusErr(req, resp.StatusCode, rbody, clean)
		}
		if got := strings.TrimSpace(string(rbody)); got != "ok" {
			// A 200 that is not Slack's "ok": not Slack, or a proxy page.
			return res, fmt.Errorf("steps: POST %s: unexpected answer to a Slack webhook (want \"ok\"): %q", redactURL(u), clean(detail(rbody)))
		}
		return res, nil
	}, nil
}
