-- Retention (PruneExecutions) deletes the executions that finished before
-- a cut-off, those that finished first first. A partial index over just
-- the finished rows, keyed by when they finished, serves that pick
-- directly: a prune reads the rows it deletes, in order, and stops, where
-- without it every prune scanned the whole history. Its WHERE clause is
-- the prune query's, term for term, as the planner needs to use it.
CREATE INDEX mockops_executions_finished ON mockops_executions (finished_at, id)
	WHERE status IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')
	AND finished_at IS NOT NULL;
