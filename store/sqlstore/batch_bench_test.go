package sqlstore

import (
	"testing"
	"time"

	"github.com/mockops/mockops/store"
)

// BenchmarkUpdateExecutions: one UpdateExecutions of 20 running
// executions (about the batch an engine's completions carry), each with a
// step run, on PostgreSQL, in rows/s. per-row-tx is the baseline, the path
// SQLite still takes: BEGIN, one UPDATE per row, COMMIT; one-statement is
// PostgreSQL's single fenced UPDATE of the whole batch.
func BenchmarkUpdateExecutions(b *testing.B) {
	const rows = 20
	for _, mode := range []string{"per-row-tx", "one-statement"} {
		b.Run("postgres/"+mode, func(b *testing.B) {
			s := newPostgresStore(b)
			if mode == "per-row-tx" {
				s.q.updateExecutions = ""
			}
			ctx := testCtx(b)
			batch := claimN(b, s, rows)
			now := time.Now().UTC()
			for i := range batch {
				batch[i].Steps = []store.StepRun{{ID: "a", Uses: "noop", Status: store.StatusRunning, StartedAt: now}}
			}
			b.ReportAllocs()
			for b.Loop() {
				_, errs := s.UpdateExecutions(ctx, batch)
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
