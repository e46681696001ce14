package sqlstore

import "strings"

// The query texts, written once with ? placeholders and {tokens} for the
// few spellings that differ; bindQueries turns them into one dialect's text
// when a Store opens.

const executionColumns = `id, pipeline, version, event_id, event, status, error, steps,
	attempt, owner, lease_until, cancel_requested, created_at, started_at, finished_at`

// qualifiedExecutionColumns is executionColumns of the table aliased e,
// for statements that join it to rows with the same column names.
const qualifiedExecutionColumns = `e.id, e.pipeline, e.version, e.event_id, e.event, e.status, e.error, e.steps,
	e.attempt, e.owner, e.lease_until, e.cancel_requested, e.created_at, e.started_at, e.finished_at`

const (
	qGetPipeline   = `SELECT name, version, source, enabled, workspace, updated_at FROM mockops_pipelines WHERE name = ?`
	qListPipelines = `SELECT name, version, source, enabled, workspace, updated_at FROM mockops_pipelines
		WHERE (? = '' OR workspace = ?) AND (? = FALSE OR enabled = TRUE) ORDER BY name`

	qGetFederation   = `SELECT name, version, spec, updated_at FROM mockops_federations WHERE name = ?`
	qListFederations = `SELECT name, version, spec, updated_at FROM mockops_federations ORDER BY name`
	qGetActivation   = `SELECT federation, scenario, version, updated_at FROM mockops_activations WHERE federation = ?`

	qGetState  = `SELECT scope, key, value, version, updated_at FROM mockops_state WHERE scope = ? AND key = ?`
	qListState = `SELECT scope, key, value, version, updated_at FROM mockops_state WHERE scope = ? ORDER BY key`

	// The INSERTs of CreateExecutions skip a row whose ID or (pipeline,
	// event_id) is taken, rather than failing, so that one duplicate does
	// not fail (or, in PostgreSQL, abort the transaction of) a batch.
	qInsertExecution = `INSERT INTO mockops_executions (` + executionColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	// An execution stored already claimed: running, attempt 1, its lease
	// and start on the database's clock as a claim sets them.
	// Arguments: id, pipeline, version, event_id, event, error, steps,
	// owner, lease in microseconds, cancel_requested, created_at.
	qInsertClaimedExecution = `INSERT INTO mockops_executions (` + executionColumns + `)
		VALUES (?, ?, ?, ?, ?, 'running', ?, ?, 1, ?, {now_plus_micros}, ?, ?, {now}, NULL)
		ON CONFLICT DO NOTHING
		RETURNING lease_until, started_at`
	// qInsertExecutionsPostgres is both INSERTs for a whole batch in one
	// statement, the rows as parallel arrays (one text, one cached plan,
	// for every size); claimed rows take their lease and start from the
	// database's clock. Only what the database decided comes back, not the
	// rows, whose event would be decoded again for nothing.
	// Arguments: lease in microseconds, then the arrays ids, pipelines,
	// versions, event_ids, events (JSON text or NULL), statuses, errors,
	// steps (JSON text or NULL), attempts, owners, lease_until,
	// cancel_requested, created_at, started_at, finished_at, claimed.
	qInsertExecutionsPostgres = `INSERT INTO mockops_executions (` + executionColumns + `)
		SELECT v.id, v.pipeline, v.version, v.event_id, CAST(v.event AS json), v.status, v.error,
			CAST(v.steps AS json), v.attempt, v.owner,
			CASE WHEN v.claimed THEN {now_plus_micros} ELSE v.lease_until END,
			v.cancel_requested, v.created_at,
			CASE WHEN v.claimed THEN {now} ELSE v.started_at END, v.finished_at
		FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]),
			CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
			CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS timestamptz[]), CAST(? AS boolean[]),
			CAST(? AS timestamptz[]), CAST(? AS timestamptz[]), CAST(? AS timestamptz[]), CAST(? AS boolean[]))
			AS v(id, pipeline, version, event_id, event, status, error, steps, attempt, owner,
				lease_until, cancel_requested, created_at, started_at, finished_at, claimed)
		ON CONFLICT DO NOTHING
		RETURNING id, lease_until, started_at`
	qGetExecution   = `SELECT ` + executionColumns + ` FROM mockops_executions WHERE id = ?`
	qExecutionOwner = `SELECT owner, attempt FROM mockops_executions WHERE id = ?`
	// One statement picks and takes the rows. In PostgreSQL the row locks
	// of FOR UPDATE SKIP LOCKED make concurrent claimers pass over each
	// other's rows, and the WHERE clause is re-checked on the locked row, so
	// a row another replica just claimed is not taken again. The pick is a
	// MATERIALIZED CTE because a LIMIT ... SKIP LOCKED subquery written
	// inside IN (...) may be rescanned by a nested-loop plan, and each rescan
	// would pick (and the UPDATE take) further rows, past n. In SQLite the
	// statement is one write transaction, which no other writer interleaves.
	//
	// Leases are read and written on the database's clock ({now}), never a
	// replica's, so a replica whose clock runs ahead cannot see a live lease
	// as expired and hand a running execution to a second owner.
	//
	// The pick walks the partial index mockops_executions_active (id, over
	// queued and running rows only) in ID order, the one claim order of
	// every adapter: it reads the n rows it takes plus the running rows
	// with live leases it passes, so its cost follows the work in flight,
	// not the backlog or the history. The status IN term repeats the
	// index's predicate word for word so that SQLite's planner may use it;
	// {active_index} names the index for SQLite, whose planner would rather
	// search the status index and sort.
	// Arguments: n, owner, lease in microseconds.
	qClaimExecutions = `WITH picked AS MATERIALIZED (
			SELECT id FROM mockops_executions {active_index}
			WHERE status IN ('queued', 'running')
				AND (status = 'queued' OR lease_until IS NULL OR lease_until <= {now})
			ORDER BY id
			LIMIT ? {skip_locked}
		)
		UPDATE mockops_executions
		SET status = 'running', owner = ?, lease_until = {now_plus_micros}, attempt = attempt + 1,
			started_at = COALESCE(started_at, {now})
		WHERE id IN (SELECT id FROM picked)
		RETURNING ` + executionColumns
	// The owner and attempt in the WHERE clause are the fencing token: once
	// another claim has incremented attempt, the old owner's write matches
	// no row. An execution never claimed has no claim to hold.
	qUpdateExecution = `UPDATE mockops_executions
		SET status = ?, error = ?, steps = ?, lease_until = ?, started_at = ?, finished_at = ?
		WHERE id = ? AND owner = ? AND attempt = ? AND owner <> ''
		RETURNING ` + executionColumns
	// qUpdateExecutionsPostgres is qUpdateExecution for a whole batch in
	// one statement: one round trip and one autocommit instead of BEGIN,
	// a statement per row and COMMIT. The rows arrive as parallel arrays,
	// so the text is the same for every batch size (one cached plan).
	// locked takes the row locks in ID order, as the per-row path does, so
	// two batches over the same rows cannot deadlock; its WHERE is the same
	// fencing token as qUpdateExecution, re-checked by PostgreSQL on a row
	// that changed while it waited, and the UPDATE checks it again. A row
	// whose claim moved on is not returned.
	// Arguments: ids, owners, attempts, statuses, errors, steps (JSON text
	// or NULL), lease_until, started_at, finished_at, all arrays.
	qUpdateExecutionsPostgres = `WITH v AS (
			SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]),
				CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]),
				CAST(? AS timestamptz[]), CAST(? AS timestamptz[]), CAST(? AS timestamptz[]))
				AS v(id, owner, attempt, status, error, steps, lease_until, started_at, finished_at)
		), locked AS MATERIALIZED (
			SELECT m.id FROM mockops_executions m JOIN v ON m.id = v.id
			WHERE m.owner = v.owner AND m.attempt = v.attempt AND m.owner <> ''
			ORDER BY m.id
			FOR UPDATE OF m
		)
		UPDATE mockops_executions AS e
		SET status = v.status, error = v.error, steps = CAST(v.steps AS json),
			lease_until = v.lease_until, started_at = v.started_at, finished_at = v.finished_at
		FROM v
		WHERE e.id = v.id AND e.id IN (SELECT id FROM locked)
			AND e.owner = v.owner AND e.attempt = v.attempt AND e.owner <> ''
		RETURNING ` + qualifiedExecutionColumns
	// Every CASE reads the row as it was before the update: a queued
	// execution is cancelled outright, a running one is asked to stop, a
	// finished one is left as it is.
	qCancelExecution = `UPDATE mockops_executions
		SET status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
			finished_at = CASE WHEN status = 'queued' THEN ? ELSE finished_at END,
			cancel_requested = CASE WHEN status = 'running' THEN TRUE ELSE cancel_requested END
		WHERE id = ?
		RETURNING ` + executionColumns
)

// listExecutionsSQL writes one of the eight listing statements: newest
// first by ID, where the cursor is the last ID of the previous page, so
// executions created meanwhile (larger IDs) never shift later pages. The
// pipeline, status and cursor conditions are in the text only when used,
// not disabled by an "empty argument OR" term, so the planner can walk an
// index backwards for each: the primary key, (pipeline, id), (status, id)
// or (pipeline, status, id).
// Arguments: pipeline (if byPipeline), status (if byStatus), cursor (if
// paged), limit.
func listExecutionsSQL(byPipeline, byStatus, paged bool) string {
	var where []string
	if byPipeline {
		where = append(where, "pipeline = ?")
	}
	if byStatus {
		where = append(where, "status = ?")
	}
	if paged {
		where = append(where, "id < ?")
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, " AND ")
	}
	return `SELECT ` + executionColumns + ` FROM mockops_executions` + cond + ` ORDER BY id DESC LIMIT ?`
}

// listRollupsSQL writes the rollup listing, first page or later: ordered by
// the primary key, which the cursor (the previous page's last key) resumes
// after with a row-value comparison the key's index can serve.
// Arguments: kind, workspace and service twice each, from-is-zero, from,
// to-is-zero, to, then (if paged) the five key parts, then limit.
func listRollupsSQL(paged bool) string {
	after := ""
	if paged {
		after = ` AND (kind, workspace, service, key, bucket) > (?, ?, ?, ?, ?)`
	}
	return `SELECT kind, workspace, service, key, bucket, count, last_seen FROM mockops_rollups
		WHERE (? = '' OR kind = ?) AND (? = '' OR workspace = ?) AND (? = '' OR service = ?)
			AND (? = TRUE OR bucket >= ?) AND (? = TRUE OR bucket < ?)` + after + `
		ORDER BY kind, workspace, service, key, bucket LIMIT ?`
}

// rollupBatchSizes are the multi-row upsert statements prepared at open,
// largest first; a batch is cut greedily into them.
var rollupBatchSizes = []int{256, 32, 4, 1}

// rollupUpsert adds n rows' counts in one statement. The batch's keys are
// distinct (AddRollups merges duplicates first), because PostgreSQL refuses
// to update one row twice in a single INSERT ... ON CONFLICT.
func rollupUpsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO mockops_rollups (kind, workspace, service, key, bucket, count, last_seen) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?)`)
	}
	b.WriteString(` ON CONFLICT (kind, workspace, service, key, bucket) DO UPDATE SET
		count = mockops_rollups.count + excluded.count,
		last_seen = {greatest}(mockops_rollups.last_seen, excluded.last_seen)`)
	return b.String()
}

// versionedSQL writes the statements of a record kind with optimistic
// versions. Argument order: insert and upsert take keys, values, updated_at;
// update takes values, updated_at, keys, expected version; every delete and
// the version lookup take keys first.
func versionedSQL(table string, keys, vals []string) versionedQueries {
	cols := append(append(append([]string{}, keys...), vals...), "updated_at")
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	var set, where []string
	for _, v := range append(append([]string{}, vals...), "updated_at") {
		set = append(set, v+" = ?")
	}
	for _, k := range keys {
		where = append(where, k+" = ?")
	}
	var excl []string
	for _, v := range append(append([]string{}, vals...), "updated_at") {
		excl = append(excl, v+" = excluded."+v)
	}
	w := strings.Join(where, " AND ")
	insert := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `, version) VALUES (` + marks + `, 1)`
	return versionedQueries{
		insert: insert + ` RETURNING version`,
		upsert: insert + ` ON CONFLICT (` + strings.Join(keys, ", ") + `) DO UPDATE SET version = ` + table + `.version + 1, ` +
			strings.Join(excl, ", ") + ` RETURNING version`,
		update: `UPDATE ` + table + ` SET version = version + 1, ` + strings.Join(set, ", ") +
			` WHERE ` + w + ` AND version = ? RETURNING version`,
		deleteAt:  `DELETE FROM ` + table + ` WHERE ` + w + ` AND version = ?`,
		deleteAny: `DELETE FROM ` + table + ` WHERE ` + w,
		version:   `SELECT version FROM ` + table + ` WHERE ` + w,
	}
}

// versionedQueries are the statements putVersioned and deleteVersioned run.
type versionedQueries struct {
	insert, upsert, update string
	deleteAt, deleteAny    string
	version                string
}

func (v versionedQueries) bind(d *dialect) versionedQueries {
	return versionedQueries{
		insert: d.bind(v.insert), upsert: d.bind(v.upsert), update: d.bind(v.update),
		deleteAt: d.bind(v.deleteAt), deleteAny: d.bind(v.deleteAny), version: d.bind(v.version),
	}
}

// queries are one dialect's bound statements.
type queries struct {
	pipelines, federations, activations, state versionedQueries

	getPipeline, listPipelines                     string
	getFederation, listFederations, getActivation  string
	getState, listState                            string
	insertExecution, getExecution, executionOwner  string
	insertClaimedExecution                         string
	insertExecutions                               string          // PostgreSQL only; empty on SQLite
	listExecutions                                 [2][2][2]string // [byPipeline][byStatus][paged]
	claimExecutions                                string
	updateExecution, cancelExecution               string
	updateExecutions                               string    // PostgreSQL only; empty on SQLite
	listRollups                                    [2]string // [paged]
	rollupUpserts                                  map[int]string
	publish, busEnd, busFetch                      string
	consumerInit, consumerPosition, consumerUpdate string
	pruneEvents, pruneExecutions                   string
	migrationApplied, migrationRecord              string
}

// all lists every statement, for preparing them up front.
func (q *queries) all() []string {
	out := []string{
		q.getPipeline, q.listPipelines, q.getFederation, q.listFederations, q.getActivation,
		q.getState, q.listState, q.insertExecution, q.getExecution, q.executionOwner,
		q.insertClaimedExecution, q.claimExecutions, q.updateExecution, q.cancelExecution, q.listRollups[0], q.listRollups[1],
		q.publish, q.busEnd, q.busFetch, q.consumerInit, q.consumerPosition, q.consumerUpdate,
		q.pruneEvents, q.pruneExecutions,
	}
	for _, v := range []versionedQueries{q.pipelines, q.federations, q.activations, q.state} {
		out = append(out, v.insert, v.upsert, v.update, v.deleteAt, v.deleteAny, v.version)
	}
	for _, u := range q.rollupUpserts {
		out = append(out, u)
	}
	for _, byStatus := range q.listExecutions {
		for _, paged := range byStatus {
			out = append(out, paged[:]...)
		}
	}
	return out
}

func bindQueries(d *dialect) *queries {
	q := &queries{
		pipelines:   versionedSQL("mockops_pipelines", []string{"name"}, []string{"source", "enabled", "workspace"}).bind(d),
		federations: versionedSQL("mockops_federations", []string{"name"}, []string{"spec"}).bind(d),
		activations: versionedSQL("mockops_activations", []string{"federation"}, []string{"scenario"}).bind(d),
		state:       versionedSQL("mockops_state", []string{"scope", "key"}, []string{"value"}).bind(d),

		getPipeline:            d.bind(qGetPipeline),
		listPipelines:          d.bind(qListPipelines),
		getFederation:          d.bind(qGetFederation),
		listFederations:        d.bind(qListFederations),
		getActivation:          d.bind(qGetActivation),
		getState:               d.bind(qGetState),
		listState:              d.bind(qListState),
		insertExecution:        d.bind(qInsertExecution),
		insertClaimedExecution: d.bind(qInsertClaimedExecution),
		getExecution:           d.bind(qGetExecution),
		executionOwner:         d.bind(qExecutionOwner),
		claimExecutions:        d.bind(qClaimExecutions),
		updateExecution:        d.bind(qUpdateExecution),
		cancelExecution:        d.bind(qCancelExecution),
		listRollups:            [2]string{d.bind(listRollupsSQL(false)), d.bind(listRollupsSQL(true))},
		rollupUpserts:          make(map[int]string, len(rollupBatchSizes)),

		busEnd:           d.bind(qBusEnd),
		busFetch:         d.bind(qBusFetch),
		consumerInit:     d.bind(qConsumerInit),
		consumerPosition: d.bind(qConsumerPosition),
		consumerUpdate:   d.bind(qConsumerUpdate),
		pruneEvents:      d.bind(qPruneEvents),
		pruneExecutions:  d.bind(qPruneExecutions),
		migrationApplied: d.bind(qMigrationApplied),
		migrationRecord:  d.bind(qMigrationRecord),
	}
	for _, n := range rollupBatchSizes {
		q.rollupUpserts[n] = d.bind(rollupUpsert(n))
	}
	for i, byPipeline := range []bool{false, true} {
		for j, byStatus := range []bool{false, true} {
			for k, paged := range []bool{false, true} {
				q.listExecutions[i][j][k] = d.bind(listExecutionsSQL(byPipeline, byStatus, paged))
			}
		}
	}
	if d.name == DialectPostgres {
		q.updateExecutions = d.bind(qUpdateExecutionsPostgres)
		q.insertExecutions = d.bind(qInsertExecutionsPostgres)
		q.publish = d.bind(qPublishPostgres)
	} else {
		q.publish = d.bind(qPublishSQLite)
	}
	return q
}
