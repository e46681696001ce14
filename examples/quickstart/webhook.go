package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// webhookReceiver stands in for the team's chat or incident tool: it
// accepts POSTs signed in the Standard Webhooks layout with its secret
// ("whsec_<base64 key>"), and refuses unsigned or wrongly signed ones.
type webhookReceiver struct {
	key []byte

	mu  sync.Mutex
	got []delivery
}

// delivery is one accepted webhook.
type delivery struct {
	ID      string
	Payload map[string]any
}

func newWebhookReceiver(secret string) (*webhookReceiver, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, err
	}
	return &webhookReceiver{key: key}, nil
}

func (h *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unreadable body"})
		return
	}
	id := r.Header.Get("webhook-id")
	if !verifySignature(h.key, id, r.Header.Get("webhook-timestamp"), body, r.Header.Get("webhook-signature")) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad signature"})
		return
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "not JSON"})
		return
	}
	h.mu.Lock()
	h.got = append(h.got, delivery{ID: id, Payload: payload})
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// verifySignature checks a Standard Webhooks signature header (one or more
// space-separated "v1,<base64>") against HMAC-SHA256(id.timestamp.body).
// A real receiver also rejects stale timestamps; the quickstart's clock and
// the sender's are the same one.
func verifySignature(key []byte, id, ts string, body []byte, header string) bool {
	if id == "" || ts == "" {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(header) {
		b64, ok := strings.CutPrefix(sig, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func (h *webhookReceiver) deliveries() []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]delivery(nil), h.got...)
}
