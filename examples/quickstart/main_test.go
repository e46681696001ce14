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
	// consumer resumes after the events the first run handled: it prints
	// only the seven new ones.
	checkRun(t, db, 2)

	st, err := sqlstore.Open(t.Context(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := st.ListPipelines(t.Context(), store.PipelineQuery{})
	if err != nil || len(ps) != 2 {
		t.Errorf("ListPipelines = %d pipelines, %v; want the 2 quickstart pipelines", len(ps), err)
	}
	if f, err := st.GetFederation(t.Context(), "shop"); err != nil || f.Version != 2 {
		t.Errorf("GetFederation(shop) = version %d, %v; want version 2", f.Version, err)
	}
}

func checkRun(t *testing.T, db string, version int) {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), db, &out); err != nil {
		t.Fatalf("run() = %v\noutput:\n%s", err, out.String())
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
		fmt.Sprintf("stored pipeline promote-on-publish (mockforge format) as version %d", version),
		fmt.Sprintf("stored pipeline sdk-on-schema-change (mockops format) as version %d", version),
		"  pipeline sdk-on-schema-change would run step tell (log) with map[message:schema.changed in payments: specs/payments.yaml]",
		"  pipeline promote-on-publish would run step announce (log) with map[message:promote sc-1 from payments]",
		"  pipeline sdk-on-schema-change would run step tell (log) with map[message:drift.threshold_exceeded in payments: /payments]",
		`federation GET /users/7 -> 200 served by real: {"id":"7","name":"Ada","source":"real users service"}`,
		`federation GET /orders/42 -> 200 served by mock: {"order":"42","status":"shipped","source":"mock workspace orders-ws"}`,
		`federation GET /inventory/1 -> 404 served by router: {"detail":"federation: no service of \"shop\" routes \"/inventory/1\"","federation":"shop","status":404,"title":"Not Found","type":"about:blank"}`,
	}
	if diff := cmp.Diff(wantOther, other); diff != "" {
		t.Errorf("printed lines (-want +got):\n%s", diff)
	}
}
