-- Claims walk the queued and running executions in ID order, the claim
-- order of every adapter. A partial index over just those rows serves the
-- walk directly, so a claim reads the rows it takes (and the running rows
-- with live leases it passes) however long the backlog or the history is.
-- The old (status, created_at, id) index could not serve the
-- "queued OR lease-expired running" condition and made every claim sort
-- the whole backlog.
DROP INDEX mockops_executions_claim;
CREATE INDEX mockops_executions_active ON mockops_executions (id)
	WHERE status IN ('queued', 'running');

-- Listing by status, and by pipeline and status, newest first.
CREATE INDEX mockops_executions_status ON mockops_executions (status, id);
CREATE INDEX mockops_executions_pipeline_status ON mockops_executions (pipeline, status, id);
