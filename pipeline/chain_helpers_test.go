package pipeline_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
	"github.com/mockops/mockops/store/sqlstore"
)

// This file holds the parts of the end-to-end chain test (chain_test.go)
// that stand for the outside world: the generator program, the host's
// Promoter, a webhook receiver that verifies Standard Webhooks signatures
// with its own code, an API that echoes what it was sent, and the search
// of everything a backend stored for a secret.

// blob is one text a run left behind: a stored record, a bus row, a
// database cell or file, a log line. where names it in a failure.
type blob struct{ where, text string }

// chainBackend is a store and the bus the engine runs on, with a way to
// read everything the backend holds besides what the store's API returns.
type chainBackend struct {
	st  store.Store
	bus events.Bus
	// raw returns every text the backend keeps: for SQL every cell of every
	// table and the bytes of the database files. Called after the engine
	// stopped.
	raw func(t *testing.T) []blob
}

// chainKinds are the backends the chain runs on: the durable SQL bus over
// a real SQLite database, and the in-memory store and bus.
var chainKinds = []struct {
	name string
	open func(t *testing.T, log *slog.Logger) chainBackend
}{
	{"sqlite", openSQLiteBackend},
	{"memory", func(t *testing.T, log *slog.Logger) chainBackend {
		bus := events.NewMemoryBus(events.MemoryConfig{Logger: log})
		t.Cleanup(func() { bus.Close() })
		return chainBackend{st: memory.New(), bus: bus, raw: func(*testing.T) []blob { return nil }}
	}},
	{"postgres", openPostgresBackend},
}

// openPostgresBackend is the durable bus over a fresh schema of the
// server at MOCKOPS_TEST_POSTGRES_DSN (skipped without it, see
// openPostgres).
func openPostgresBackend(t *testing.T, log *slog.Logger) chainBackend {
	t.Helper()
	st := openPostgres(t).(*sqlstore.Store)
	bus := st.Bus(sqlstore.BusConfig{Logger: log})
	t.Cleanup(func() { bus.Close() })
	return chainBackend{st: st, bus: bus, raw: func(t *testing.T) []blob {
		return sqlCells(t, st.DB(), `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	}}
}

func openSQLiteBackend(t *testing.T, log *slog.Logger) chainBackend {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenConfig(context.Background(), "sqlite:"+filepath.Join(dir, "chain.db"), sqlstore.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bus := st.Bus(sqlstore.BusConfig{Logger: log})
	t.Cleanup(func() { bus.Close() })
	return chainBackend{st: st, bus: bus, raw: func(t *testing.T) []blob {
		return append(sqlCells(t, st.DB(), `SELECT name FROM sqlite_master WHERE type = 'table'`), dirFiles(t, dir)...)
	}}
}

// sqlCells reads every text and blob cell of every table that listTables
// names, whatever the schema: a column added later is searched too.
func sqlCells(t *testing.T, db *sql.DB, listTables string) []blob {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, listTables)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	var out []blob
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for n := 0; rows.Next(); n++ {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				where := fmt.Sprintf("table %s row %d column %s", table, n, cols[i])
				switch v := v.(type) {
				case string:
					out = append(out, blob{where, v})
				case []byte:
					out = append(out, blob{where, string(v)})
				}
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatal("the database holds no text at all: the search would prove nothing")
	}
	return out
}

// dirFiles reads the database's files (main file, WAL, shared memory):
// bytes a deleted or rewritten row left in a page are searched too.
func dirFiles(t *testing.T, dir string) []blob {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []blob
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, blob{"file " + e.Name(), string(b)})
	}
	return out
}

// secretForms are the ways a secret's bytes could be written down: as
// they are, JSON-escaped (in each of jsonStyles), Go-quoted, and in base64 (standard and URL,
// padded and raw) and hex.
func secretForms(secret string) map[string]string {
	b := []byte(secret)
	styled := func(style string) string {
		return unquoteJSON(strings.TrimSuffix(string(encodeStyled(secret, style)), "\n"))
	}
	return map[string]string{
		"raw":          secret,
		"json":         styled("go"),
		"json-plain":   styled("plain"),
		"json-ascii":   styled("ascii"),
		"json-js":      styled("js"),
		"quoted":       unquoteJSON(strconv.Quote(secret)),
		"ascii-quoted": unquoteJSON(strconv.QuoteToASCII(secret)),
		"base64":       base64.StdEncoding.EncodeToString(b),
		"base64-raw":   base64.RawStdEncoding.EncodeToString(b),
		"base64-url":   base64.URLEncoding.EncodeToString(b),
		"base64-url-r": base64.RawURLEncoding.EncodeToString(b),
		"hex":          hex.EncodeToString(b),
		"HEX":          strings.ToUpper(hex.EncodeToString(b)),
	}
}

func unquoteJSON(q string) string { return q[1 : len(q)-1] }

// signingKeyForms adds to secretForms of a "whsec_" signing secret the
// encodings of the key bytes themselves.
func signingKeyForms(secret string) map[string]string {
	forms := secretForms(secret)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err) // the test wrote the secret
	}
	forms["key-base64"] = base64.StdEncoding.EncodeToString(key)
	forms["key-base64-raw"] = base64.RawStdEncoding.EncodeToString(key)
	forms["key-base64-url"] = base64.URLEncoding.EncodeToString(key)
	forms["key-base64-url-r"] = base64.RawURLEncoding.EncodeToString(key)
	forms["key-hex"] = hex.EncodeToString(key)
	return forms
}

// texts returns s and, when s is JSON (or JSON lines, as a log), every
// string and key in it, decoded, and again inside those strings that are
// JSON themselves: a secret escaped by an encoder is found as itself.
func texts(s string) []string {
	out := []string{s}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
			if depth < 4 {
				if inner, ok := decodeJSON(v); ok {
					for _, x := range inner {
						walk(x, depth+1)
					}
				}
			}
		case []any:
			for _, x := range v {
				walk(x, depth)
			}
		case map[string]any:
			for k, x := range v {
				out = append(out, k)
				walk(x, depth)
			}
		}
	}
	if docs, ok := decodeJSON(s); ok {
		for _, d := range docs {
			walk(d, 0)
		}
	}
	return out
}

// decodeJSON decodes s as a sequence of JSON values (one, or one per
// line); ok is false when s is not JSON or holds only a scalar.
func decodeJSON(s string) ([]any, bool) {
	t := strings.TrimSpace(s)
	if t == "" || t[0] != '{' && t[0] != '[' && t[0] != '"' {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(t))
	var docs []any
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			return docs, len(docs) > 0
		} else if err != nil {
			return nil, false
		}
		docs = append(docs, v)
	}
}

// findLeaks returns, for every blob, each form of each named secret it
// holds (the value itself is never in the result).
func findLeaks(blobs []blob, secrets map[string]map[string]string) []string {
	var out []string
	for _, b := range blobs {
		for _, text := range texts(b.text) {
			for name, forms := range secrets {
				for form, f := range forms {
					if strings.Contains(text, f) {
						out = append(out, fmt.Sprintf("%s holds secret %s as %s", b.where, name, form))
					}
				}
			}
		}
	}
	return out
}

// buildChainGenerator builds testdata/gen with `go build` into a temporary
// directory and returns the binary's path.
func buildChainGenerator(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		// CommandGenerator kills Unix process groups; Windows has its own test gap.
		t.Skip("the default command runner's tests need Unix process groups")
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "gen", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"main.go": src, "go.mod": []byte("module gen\n\ngo 1.26\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "gen")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/gen: %v\n%s", err, out)
	}
	return bin
}

// recordingPromoter is the host's Promoter: it records every request and
// answers with a promotion id and the version it resolved.
type recordingPromoter struct {
	mu   sync.Mutex
	reqs []steps.PromotionRequest
}

func (p *recordingPromoter) Promote(_ context.Context, req steps.PromotionRequest) (steps.PromotionResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, req)
	return steps.PromotionResult{ID: "promo-" + strconv.Itoa(len(p.reqs)), Version: "7"}, nil
}

func (p *recordingPromoter) requests() []steps.PromotionRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]steps.PromotionRequest(nil), p.reqs...)
}

// delivery is one request the webhook receiver got.
type delivery struct {
	id   string         // webhook-id
	body map[string]any // the JSON body
	err  error          // why it was refused; nil when verified
}

// webhookReceiver checks each delivery as a receiver using a Standard
// Webhooks library would (signature over id.timestamp.body, timestamp
// tolerance) plus the token headers, answers 204 or 401, and reports the
// execution id of every delivery on got.
type webhookReceiver struct {
	secret, token string
	now           func() time.Time

	mu         sync.Mutex
	deliveries []delivery
	got        chan string
}

func newWebhookReceiver(secret, token string) *webhookReceiver {
	return &webhookReceiver{secret: secret, token: token, now: time.Now, got: make(chan string, 16)}
}

func (rc *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	d := delivery{id: r.Header.Get("webhook-id")}
	switch {
	case err != nil:
		d.err = err
	case r.Method != http.MethodPost || r.URL.Path != "/hooks":
		d.err = fmt.Errorf("%s %s; want POST /hooks", r.Method, r.URL.Path)
	case r.Header.Get("Content-Type") != "application/json":
		d.err = fmt.Errorf("content type %q", r.Header.Get("Content-Type"))
	default:
		d.err = verifyStandardWebhook(rc.secret, r.Header, body, rc.now())
	}
	if d.err == nil && (r.Header.Get("X-Token") != rc.token || r.Header.Get("Authorization") != "Bearer "+rc.token) {
		d.err = errors.New("the token headers do not hold the token")
	}
	if err := json.Unmarshal(body, &d.body); err != nil && d.err == nil {
		d.err = fmt.Errorf("body is not a JSON object: %w", err)
	}
	rc.mu.Lock()
	rc.deliveries = append(rc.deliveries, d)
	rc.mu.Unlock()
	if d.err != nil {
		w.WriteHeader(http.StatusUnauthorized)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	exec, _ := d.body["execution_id"].(string)
	select {
	case rc.got <- exec:
	default:
	}
}

func (rc *webhookReceiver) all() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.deliveries...)
}

// verifyStandardWebhook is written from the Standard Webhooks
// specification, not from the step's code: the signed content is
// "msg_id.timestamp.body", the key is the base64 after "whsec_", the
// signature header is a space-separated list of "v1,<base64>" of which
// one must match, and the timestamp must be within five minutes.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %w", ts, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp is %s away", d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no valid v1 signature in %q", sigs)
}

// jsonStyles are the ways the echo API writes JSON, as encoders of other
// languages do: Go's encoding/json (<, > and & escaped), plain (Go with
// SetEscapeHTML(false), as most encoders), ASCII only (Python's
// json.dumps: non-ASCII as \uXXXX, surrogate pairs) and JavaScript's
// JSON.stringify (U+2028 and U+2029 left as they are).
var jsonStyles = []string{"go", "plain", "ascii", "js"}

func encodeStyled(v any, style string) []byte {
	if style == "go" {
		b, _ := json.Marshal(v)
		return b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	out := buf.String()
	switch style {
	case "ascii":
		var b strings.Builder
		for _, r := range out {
			if r < 0x80 {
				b.WriteRune(r)
				continue
			}
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, "\\u%04x", u)
			}
		}
		out = b.String()
	case "js":
		out = strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(out)
	}
	return []byte(out)
}

// echoAPI is an API that repeats credentials back, as careless APIs and
// error pages do: POST /echo answers 200 with the X-Token header in its
// JSON body (written in style, one of jsonStyles) and in a response
// header; /refuse answers 401 with the Authorization and X-Token headers
// in a text body.
func echoAPI(style string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Token", r.Header.Get("X-Token"))
		_, _ = w.Write(encodeStyled(map[string]any{"received": map[string]string{"x-token": r.Header.Get("X-Token")}}, style))
	})
	mux.HandleFunc("/refuse", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "invalid credentials %s %s", r.Header.Get("Authorization"), r.Header.Get("X-Token"))
	})
	return mux
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
