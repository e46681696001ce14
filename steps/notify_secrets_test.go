package steps

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink shared by the client and the steps.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secretForms are the spellings of a secret that must appear nowhere.
func secretForms(secret string) []string {
	return []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)),
		url.QueryEscape(secret),
		base64.StdEncoding.EncodeToString([]byte("\x00ops\x00" + secret)), // an AUTH PLAIN blob
	}
}

// TestSecretsNeverLeak is a property test: for random secrets placed in
// every field that may hold one (URL path, query and userinfo, headers,
// the Slack webhook URL, the webhook signing secret, the SMTP password),
// and every way a delivery can fail or succeed, no spelling of the secret
// appears in the step's error, its outputs or any log line.
func TestSecretsNeverLeak(t *testing.T) {
	cert, pool := testCert(t)
	rng := rand.New(rand.NewPCG(10, 2026))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
	randomSecret := func() string {
		b := make([]byte, 12+rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return "s" + string(b)
	}

	// Servers that fail in each way, and one that succeeds.
	statusSrv := func(status int, body string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == 429 || status == 503 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
		}))
	}
	servers := map[string]*httptest.Server{
		"ok": statusSrv(200, "ok"), "401": statusSrv(401, "invalid_token"), "404": statusSrv(404, "no_service"),
		"400": statusSrv(400, "invalid_blocks"), "429": statusSrv(429, ""), "503": statusSrv(503, "upstream down"),
		"tls": httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})),
	}
	servers["tls"].Config.ErrorLog = quietLog()
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + closed.Addr().String()
	closed.Close()
	urls := []string{refused, "http://169.254.169.254"}
	for _, s := range servers {
		urls = append(urls, s.URL)
	}

	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client := newTestClient(t, HTTPConfig{Logger: logger, sleep: (&recordSleep{}).sleep})
	r := NewRegistry()
	deps := Deps{HTTPClient: client, Logger: logger, Now: func() time.Time { return testNow }, TLSConfig: &tls.Config{RootCAs: pool}}
	if err := RegisterHTTP(r, deps); err != nil {
		t.Fatal(err)
	}
	if err := RegisterNotify(r, deps); err != nil {
		t.Fatal(err)
	}

	for i := range 8 {
		secret := randomSecret()
		wrongPass := &mailbox{user: "ops", pass: "not-" + secret}
		good := &mailbox{user: "ops", pass: secret}
		smtpPorts := []int{
			startSMTP(t, wrongPass, cert, true, false),
			startSMTP(t, good, cert, true, false),
			startSMTP(t, good, cert, false, false), // no STARTTLS
		}
		var configs []map[string]any
		for _, base := range urls {
			u, _ := url.Parse(base)
			u.User = url.UserPassword("ops", secret)
			withUser := u.String()
			configs = append(configs,
				map[string]any{"uses": "http", "url": base + "/api/" + secret + "?token=" + secret,
					"headers": map[string]any{"Authorization": "Bearer " + secret, "X-Api-Key": secret}},
				map[string]any{"uses": "http", "method": "POST", "url": withUser + "/x", "json": map[string]any{"k": "v"}},
				map[string]any{"uses": "notify", "targets": []any{
					map[string]any{"slack": map[string]any{"webhook_url": base + "/services/T0/B0/" + secret, "text": "hi"}},
					map[string]any{"webhook": map[string]any{"url": base + "/hook?sig=" + secret, "secret": "whsec_" + base64.StdEncoding.EncodeToString([]byte(secret)),
						"headers": map[string]any{"Authorization": secret}}},
				}},
				map[string]any{"uses": "notify", "webhook_url": base + "/services/" + secret, "message": "m"},
			)
		}
		for _, port := range smtpPorts {
			configs = append(configs, map[string]any{"uses": "notify", "targets": []any{map[string]any{"email": map[string]any{
				"host": "127.0.0.1", "port": int64(port), "username": "ops", "password": secret,
				"from": "ops@example.com", "to": []any{"dev@example.com"}, "text": "hi"}}}})
			for _, auth := range []string{"login", "plain"} {
				configs = append(configs, map[string]any{"uses": "notify", "targets": []any{map[string]any{"email": map[string]any{
					"host": "127.0.0.1", "port": int64(port), "username": "ops", "password": secret, "auth": auth, "tls": "starttls",
					"from": "ops@example.com", "to": []any{"dev@example.com"}, "text": "hi"}}}})
			}
		}
		for j, cfg := range configs {
			uses := cfg["uses"].(string)
			delete(cfg, "uses")
			in := notifyInput()
			in.Logger = logger
			out, err := runStep(t, r, uses, cfg, in)
			outJSON, jerr := json.Marshal(out.Outputs)
			if jerr != nil {
				t.Fatalf("case %d/%d: outputs do not encode: %v", i, j, jerr)
			}
			var errText string
			if err != nil {
				errText = err.Error()
			}
			for _, form := range secretForms(secret) {
				if strings.Contains(errText, form) {
					t.Errorf("case %d/%d (%s): error %q holds the secret", i, j, uses, errText)
				}
				if bytes.Contains(outJSON, []byte(form)) {
					t.Errorf("case %d/%d (%s): outputs %s hold the secret", i, j, uses, outJSON)
				}
				if l := logs.String(); strings.Contains(l, form) {
					t.Errorf("case %d/%d (%s): logs hold the secret:\n%s", i, j, uses, l)
				}
			}
		}
		if len(good.received) == 0 {
			t.Errorf("round %d: no mail delivered with the right password; the property would hold vacuously", i)
		}
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "notify target failed") {
		t.Errorf("logs lack retry and failure records; the property would hold vacuously:\n%s", logs.String())
	}
}
