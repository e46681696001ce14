package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

// claimBacklogs are the queue lengths BenchmarkClaim compares: a claim
// whose cost follows the backlog shows it as a ratio between the two.
var claimBacklogs = []int{10_000, 500_000}

// qSortingClaim is the claim of migration 0001, kept as the baseline: its
// OR of two statuses could use no index order, so it sorted the whole
// claimable backlog on every claim. Arguments: now, n, owner, lease_until,
// now.
const qSortingClaim = `WITH picked AS MATERIALIZED (
		SELECT id FROM mockops_executions
		WHERE status = 'queued' OR (status = 'running' AND (lease_until IS NULL OR lease_until <= ?))
		ORDER BY created_at, id
		LIMIT ? {skip_locked}
	)
	UPDATE mockops_executions
	SET status = 'running', owner = ?, lease_until = ?, attempt = attempt + 1,
		started_at = COALESCE(started_at, ?)
	WHERE id IN (SELECT id FROM picked)
	RETURNING ` + executionColumns

// BenchmarkClaim: one ClaimExecutions of one execution with a backlog of
// 10,000 and of 500,000 queued executions, on the in-memory store (the
// baseline), SQLite and PostgreSQL, and the 0001 sorting claim beside each
// SQL figure. The benchmark finishes each claimed execution and tops the
// queue up outside the timer, as an engine's workers keep the backlog
// steady, so only the claim is measured.
func BenchmarkClaim(b *testing.B) {
	for _, backlog := range claimBacklogs {
		b.Run(fmt.Sprintf("memory/backlog=%d", backlog), func(b *testing.B) {
			s := memory.New()
			benchClaim(b, s, backlog, memoryFiller(s), s.ClaimExecutions)
		})
		for _, db := range []struct {
			name string
			open func(b *testing.B) *Store
		}{
			{"sqlite", func(b *testing.B) *Store { return newSQLiteStore(b) }},
			{"postgres", func(b *testing.B) *Store { return newPostgresStore(b) }},
		} {
			b.Run(fmt.Sprintf("%s/backlog=%d", db.name, backlog), func(b *testing.B) {
				s := db.open(b)
				benchClaim(b, s, backlog, sqlFiller(s), s.ClaimExecutions)
			})
			b.Run(fmt.Sprintf("%s-sorting/backlog=%d", db.name, backlog), func(b *testing.B) {
				s := db.open(b)
				benchClaim(b, s, backlog, sqlFiller(s), sortingClaim(s))
			})
		}
	}
}

type claimFunc func(ctx context.Context, owner string, lease time.Duration, n int) ([]store.Execution, error)

// filler adds count queued executions after every earlier one.
type filler func(ctx context.Context, b *testing.B, count int)

func benchClaim(b *testing.B, s store.Store, backlog int, fill filler, claim claimFunc) {
	ctx := context.Background()
	fill(ctx, b, backlog)
	queued := backlog
	b.ReportAllocs()
	for b.Loop() {
		xs, err := claim(ctx, "bench", time.Minute, 1)
		if err != nil || len(xs) != 1 {
			b.Fatalf("claim = %d executions, %v; want 1", len(xs), err)
		}
		b.StopTimer()
		x := xs[0]
		x.Status = store.StatusSucceeded
		x.FinishedAt = time.Now()
		if _, err := s.UpdateExecution(ctx, x); err != nil {
			b.Fatal(err)
		}
		if queued--; queued < backlog*9/10 {
			fill(ctx, b, backlog-queued)
			queued = backlog
		}
		b.StartTimer()
	}
}

func memoryFiller(s *memory.Store) filler {
	return func(ctx context.Context, b *testing.B, count int) {
		for i := range count {
			_, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", Version: 1, EventID: events.NewID(time.Now()) + fmt.Sprint(i)})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// sqlFiller inserts executions in one statement generating the rows in the
// database, so that 500,000 take seconds. Their IDs are zero-padded
// counters, which sort as IDs do.
func sqlFiller(s *Store) filler {
	next := 0
	return func(ctx context.Context, b *testing.B, count int) {
		from, to := next+1, next+count
		next = to
		var q string
		if s.d == postgresDialect {
			q = `INSERT INTO mockops_executions (id, pipeline, version, event_id, status, error, attempt, owner, cancel_requested, created_at)
				SELECT lpad(i::text, 26, '0'), 'p', 1, 'e' || i, 'queued', '', 0, '', false, now()
				FROM generate_series($1::bigint, $2::bigint) AS i`
		} else {
			q = `WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?)
				INSERT INTO mockops_executions (id, pipeline, version, event_id, status, error, attempt, owner, cancel_requested, created_at)
				SELECT printf('%026d', i), 'p', 1, 'e' || i, 'queued', '', 0, '', 0, i FROM c`
		}
		if _, err := s.db.ExecContext(ctx, q, from, to); err != nil {
			b.Fatalf("fill %d executions: %v", count, err)
		}
		if s.d == postgresDialect {
			// What autovacuum would do soon after a bulk load.
			if _, err := s.db.ExecContext(ctx, "ANALYZE mockops_executions"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func sortingClaim(s *Store) claimFunc {
	q := s.d.bind(qSortingClaim)
	return func(ctx context.Context, owner string, lease time.Duration, n int) ([]store.Execution, error) {
		now := normTime(time.Now())
		rows, err := s.db.QueryContext(ctx, q, s.d.ts(now), n, owner, s.d.ts(now.Add(lease)), s.d.ts(now))
		if err != nil {
			return nil, err
		}
		return collect(rows, scanExecution)
	}
}
