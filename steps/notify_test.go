package steps

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mockops/mockops/events"
)

// slackServer implements Slack's incoming webhook endpoint as
// https://api.slack.com/messaging/webhooks documents it: POST
// /services/T.../B.../token with a JSON body; 200 "ok"; errors as a 4xx
// with a plain-text code (invalid_payload, no_text, invalid_blocks,
// no_service, channel_is_archived), 429 with Retry-After when rate limited.
type slackServer struct {
	token    string
	archived bool
	notSlack bool // answer 200 with a page, as a captive proxy would
	limited  int  // answer 429 this many times first

	mu       sync.Mutex
	messages []map[string]any
}

var slackBlockTypes = map[string]bool{"section": true, "divider": true, "header": true, "context": true, "actions": true, "image": true, "input": true, "rich_text": true, "video": true, "file": true}

func (s *slackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/services/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[2] != s.token {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no_service")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limited > 0 {
		s.limited--
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	var msg map[string]any
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.NewDecoder(r.Body).Decode(&msg) != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_payload")
		return
	}
	blocks, _ := msg["blocks"].([]any)
	if text, _ := msg["text"].(string); text == "" && len(blocks) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "no_text")
		return
	}
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		typ, _ := bm["type"].(string)
		_, hasText := bm["text"]
		_, hasFields := bm["fields"]
		if !slackBlockTypes[typ] || typ == "section" && !hasText && !hasFields {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "invalid_blocks")
			return
		}
	}
	if s.notSlack {
		io.WriteString(w, "<html>welcome</html>")
		return
	}
	if s.archived {
		w.WriteHeader(http.StatusGone)
		io.WriteString(w, "channel_is_archived")
		return
	}
	s.messages = append(s.messages, msg)
	io.WriteString(w, "ok")
}

// verifyStandardWebhook checks a delivery as the Standard Webhooks
// specification describes it, written from the spec and not from the
// step's code: the secret is base64 after "whsec_"; the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}"; webhook-signature is a
// space-separated list of "v1,<base64 HMAC-SHA256>"; timestamps more than
// five minutes away are refused.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s outside the tolerance", ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

func TestVerifyStandardWebhookVector(t *testing.T) {
	// The example of the Standard Webhooks specification.
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	secret, body, now := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)
	if err := verifyStandardWebhook(secret, h, body, now); err != nil {
		t.Errorf("verifyStandardWebhook(spec example) = %v; want nil", err)
	}
	if err := verifyStandardWebhook(secret, h, []byte(`{"test": 2432232315}`), now); err == nil {
		t.Errorf("verifyStandardWebhook(altered body) = nil; want an error")
	}
	key, _ := webhookKey(secret)
	if got, want := signWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body), "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signWebhook(spec example) = %q; want %q", got, want)
	}
}

// webhookReceiver verifies and records deliveries.
type webhookReceiver struct {
	secret string
	now    time.Time
	status int

	mu         sync.Mutex
	deliveries []delivery
}

type delivery struct {
	Method, ID, Custom, VerifyErr string
	Body                          map[string]any
}

func (s *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d := delivery{Method: r.Method, ID: r.Header.Get("webhook-id"), Custom: r.Header.Get("X-Custom")}
	if s.secret != "" {
		if err := verifyStandardWebhook(s.secret, r.Header, b, s.now); err != nil {
			d.VerifyErr = err.Error()
		}
	} else if r.Header.Get("webhook-signature") != "" {
		d.VerifyErr = "signed without a secret"
	}
	json.Unmarshal(b, &d.Body)
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	if s.status != 0 {
		w.WriteHeader(s.status)
	}
}

var testNow = time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)

func notifyRegistry(t *testing.T) *Registry {
	t.Helper()
	r := NewRegistry()
	c := newTestClient(t, HTTPConfig{sleep: (&recordSleep{}).sleep})
	if err := RegisterNotify(r, Deps{HTTPClient: c, Now: func() time.Time { return testNow }}); err != nil {
		t.Fatal(err)
	}
	return r
}

func notifyInput() Input {
	in := testInput()
	in.StepID = "tell"
	in.Event = events.Event{ID: "01JEVENT", Type: events.TypeSchemaChanged}
	return in
}

func TestNotifySlack(t *testing.T) {
	tests := []struct {
		name      string
		server    *slackServer
		slack     map[string]any
		wantMsg   []map[string]any
		wantErr   string // the Slack code the error must carry; "" = success
		permanent bool
	}{
		{
			name:    "text with overrides",
			slack:   map[string]any{"text": "SDKs ready", "thread_ts": "1700000000.000100", "username": "mockops", "icon_emoji": ":robot_face:"},
			wantMsg: []map[string]any{{"text": "SDKs ready", "thread_ts": "1700000000.000100", "username": "mockops", "icon_emoji": ":robot_face:"}},
		},
		{
			name: "blocks",
			slack: map[string]any{"text": "fallback", "icon_url": "https://example.com/i.png", "blocks": []any{
				map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": "Drift"}},
				map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*payments*"}},
			}},
			wantMsg: []map[string]any{{"text": "fallback", "icon_url": "https://example.com/i.png", "blocks": []any{
				map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": "Drift"}},
				map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*payments*"}},
			}}},
		},
		{name: "rate limited, then delivered", server: &slackServer{limited: 1}, slack: map[string]any{"text": "hi"}, wantMsg: []map[string]any{{"text": "hi"}}},
		{name: "invalid_blocks", slack: map[string]any{"blocks": []any{map[string]any{"type": "section"}}}, wantErr: "invalid_blocks", permanent: true},
		{name: "unknown block type", slack: map[string]any{"text": "x", "blocks": []any{map[string]any{"type": "banner"}}}, wantErr: "invalid_blocks", permanent: true},
		{name: "channel_is_archived", server: &slackServer{archived: true}, slack: map[string]any{"text": "x"}, wantErr: "channel_is_archived", permanent: true},
		{name: "a 200 that is not Slack's ok", server: &slackServer{notSlack: true}, slack: map[string]any{"text": "x"}, wantErr: "unexpected answer", permanent: false},
		{name: "wrong token", slack: map[string]any{"text": "x", "webhook_url": "/services/T1/B1/wrong"}, wantErr: "no_service", permanent: true},
		{name: "rate limited past the attempts", server: &slackServer{limited: 5}, slack: map[string]any{"text": "x"}, wantErr: "429", permanent: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.server
			if srv == nil {
				srv = &slackServer{}
			}
			srv.token = "xoxsecrettoken"
			ts := httptest.NewServer(srv)
			defer ts.Close()
			slack := map[string]any{"webhook_url": ts.URL + "/services/T1/B1/xoxsecrettoken"}
			for k, v := range tt.slack {
				if k == "webhook_url" {
					v = ts.URL + v.(string)
				}
				slack[k] = v
			}
			out, err := runStep(t, notifyRegistry(t), "notify", map[string]any{"targets": []any{map[string]any{"slack": slack}}}, notifyInput())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Run = %v; want nil", err)
				}
				if diff := cmp.Diff(tt.wantMsg, srv.messages); diff != "" {
					t.Errorf("Slack received (-want +got):\n%s", diff)
				}
				want := map[string]any{"targets": map[string]any{"slack": map[string]any{"kind": "slack", "status": 200}}, "delivered": []string{"slack"}, "failed": []string{}}
				if diff := cmp.Diff(want, out.Outputs); diff != "" {
					t.Errorf("outputs (-want +got):\n%s", diff)
				}
				return
			}
			var te *TargetError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &te) || te.Target != "slack" {
				t.Fatalf("Run = %v; want a TargetError for \"slack\" carrying %q", err, tt.wantErr)
			}
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v; want %v", err, !tt.permanent, tt.permanent)
			}
			if strings.Contains(err.Error(), "xoxsecrettoken") || strings.Contains(err.Error(), "/services") {
				t.Errorf("error %q shows the webhook URL's path", err)
			}
			if len(srv.messages) != 0 {
				t.Errorf("Slack recorded %v; want nothing", srv.messages)
			}
		})
	}
}

func TestNotifyWebhook(t *testing.T) {
	const secret = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtMTIzNDU2Nzg="
	tests := []struct {
		name      string
		recv      *webhookReceiver
		webhook   map[string]any
		want      []delivery
		wantErr   bool
		permanent bool
	}{
		{
			name:    "signed POST with the ids merged into the payload",
			recv:    &webhookReceiver{secret: secret},
			webhook: map[string]any{"secret": secret, "payload": map[string]any{"text": "hi", "n": int64(2)}, "headers": map[string]any{"X-Custom": "c"}},
			want: []delivery{{Method: "POST", Custom: "c", Body: map[string]any{
				"text": "hi", "n": float64(2), "event_id": "01JEVENT", "event_type": "schema.changed", "execution_id": "exec-1", "pipeline": "p"}}},
		},
		{
			name:    "PUT without a secret is not signed",
			webhook: map[string]any{"method": "PUT"},
			want: []delivery{{Method: "PUT", Body: map[string]any{
				"event_id": "01JEVENT", "event_type": "schema.changed", "execution_id": "exec-1", "pipeline": "p"}}},
		},
		{
			name:    "a 400 fails permanently",
			recv:    &webhookReceiver{secret: secret, status: 400},
			webhook: map[string]any{"secret": secret},
			want: []delivery{{Method: "POST", Body: map[string]any{
				"event_id": "01JEVENT", "event_type": "schema.changed", "execution_id": "exec-1", "pipeline": "p"}}},
			wantErr: true, permanent: true,
		},
		{name: "a reserved payload key", webhook: map[string]any{"payload": map[string]any{"event_id": "x"}}, wantErr: true, permanent: true},
		{name: "a secret that is not base64", webhook: map[string]any{"secret": "whsec_not base64!"}, wantErr: true, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recv := tt.recv
			if recv == nil {
				recv = &webhookReceiver{}
			}
			recv.now = testNow
			ts := httptest.NewServer(recv)
			defer ts.Close()
			wh := map[string]any{"url": ts.URL + "/hooks/in?token=t0k"}
			for k, v := range tt.webhook {
				wh[k] = v
			}
			in := notifyInput()
			out, err := runStep(t, notifyRegistry(t), "notify", map[string]any{"targets": []any{map[string]any{"name": "ci", "webhook": wh}}}, in)
			if (err != nil) != tt.wantErr || err != nil && IsPermanent(err) != tt.permanent {
				t.Fatalf("Run = %v (permanent %v); want error %v, permanent %v", err, IsPermanent(err), tt.wantErr, tt.permanent)
			}
			sec, _ := tt.webhook["secret"].(string)
			if err != nil && (sec != "" && strings.Contains(err.Error(), strings.TrimPrefix(sec, "whsec_")) || strings.Contains(err.Error(), "t0k")) {
				t.Errorf("error %q shows the secret or the URL's query", err)
			}
			wantID := "msg_" + strings.TrimPrefix(IdempotencyKey(in, "webhook", "ci"), "mockops-")
			for i := range tt.want {
				tt.want[i].ID = wantID
			}
			if diff := cmp.Diff(tt.want, recv.deliveries); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			if len(tt.want) > 0 {
				res := out.Outputs["targets"].(map[string]any)["ci"].(map[string]any)
				if res["webhook_id"] != wantID {
					t.Errorf("outputs.targets.ci.webhook_id = %v; want %q", res["webhook_id"], wantID)
				}
			}
		})
	}
}

func TestWebhookIDStableAcrossAttempts(t *testing.T) {
	in := notifyInput()
	again := in
	again.Attempt = 2
	other := in
	other.Execution = "exec-2"
	if a, b := IdempotencyKey(in, "webhook", "ci"), IdempotencyKey(again, "webhook", "ci"); a != b {
		t.Errorf("key of attempt 1 = %q, of attempt 2 = %q; want equal", a, b)
	}
	if a, b := IdempotencyKey(in, "webhook", "ci"), IdempotencyKey(other, "webhook", "ci"); a == b {
		t.Errorf("keys of two executions are both %q; want different", a)
	}
}

func TestNotifyMultiTarget(t *testing.T) {
	slack := &slackServer{token: "tok"}
	sts := httptest.NewServer(slack)
	defer sts.Close()
	failing := &webhookReceiver{status: 500}
	fts := httptest.NewServer(failing)
	defer fts.Close()
	ok := &webhookReceiver{}
	ots := httptest.NewServer(ok)
	defer ots.Close()
	good := map[string]any{"slack": map[string]any{"webhook_url": sts.URL + "/services/T/B/tok", "text": "hi"}}
	badBlocks := map[string]any{"slack": map[string]any{"webhook_url": sts.URL + "/services/T/B/tok", "blocks": []any{map[string]any{"type": "nope"}}}}

	tests := []struct {
		name          string
		targets       []any
		wantDelivered []string
		wantFailed    []string
		wantPermanent bool
	}{
		{"all delivered", []any{good, map[string]any{"webhook": map[string]any{"url": ots.URL}}}, []string{"slack", "webhook"}, []string{}, false},
		{"one retryable failure among successes", []any{good, map[string]any{"webhook": map[string]any{"url": fts.URL}}, badBlocks},
			[]string{"slack_1"}, []string{"webhook", "slack_3"}, false},
		{"only permanent failures", []any{badBlocks, map[string]any{"name": "ops", "webhook": map[string]any{"url": ots.URL + "/x", "payload": map[string]any{}}}, badBlocks},
			[]string{"ops"}, []string{"slack_1", "slack_3"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runStep(t, notifyRegistry(t), "notify", map[string]any{"targets": tt.targets}, notifyInput())
			if diff := cmp.Diff(tt.wantDelivered, out.Outputs["delivered"]); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailed, out.Outputs["failed"]); diff != "" {
				t.Errorf("failed (-want +got):\n%s", diff)
			}
			if len(tt.wantFailed) == 0 {
				if err != nil {
					t.Errorf("Run = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Run = nil; want an error naming %v", tt.wantFailed)
			}
			for _, name := range tt.wantFailed {
				if !strings.Contains(err.Error(), strconv.Quote(name)) {
					t.Errorf("error %q does not name target %q", err, name)
				}
			}
			if IsPermanent(err) != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v; want %v", err, !tt.wantPermanent, tt.wantPermanent)
			}
		})
	}
}

func TestNotifyConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		with map[string]any
	}{
		{"no target", map[string]any{}},
		{"two kinds in one target", map[string]any{"targets": []any{map[string]any{"slack": map[string]any{"webhook_url": "https://h/x", "text": "a"}, "webhook": map[string]any{"url": "https://h/y"}}}}},
		{"empty target", map[string]any{"targets": []any{map[string]any{}}}},
		{"duplicate names", map[string]any{"targets": []any{
			map[string]any{"name": "a", "webhook": map[string]any{"url": "https://h/y"}},
			map[string]any{"name": "a", "webhook": map[string]any{"url": "https://h/z"}}}}},
		{"slack without text or blocks", map[string]any{"targets": []any{map[string]any{"slack": map[string]any{"webhook_url": "https://h/x"}}}}},
		{"slack without webhook_url", map[string]any{"targets": []any{map[string]any{"slack": map[string]any{"text": "x"}}}}},
		{"shorthand with targets", map[string]any{"webhook_url": "https://h/x", "message": "m", "targets": []any{map[string]any{"webhook": map[string]any{"url": "https://h/y"}}}}},
		{"shorthand with an unknown channel", map[string]any{"webhook_url": "https://h/x", "message": "m", "channel": "pager"}},
		{"a relative webhook URL", map[string]any{"targets": []any{map[string]any{"webhook": map[string]any{"url": "/hook"}}}}},
		{"an unknown key", map[string]any{"targets": []any{map[string]any{"slack": map[string]any{"webhook_url": "https://h/x", "txt": "a"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runStep(t, notifyRegistry(t), "notify", tt.with, notifyInput())
			var ce *ConfigError
			if !errors.As(err, &ce) || !IsPermanent(err) {
				t.Errorf("Run = %v; want a permanent *ConfigError", err)
			}
		})
	}
}

func TestNotifyShorthand(t *testing.T) {
	slack := &slackServer{token: "tok"}
	sts := httptest.NewServer(slack)
	defer sts.Close()
	recv := &webhookReceiver{}
	wts := httptest.NewServer(recv)
	defer wts.Close()
	r := notifyRegistry(t)
	if _, err := runStep(t, r, "notify", map[string]any{"webhook_url": sts.URL + "/services/T/B/tok", "message": "done"}, notifyInput()); err != nil {
		t.Fatalf("Run(slack shorthand) = %v", err)
	}
	if diff := cmp.Diff([]map[string]any{{"text": "done"}}, slack.messages); diff != "" {
		t.Errorf("Slack received (-want +got):\n%s", diff)
	}
	if _, err := runStep(t, r, "notify", map[string]any{"channel": "webhook", "webhook_url": wts.URL, "message": "done"}, notifyInput()); err != nil {
		t.Fatalf("Run(webhook shorthand) = %v", err)
	}
	if len(recv.deliveries) != 1 || recv.deliveries[0].Body["message"] != "done" {
		t.Errorf("webhook received %v; want one delivery with message \"done\"", recv.deliveries)
	}
}
