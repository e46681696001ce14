package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// qPruneExecutions deletes at most a batch (the last argument) of the
// oldest finished executions whose finished_at is before a cut-off. The
// status list is the terminal statuses, so a running or queued execution
// is never deleted whatever its timestamps say; the (status, id) index
// serves the pick.
const qPruneExecutions = `DELETE FROM mockops_executions WHERE id IN (
	SELECT id FROM mockops_executions
	WHERE status IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')
	AND finished_at IS NOT NULL AND finished_at < ?
	ORDER BY id LIMIT ?)`

// PruneExecutions deletes up to limit executions in a terminal state that
// finished before finishedBefore, oldest first (by ID), in one statement,
// and returns how many it deleted. Callers prune a long history in
// several calls, so no statement holds its locks (or SQLite's write lock)
// for the whole of it. Deleting an execution frees its (pipeline, event)
// pair: a redelivery of that event would start a new execution, so keep
// finished ones longer than any bus may redeliver. A limit that is not
// positive deletes nothing.
func (s *Store) PruneExecutions(ctx context.Context, finishedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(db execer) error {
		res, err := db.ExecContext(ctx, s.d.bind(qPruneExecutions), s.d.ts(finishedBefore), limit)
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
