package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := `refused:
drift-ticket.yaml:8:7: with: missing required field "project"
drift-ticket.yaml:9:7: with: unknown key "priorty" (did you mean "priority"?)
execution of drift-ticket: succeeded, step file output {"ticket":"MOCKS-1"}
tracker: MOCKS-1 [p1] mock of orders drifts 50%
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
