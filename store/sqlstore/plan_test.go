package sqlstore

import (
	"strings"
	"testing"
)

// TestQueryPlansSQLite: the claim walks the partial index of active
// executions in ID order, and every listing of executions walks an index
// that matches its filters, with no sort of the rows found and no full
// scan. SQLite plans the same statement the same way on every machine, so
// its plans can be checked; BenchmarkClaim shows what they cost on both
// dialects.
func TestQueryPlansSQLite(t *testing.T) {
	s := newSQLiteStore(t)
	ctx := testCtx(t)
	tests := []struct {
		name  string
		query string
		args  []any
		index string // the index the plan must use
	}{
		{"claim", s.q.claimExecutions, []any{10, "w", int64(60e6)}, "mockops_executions_active"},
		{"list by status", s.q.listExecutions[0][1][0], []any{"queued", 51}, "mockops_executions_status"},
		{"list by status, paged", s.q.listExecutions[0][1][1], []any{"queued", "01K", 51}, "mockops_executions_status"},
		{"list by pipeline and status", s.q.listExecutions[1][1][0], []any{"p", "failed", 51}, "mockops_executions_pipeline_status"},
		{"list by pipeline and status, paged", s.q.listExecutions[1][1][1], []any{"p", "failed", "01K", 51}, "mockops_executions_pipeline_status"},
		{"list by pipeline", s.q.listExecutions[1][0][0], []any{"p", 51}, "mockops_executions_pipeline"},
	}
	for _, tt := range tests {
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
		if err != nil {
			t.Fatalf("%s: EXPLAIN QUERY PLAN: %v", tt.name, err)
		}
		plan, err := collect(rows, func(r scanner) (string, error) {
			var id, parent, unused int
			var detail string
			return detail, r.Scan(&id, &parent, &unused, &detail)
		})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		usesIndex := false
		for _, step := range plan {
			if !strings.Contains(step, "mockops_executions") {
				continue
			}
			if strings.Contains(step, "INDEX "+tt.index+" ") || strings.HasSuffix(step, "INDEX "+tt.index) {
				usesIndex = true
			}
		}
		if !usesIndex || strings.Contains(text, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("%s: plan\n%s\nwant a walk of %s with no sort", tt.name, text, tt.index)
		}
	}
}
