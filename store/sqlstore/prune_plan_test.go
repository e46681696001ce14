package sqlstore

import (
	"strings"
	"testing"
	"time"
)

// The pick of PruneExecutions walks mockops_executions_finished (migration
// 0003) in its key order: no scan of the table, no sort. Each test then
// drops the index and checks that the same reading of the plan sees a
// scan, so that it can tell the two apart.

const finishedIndex = "mockops_executions_finished"

// fillHistory stores n executions, one in ten running and the rest
// succeeded, of which the first hundred finished two days ago and the
// others a minute ago: a history whose prunable part is small, so a
// planner with statistics has every reason to use the index.
func fillHistory(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := testCtx(t)
	now := time.Now()
	old, recent := s.d.ts(now.Add(-48*time.Hour)), s.d.ts(now.Add(-time.Minute))
	var q string
	if s.d == postgresDialect {
		q = `INSERT INTO mockops_executions (id, pipeline, version, event_id, status, error, attempt, owner, cancel_requested, created_at, finished_at)
			SELECT lpad(i::text, 26, '0'), 'p', 1, 'e' || i, CASE WHEN i % 10 = 0 THEN 'running' ELSE 'succeeded' END, '', 1, '', false, $2::timestamptz,
				CASE WHEN i % 10 = 0 THEN NULL WHEN i <= 100 THEN $2::timestamptz ELSE $3::timestamptz END
			FROM generate_series(1, $1::bigint) AS i`
	} else {
		q = `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1)
			INSERT INTO mockops_executions (id, pipeline, version, event_id, status, error, attempt, owner, cancel_requested, created_at, finished_at)
			SELECT printf('%026d', i), 'p', 1, 'e' || i, CASE WHEN i % 10 = 0 THEN 'running' ELSE 'succeeded' END, '', 1, '', 0, ?2,
				CASE WHEN i % 10 = 0 THEN NULL WHEN i <= 100 THEN ?2 ELSE ?3 END
			FROM c`
	}
	if _, err := s.db.ExecContext(ctx, q, n, old, recent); err != nil {
		t.Fatalf("fill %d executions: %v", n, err)
	}
	if _, err := s.db.ExecContext(ctx, "ANALYZE mockops_executions"); err != nil {
		t.Fatal(err)
	}
}

func dropFinishedIndex(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.db.ExecContext(testCtx(t), "DROP INDEX "+finishedIndex); err != nil {
		t.Fatal(err)
	}
}

// TestPrunePlanSQLite reads EXPLAIN QUERY PLAN of the prune: the pick
// searches the finished index with no temporary sort, and nothing scans
// mockops_executions (the delete itself finds each row by its key).
func TestPrunePlanSQLite(t *testing.T) {
	s := newSQLiteStore(t)
	fillHistory(t, s, 10_000)
	plan := func() []string {
		t.Helper()
		rows, err := s.db.QueryContext(testCtx(t), "EXPLAIN QUERY PLAN "+s.d.bind(qPruneExecutions), s.d.ts(time.Now().Add(-time.Hour)), 500)
		if err != nil {
			t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
		}
		steps, err := collect(rows, func(r scanner) (string, error) {
			var id, parent, unused int
			var detail string
			return detail, r.Scan(&id, &parent, &unused, &detail)
		})
		if err != nil {
			t.Fatal(err)
		}
		return steps
	}
	// walks says whether the plan searches the finished index without a
	// sort, and scans reports a full scan of the table.
	walks := func(steps []string) (walks, scans bool) {
		sorted := false
		for _, step := range steps {
			switch {
			case strings.Contains(step, "TEMP B-TREE"):
				sorted = true
			case strings.HasPrefix(step, "SEARCH mockops_executions USING INDEX "+finishedIndex+" (finished_at"),
				strings.HasPrefix(step, "SEARCH mockops_executions USING COVERING INDEX "+finishedIndex+" (finished_at"):
				walks = true
			case strings.HasPrefix(step, "SCAN mockops_executions"):
				scans = true
			}
		}
		return walks && !sorted, scans
	}

	got := plan()
	if w, s := walks(got); !w || s {
		t.Errorf("prune plan:\n%s\nwant a search of %s by finished_at with no sort and no scan", strings.Join(got, "\n"), finishedIndex)
	}
	dropFinishedIndex(t, s)
	got = plan()
	if w, s := walks(got); w || !s {
		t.Errorf("prune plan without %s:\n%s\nwant it read as a scan", finishedIndex, strings.Join(got, "\n"))
	}
}

// TestPrunePlanPostgres reads EXPLAIN of the prune over an analysed
// history: an index scan of the finished index, no sequential scan of
// mockops_executions and no sort.
func TestPrunePlanPostgres(t *testing.T) {
	s := newPostgresStore(t)
	fillHistory(t, s, 20_000)
	plan := func() string {
		t.Helper()
		rows, err := s.db.QueryContext(testCtx(t), "EXPLAIN "+s.d.bind(qPruneExecutions), s.d.ts(time.Now().Add(-time.Hour)), 500)
		if err != nil {
			t.Fatalf("EXPLAIN: %v", err)
		}
		lines, err := collect(rows, func(r scanner) (string, error) {
			var line string
			return line, r.Scan(&line)
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	walks := func(plan string) bool {
		return (strings.Contains(plan, "Index Scan using "+finishedIndex+" on mockops_executions") ||
			strings.Contains(plan, "Index Only Scan using "+finishedIndex+" on mockops_executions")) &&
			!strings.Contains(plan, "Sort")
	}
	scans := func(plan string) bool { return strings.Contains(plan, "Seq Scan on mockops_executions") }

	if got := plan(); !walks(got) || scans(got) {
		t.Errorf("prune plan:\n%s\nwant an index scan of %s with no sort and no sequential scan", got, finishedIndex)
	}
	dropFinishedIndex(t, s)
	if got := plan(); walks(got) || !scans(got) {
		t.Errorf("prune plan without %s:\n%s\nwant it read as a sequential scan", finishedIndex, got)
	}
}
