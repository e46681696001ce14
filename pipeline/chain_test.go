package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
)

// The chain: a schema change regenerates the SDKs with the default command
// runner and promotes the contract; promotion.completed triggers a second
// pipeline that notifies a signed webhook. A third pipeline, run by hand,
// sends the same secrets to an API that echoes them back or refuses them.

const chainSDK = `name: sdk-then-promote
on:
  - event: schema.changed
    if: event.data.schema_type == "openapi"
steps:
  - id: sdk
    uses: regenerate_sdk
    with:
      spec: ${{ event.data.spec_path }}
      languages: [go, typescript]
      output_dir: out
  - id: promote
    uses: auto_promote
    with:
      entity_type: config
      entity_id: payments-contract
      from_environment: dev
      to_environment: staging
      environments: [dev, staging, prod]
      comments: "${{ steps.sdk.outputs.files }} files regenerated"
`

const chainNotify = `name: tell-on-promotion
on:
  - event: promotion.completed
    match: { data.to_environment: staging }
steps:
  - id: tell
    uses: notify
    with:
      targets:
        - name: ops
          webhook:
            url: HOOK_BASE_URL/hooks
            secret: ${{ secrets.WEBHOOK_SECRET }}
            headers:
              X-Token: ${{ secrets.TOKEN }}
              Authorization: Bearer ${{ secrets.TOKEN }}
            payload:
              entity: ${{ event.data.entity_id }}
              to: ${{ event.data.to_environment }}
              caused_by: ${{ event.extensions.causationid }}
              note: "sent with ${{ secrets.TOKEN }}"
`

const chainEcho = `name: echo-secrets
on: [{event: acme.secrets.check}]
steps:
  - id: echo
    uses: http
    with:
      method: POST
      url: ECHO_BASE_URL/echo
      headers: { X-Token: "${{ secrets.TOKEN }}" }
      json: { token: "${{ secrets.TOKEN }}", signing: "${{ secrets.WEBHOOK_SECRET }}" }
  - id: refused
    uses: http
    needs: []
    with:
      url: ECHO_BASE_URL/refuse
      headers: { Authorization: "Bearer ${{ secrets.TOKEN }}", X-Token: "${{ secrets.TOKEN }}" }
  - id: refused_hook
    uses: notify
    needs: []
    with:
      targets:
        - webhook:
            url: ECHO_BASE_URL/refuse
            secret: ${{ secrets.WEBHOOK_SECRET }}
            headers: { X-Token: "${{ secrets.TOKEN }}" }
`

// chainSecrets are the secrets the pipelines use.
type chainSecrets struct {
	token   string // sent in headers and a payload
	signing string // the webhook signing secret, "whsec_<base64>"
	// style is how the echo API writes JSON (see jsonStyles; "" = "go").
	style string
}

const chainSpec = "openapi: 3.1.0\ninfo: {title: payments, version: 7}\n"

// chainRun is what one run of the chain left: the three executions, what
// the outside world saw, and every text the run stored or logged.
type chainRun struct {
	secrets    chainSecrets
	trigger    events.Event // the schema.changed event
	sdk, tell  store.Execution
	echo       store.Execution
	deliveries []delivery
	promotions []steps.PromotionRequest
	seen       []events.Event // every event on the bus
	logs       string         // the engine's and the steps' log (JSON lines)
	blobs      []blob
}

// runChain runs the three pipelines on one backend with an engine and the
// built-in steps, and returns once the engine has stopped.
func runChain(t *testing.T, open func(*testing.T, *slog.Logger) chainBackend, gen string, sec chainSecrets) chainRun {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	be := open(t, log)

	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "specs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "specs", "payments.yaml"), []byte(chainSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	gens, err := steps.NewCommandGenerator(steps.CommandConfig{
		Root: root,
		Commands: map[string]steps.Command{
			"go":         {Path: gen, Args: []string{"{language}", "{spec}", "{output}"}},
			"typescript": {Path: gen, Args: []string{"{language}", "{spec}", "{output}"}},
		},
		Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	promoter := &recordingPromoter{}
	reg := steps.NewRegistry()
	if err := steps.RegisterBuiltins(reg, steps.Deps{Promoter: promoter, SDKGenerator: gens, Logger: log}); err != nil {
		t.Fatal(err)
	}

	receiver := newWebhookReceiver(sec.signing, sec.token)
	hook := httptest.NewServer(receiver)
	t.Cleanup(hook.Close)
	style := sec.style
	if style == "" {
		style = "go"
	}
	echo := httptest.NewServer(echoAPI(style))
	t.Cleanup(echo.Close)

	seen := make(chan events.Event, 64)
	sub, err := be.bus.Subscribe(ctx, events.Filter{}, func(_ context.Context, ev events.Event) error {
		seen <- ev
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })

	h := start(t, pipeline.Config{
		Store:   be.st,
		Bus:     be.bus,
		Steps:   reg,
		Secrets: mapSecrets{"TOKEN": sec.token, "WEBHOOK_SECRET": sec.signing},
		Logger:  log,
	})
	h.put(chainSDK)
	h.put(strings.ReplaceAll(chainNotify, "HOOK_BASE_URL", hook.URL))
	h.put(strings.ReplaceAll(chainEcho, "ECHO_BASE_URL", echo.URL))

	run := chainRun{secrets: sec}
	run.trigger, err = events.SchemaChanged("payments", events.SchemaChange{
		SchemaType: "openapi", Path: "specs/payments.yaml", Changes: []string{"added GET /refunds"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := be.bus.Publish(ctx, run.trigger); err != nil {
		t.Fatal(err)
	}
	// The receiver names the notifying execution; the promoter's
	// idempotency key the promoting one. The bound only stops a broken
	// chain from hanging the test.
	select {
	case id := <-receiver.got:
		run.tell = h.wait(id)
	case <-time.After(time.Minute):
		t.Fatalf("no webhook delivery within a minute; executions: %+v", listAll(t, be.st, ""))
	}
	if p := promoter.requests(); len(p) > 0 {
		id, _, _ := strings.Cut(p[0].IdempotencyKey, "/")
		run.sdk = h.wait(id)
	} else {
		t.Fatal("the promoter was not called, yet a webhook was delivered")
	}
	id, err := h.eng.Trigger(ctx, "echo-secrets", events.Event{Type: "acme.secrets.check", Workspace: "payments", Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	run.echo = h.wait(id)
	h.stop() // nothing runs or retries from here on

	run.deliveries = receiver.all()
	run.promotions = promoter.requests()
	for len(seen) > 0 {
		run.seen = append(run.seen, <-seen)
	}
	for _, x := range listAll(t, be.st, "") {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		run.blobs = append(run.blobs, blob{"execution " + x.ID + " of " + x.Pipeline, string(b)})
	}
	for _, ev := range run.seen {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		run.blobs = append(run.blobs, blob{"bus event " + string(ev.Type), string(b)})
	}
	run.logs = logs.String()
	for i, line := range strings.Split(run.logs, "\n") {
		run.blobs = append(run.blobs, blob{"log line " + strconv.Itoa(i+1), line})
	}
	run.blobs = append(run.blobs, be.raw(t)...)
	return run
}

func fileSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestChainEndToEnd: schema.changed -> regenerate_sdk (a real generator
// process) -> auto_promote -> promotion.completed -> a second pipeline's
// signed webhook, persisted in each store with its bus.
func TestChainEndToEnd(t *testing.T) {
	gen := buildChainGenerator(t)
	sec := chainSecrets{token: "tok-" + strings.Repeat("x", 12), signing: "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123"))}
	for _, kind := range chainKinds {
		t.Run(kind.name, func(t *testing.T) {
			run := runChain(t, kind.open, gen, sec)
			checkSDKExecution(t, run)
			checkTellExecution(t, run)
			checkEchoExecution(t, run)
		})
	}
}

type sdkOutputs struct {
	Files     int `json:"files"`
	Languages map[string]struct {
		ExitCode   int    `json:"exit_code"`
		OutputTail string `json:"output_tail"`
		Files      []struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
			Size   int    `json:"size"`
		} `json:"files"`
		FilesTruncated bool `json:"files_truncated"`
	} `json:"languages"`
}

func checkSDKExecution(t *testing.T, run chainRun) {
	t.Helper()
	x := run.sdk
	if x.Status != store.StatusSucceeded || x.Pipeline != "sdk-then-promote" || x.EventID != run.trigger.ID {
		t.Fatalf("sdk execution = %s of %s for %s (error %q); want succeeded for %s", x.Status, x.Pipeline, x.EventID, x.Error, run.trigger.ID)
	}
	if got := stepStatuses(x); !cmp.Equal(got, map[string]store.Status{"sdk": store.StatusSucceeded, "promote": store.StatusSucceeded}) {
		t.Errorf("sdk execution steps = %v", got)
	}
	var out sdkOutputs
	if err := json.Unmarshal(stepRun(t, x, "sdk").Output, &out); err != nil {
		t.Fatalf("sdk output %s: %v", stepRun(t, x, "sdk").Output, err)
	}
	if out.Files != 4 {
		t.Errorf("sdk outputs.files = %d; want 4", out.Files)
	}
	for _, lang := range []string{"go", "typescript"} {
		l, ok := out.Languages[lang]
		if !ok {
			t.Errorf("sdk outputs lack language %s: %+v", lang, out.Languages)
			continue
		}
		type file struct {
			Path, SHA256 string
			Size         int
		}
		var got []file
		for _, f := range l.Files {
			got = append(got, file{f.Path, f.SHA256, f.Size})
		}
		client, types := "// "+lang+" client\n"+chainSpec, "types for "+lang
		want := []file{{"client.txt", fileSum(client), len(client)}, {"models/types.txt", fileSum(types), len(types)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sdk %s files (-want +got):\n%s", lang, diff)
		}
		if l.ExitCode != 0 || !strings.Contains(l.OutputTail, "generated the "+lang+" client") || l.FilesTruncated {
			t.Errorf("sdk %s = exit %d, tail %q, truncated %v; want exit 0 with the generator's output", lang, l.ExitCode, l.OutputTail, l.FilesTruncated)
		}
	}
	var with map[string]any
	if err := json.Unmarshal(stepRun(t, x, "sdk").With, &with); err != nil || with["spec"] != "specs/payments.yaml" {
		t.Errorf("sdk stored with = %s (%v); want the rendered spec path", stepRun(t, x, "sdk").With, err)
	}

	var promo map[string]any
	if err := json.Unmarshal(stepRun(t, x, "promote").Output, &promo); err != nil {
		t.Fatal(err)
	}
	wantPromo := map[string]any{
		"promotion_id": "promo-1", "entity_type": "config", "entity_id": "payments-contract", "entity_version": "7",
		"from_environment": "dev", "to_environment": "staging", "event_id": run.tell.EventID,
	}
	if diff := cmp.Diff(wantPromo, promo); diff != "" {
		t.Errorf("promote outputs (-want +got):\n%s", diff)
	}
	wantReq := []steps.PromotionRequest{{
		Workspace: "payments", EntityType: "config", EntityID: "payments-contract", FromEnvironment: "dev",
		ToEnvironment: "staging", Comments: "4 files regenerated", IdempotencyKey: x.ID + "/promote",
	}}
	if diff := cmp.Diff(wantReq, run.promotions); diff != "" {
		t.Errorf("Promoter calls (-want +got):\n%s", diff)
	}
}

func checkTellExecution(t *testing.T, run chainRun) {
	t.Helper()
	x := run.tell
	if x.Status != store.StatusSucceeded || x.Pipeline != "tell-on-promotion" {
		t.Fatalf("notify execution = %s of %s (error %q, steps %+v); want tell-on-promotion succeeded", x.Status, x.Pipeline, x.Error, x.Steps)
	}
	// The causation chain: the stored event is the one auto_promote
	// published, caused by the schema change.
	ev := x.Event
	if ev.Type != events.TypePromotionCompleted || ev.Extensions[events.ExtCausationID] != run.trigger.ID || ev.Depth() != 1 || ev.Workspace != "payments" {
		t.Errorf("notify execution's event = %s, causationid %q, depth %d, workspace %q; want promotion.completed caused by %s at depth 1 in payments",
			ev.Type, ev.Extensions[events.ExtCausationID], ev.Depth(), ev.Workspace, run.trigger.ID)
	}
	if ev.Get("entity_id").String() != "payments-contract" || ev.Get("promotion_id").String() != "promo-1" {
		t.Errorf("promotion.completed data = %s", ev.Data)
	}
	var onBus []events.Type
	for _, e := range run.seen {
		onBus = append(onBus, e.Type)
		if e.Type == events.TypePromotionCompleted && e.ID != x.EventID {
			t.Errorf("promotion.completed on the bus is %s; the execution ran for %s", e.ID, x.EventID)
		}
	}
	if diff := cmp.Diff([]events.Type{events.TypeSchemaChanged, events.TypePromotionCompleted}, onBus); diff != "" {
		t.Errorf("events on the bus (-want +got):\n%s", diff)
	}

	if len(run.deliveries) != 1 {
		t.Fatalf("webhook deliveries = %d; want exactly 1: %+v", len(run.deliveries), run.deliveries)
	}
	d := run.deliveries[0]
	if d.err != nil {
		t.Fatalf("webhook delivery refused by the receiver: %v", d.err)
	}
	wantBody := map[string]any{
		"entity": "payments-contract", "to": "staging", "caused_by": run.trigger.ID, "note": "sent with " + run.secrets.token,
		"event_id": x.EventID, "event_type": "promotion.completed", "execution_id": x.ID, "pipeline": "tell-on-promotion",
	}
	if diff := cmp.Diff(wantBody, d.body); diff != "" {
		t.Errorf("webhook body (-want +got):\n%s", diff)
	}
	var out struct {
		Targets map[string]struct {
			Kind      string  `json:"kind"`
			Status    float64 `json:"status"`
			WebhookID string  `json:"webhook_id"`
		} `json:"targets"`
		Delivered []string `json:"delivered"`
		Failed    []string `json:"failed"`
	}
	tell := stepRun(t, x, "tell")
	if err := json.Unmarshal(tell.Output, &out); err != nil {
		t.Fatalf("notify output %s: %v", tell.Output, err)
	}
	if o := out.Targets["ops"]; o.Kind != "webhook" || o.Status != 204 || o.WebhookID != d.id || !cmp.Equal(out.Delivered, []string{"ops"}) || len(out.Failed) != 0 {
		t.Errorf("notify outputs = %s; want ops delivered with status 204 and webhook id %s", tell.Output, d.id)
	}
	if tell.Attempts != 1 {
		t.Errorf("notify attempts = %d; want 1", tell.Attempts)
	}
	// The stored config holds the mask where the secrets were.
	var with struct {
		Targets []struct {
			Webhook struct {
				Secret  string            `json:"secret"`
				Headers map[string]string `json:"headers"`
				Payload map[string]any    `json:"payload"`
			} `json:"webhook"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(tell.With, &with); err != nil || len(with.Targets) != 1 {
		t.Fatalf("notify stored with = %s (%v)", tell.With, err)
	}
	w := with.Targets[0].Webhook
	if w.Secret != "***" || w.Headers["X-Token"] != "***" || w.Headers["Authorization"] != "Bearer ***" || w.Payload["note"] != "sent with ***" {
		t.Errorf("notify stored with = %s; want the secrets masked", tell.With)
	}
}

// checkEchoExecution: through the engine, an API answering 401 fails its
// step at once (no retry), and the answers that repeat the token are
// stored (the search for it is TestChainSecretsNeverStored's).
func checkEchoExecution(t *testing.T, run chainRun) {
	t.Helper()
	x := run.echo
	if x.Status != store.StatusFailed {
		t.Errorf("echo execution = %s; want failed", x.Status)
	}
	want := map[string]store.Status{"echo": store.StatusSucceeded, "refused": store.StatusFailed, "refused_hook": store.StatusFailed}
	if diff := cmp.Diff(want, stepStatuses(x)); diff != "" {
		t.Errorf("echo execution steps (-want +got):\n%s", diff)
	}
	for _, id := range []string{"refused", "refused_hook"} {
		if s := stepRun(t, x, id); s.Attempts != 1 || !strings.Contains(s.Error, "401") {
			t.Errorf("step %s = %d attempts, error %q; want 1 attempt failing with the 401", id, s.Attempts, s.Error)
		}
	}
	var echo struct {
		Status float64 `json:"status"`
		JSON   struct {
			Received map[string]string `json:"received"`
		} `json:"json"`
	}
	if err := json.Unmarshal(stepRun(t, x, "echo").Output, &echo); err != nil || echo.Status != 200 || echo.JSON.Received["x-token"] != "***" {
		t.Errorf("echo output = %s (%v); want status 200 and the echoed token masked", stepRun(t, x, "echo").Output, err)
	}
}

// TestChainSecretsNeverStored: over random secrets (quotes, <, &,
// backslashes, the mask's '*', non-ASCII among them), after the whole
// chain ran, no stored execution (config, outputs, errors), bus event,
// database cell or file, or log line holds a secret in any form: as it
// is, escaped, quoted, base64 (standard and URL, padded and raw) or hex.
func TestChainSecretsNeverStored(t *testing.T) {
	gen := buildChainGenerator(t)
	tokens := []string{
		`p"a<s>s&w'o\rd`,
		"ünïcødé-秘密-\u2028-😀",
		"***star*secret***",
		`</script><b>&amp;"`,
	}
	const random = 4
	seed := uint64(time.Now().UnixNano())
	t.Logf("random secrets from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5ec12e7))
	for range random {
		tokens = append(tokens, genToken(rng))
	}
	for i, token := range tokens {
		key := make([]byte, 24)
		for j := range key {
			key[j] = byte(rng.UintN(256))
		}
		sec := chainSecrets{token: token, signing: "whsec_" + base64.StdEncoding.EncodeToString(key), style: jsonStyles[i%len(jsonStyles)]}
		for _, kind := range chainKinds {
			t.Run(kind.name+"/"+sec.style+"/"+strconv.Itoa(i), func(t *testing.T) {
				run := runChain(t, kind.open, gen, sec)
				if run.tell.Status != store.StatusSucceeded || len(run.deliveries) != 1 || run.deliveries[0].err != nil {
					// A run that never used the secrets would prove nothing.
					t.Fatalf("chain did not deliver (status %s, %d deliveries): %+v", run.tell.Status, len(run.deliveries), run.deliveries)
				}
				for _, msg := range []string{"steps: notify target delivered", "steps: notify target failed", "steps: http request done"} {
					if !strings.Contains(run.logs, msg) {
						t.Errorf("the log lacks %q: the search of the log would prove little", msg)
					}
				}
				leaks := findLeaks(run.blobs, map[string]map[string]string{
					"TOKEN":          secretForms(sec.token),
					"WEBHOOK_SECRET": signingKeyForms(sec.signing),
				})
				for _, l := range leaks {
					t.Error(l)
				}
			})
		}
	}
}

// genToken draws a token a header can carry: 12 to 30 characters of
// JSON's and quoting's special characters, the mask's '*' and non-ASCII,
// not starting or ending with a space (which HTTP trims).
func genToken(rng *rand.Rand) string {
	alphabet := []rune("abcXYZ019\"\\'<>&*{}$ é\u2028/+=-😀")
	n := 12 + rng.IntN(19)
	r := make([]rune, n)
	for i := range r {
		for {
			r[i] = alphabet[rng.IntN(len(alphabet))]
			if r[i] != ' ' || i != 0 && i != n-1 {
				break
			}
		}
	}
	return string(r)
}
