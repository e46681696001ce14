package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mockops.db")
	checkRun(t, db, 1)
	// A second run on the same database stores new versions, and its named
	// engine's durable consumer resumes after the events the first run
	// handled: only the seven new events run pipelines.
	checkRun(t, db, 2)

	st, err := sqlstore.Open(t.Context(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := st.ListPipelines(t.Context(), store.PipelineQuery{})
	if err != nil || len(ps) != 4 {
		t.Errorf("ListPipelines = %d pipelines, %v; want the 4 quickstart pipelines", len(ps), err)
	}
	// Six executions per run, each stored once, all succeeded, and the
	// deploy token nowhere in them.
	page, err := st.ListExecutions(t.Context(), store.ExecutionQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[store.Status]int{}
	for _, x := range page.Executions {
		byStatus[x.Status]++
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), deployToken) {
			t.Errorf("stored execution %s of %s holds the deploy token: %s", x.ID, x.Pipeline, b)
		}
	}
	if diff := cmp.Diff(map[store.Status]int{store.StatusSucceeded: 12}, byStatus); diff != "" {
		t.Errorf("stored executions by status (-want +got):\n%s", diff)
	}
	if f, err := st.GetFederation(t.Context(), "shop"); err != nil || f.Version != 2 {
		t.Errorf("GetFederation(shop) = version %d, %v; want version 2", f.Version, err)
	}
}

func checkRun(t *testing.T, db string, version int) {
	t.Helper()
	var out, logs bytes.Buffer
	if err := run(t.Context(), db, &out, &logs); err != nil {
		t.Fatalf("run() = %v\noutput:\n%s\nlogs:\n%s", err, out.String(), logs.String())
	}
	for name, b := range map[string]*bytes.Buffer{"output": &out, "logs": &logs} {
		if strings.Contains(b.String(), deployToken) {
			t.Errorf("%s hold the deploy token:\n%s", name, b.String())
		}
	}
	// The quickstart's log step writes its message through the engine's
	// logger, with the run's ids.
	if got, want := strings.Count(logs.String(), `msg="quickstart log" pipeline=`), 6; got != want {
		t.Errorf("logs have %d quickstart log records, want %d:\n%s", got, want, logs.String())
	}
	var types []events.Type
	var other []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if js, ok := strings.CutPrefix(line, "event "); ok {
			var e events.Event
			if err := json.Unmarshal([]byte(js), &e); err != nil {
				t.Fatalf("event line %q is not a CloudEvent: %v", line, err)
			}
			types = append(types, e.Type)
			continue
		}
		other = append(other, line)
	}
	wantTypes := []events.Type{
		events.TypeWorkspaceCreated, events.TypeSchemaChanged, events.TypeScenarioPublished,
		events.TypePersonaPublished, events.TypeDriftThresholdExceeded, events.TypePromotionCompleted,
		events.TypeConfigChanged,
	}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("printed events (-want +got):\n%s", diff)
	}
	wantOther := []string{
		fmt.Sprintf("stored pipeline audit-config (mockops format) as version %d", version),
		fmt.Sprintf("stored pipeline escalate-drift (mockops format) as version %d", version),
		fmt.Sprintf("stored pipeline promote-on-publish (mockforge format) as version %d", version),
		fmt.Sprintf("stored pipeline sdk-on-schema-change (mockops format) as version %d", version),
		// The engine's dry run for the drift event: the secrets are redacted.
		"test drift.threshold_exceeded:",
		`  pipeline audit-config would not run: event type "drift.threshold_exceeded" is not "config.changed"`,
		"  pipeline escalate-drift would run step page (http) with map[headers:map[Authorization:Bearer ***] json:map[text:drift on /payments is over budget] method:POST url:***]",
		"  pipeline escalate-drift would run step raise (emit) with map[data:map[keys:[drift.budget] scope:drift-budget] type:config.changed]",
		"  pipeline escalate-drift would run step note (log) with map[message:paged the deploy hook for /payments]",
		`  pipeline promote-on-publish would not run: event type "drift.threshold_exceeded" is not "scenario.published"`,
		"  pipeline sdk-on-schema-change would run step tell (log) with map[message:drift.threshold_exceeded in payments: /payments]",
		// The executions the published events ran, as stored.
		fmt.Sprintf("execution of sdk-on-schema-change v%d for schema.changed: succeeded", version),
		`  step tell (log): succeeded, outcome succeeded, 1 attempt(s), with {"message":"schema.changed in payments: specs/payments.yaml"}`,
		fmt.Sprintf("execution of promote-on-publish v%d for scenario.published: succeeded", version),
		`  step announce (log): succeeded, outcome succeeded, 1 attempt(s), with {"message":"promote sc-1 from payments"}`,
		fmt.Sprintf("execution of escalate-drift v%d for drift.threshold_exceeded: succeeded", version),
		`  step page (http): succeeded, outcome succeeded, 1 attempt(s), with {"headers":{"Authorization":"Bearer ***"},"json":{"text":"drift on /payments is over budget"},"method":"POST","url":"***"}`,
		`  step raise (emit): succeeded, outcome succeeded, 1 attempt(s), with {"data":{"keys":["drift.budget"],"scope":"drift-budget"},"type":"config.changed"}`,
		`  step note (log): succeeded, outcome succeeded, 1 attempt(s), with {"message":"paged the deploy hook for /payments"}`,
		fmt.Sprintf("execution of sdk-on-schema-change v%d for drift.threshold_exceeded: succeeded", version),
		`  step tell (log): succeeded, outcome succeeded, 1 attempt(s), with {"message":"drift.threshold_exceeded in payments: /payments"}`,
		// The event escalate-drift emitted ran audit-config in turn.
		fmt.Sprintf("execution of audit-config v%d for config.changed (caused by drift.threshold_exceeded, depth 1): succeeded", version),
		`  step record (log): succeeded, outcome succeeded, 1 attempt(s), with {"message":"config of payments changed: scope drift-budget"}`,
		fmt.Sprintf("execution of audit-config v%d for config.changed: succeeded", version),
		`  step record (log): succeeded, outcome succeeded, 1 attempt(s), with {"message":"config of payments changed: scope workspace"}`,
		// The http step reached the loopback deploy hook with the real token.
		`deploy hook got POST /hooks/deploy with a valid token: {"text":"drift on /payments is over budget"}`,
		`federation GET /users/7 -> 200 served by real: {"id":"7","name":"Ada","source":"real users service"}`,
		`federation GET /orders/42 -> 200 served by mock: {"order":"42","status":"shipped","source":"mock workspace orders-ws"}`,
		`federation GET /inventory/1 -> 404 served by router: {"detail":"federation: no service of \"shop\" routes \"/inventory/1\"","federation":"shop","status":404,"title":"Not Found","type":"about:blank"}`,
	}
	if diff := cmp.Diff(wantOther, other); diff != "" {
		t.Errorf("printed lines (-want +got):\n%s", diff)
	}
}
