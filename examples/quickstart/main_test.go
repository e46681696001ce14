package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run() = %v", err)
	}
	var got []events.Type
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("output line %q is not a CloudEvent: %v", sc.Text(), err)
		}
		got = append(got, e.Type)
	}
	want := []events.Type{
		events.TypeWorkspaceCreated, events.TypeSchemaChanged, events.TypeScenarioPublished,
		events.TypePersonaPublished, events.TypeDriftThresholdExceeded, events.TypePromotionCompleted,
		events.TypeConfigChanged,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("printed events (-want +got):\n%s", diff)
	}
}
