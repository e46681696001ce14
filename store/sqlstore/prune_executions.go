package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// qPruneExecutions deletes at most a batch (the last argument) of the
// finished executions whose finished_at is before a cut-off, those that
// finished first first. The status list is the terminal statuses, so a
// running or queued execution is never deleted whatever its timestamps
// say. The pick walks the partial index mockops_executions_finished
// (migration 0003) from its start and stops after the batch: its WHERE
// clause is the index's, term for term, which is what lets both planners
// use it, and its ORDER BY is the index's key, so nothing is sorted.
const qPruneExecutions = `DELETE FROM mockops_executions WHERE id IN (
	SELECT id FROM mockops_executions
	WHERE status IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')
	AND finished_at IS NOT NULL AND finished_at < ?
	ORDER BY finished_at, id LIMIT ?)`

// PruneExecutions deletes up to limit executions in a terminal state that
// finished before finishedBefore, those that finished first going first
// (ties by ID), in one statement, and returns how many it deleted. Callers
// prune a long history in several calls, so no statement holds its locks
// (or SQLite's write lock) for the whole of it; each call reads only the
// rows it deletes, through the finished_at index, however long the
// history. Deleting an execution frees its (pipeline, event) pair: a
// redelivery of that event would start a new execution, so keep finished
// ones longer than any bus may redeliver. A limit that is not positive
// deletes nothing.
func (s *Store) PruneExecutions(ctx context.Context, finishedBefore time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlstore: prune executions: %w", err)
	}
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(db execer) error {
		res, err := db.ExecContext(ctx, s.q.pruneExecutions, s.d.ts(finishedBefore), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: prune executions: %w", err)
	}
	return int(n), nil
}
