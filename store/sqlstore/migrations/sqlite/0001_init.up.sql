-- MockOps store schema, SQLite dialect.
-- Times are INTEGER microseconds since the Unix epoch (UTC); optional times
-- are NULL when unset. JSON payloads are TEXT; definitions are BLOBs so
-- their bytes come back exactly as written.

CREATE TABLE mockops_pipelines (
	name       TEXT    NOT NULL PRIMARY KEY,
	version    INTEGER NOT NULL,
	source     BLOB    NOT NULL,
	enabled    INTEGER NOT NULL,
	workspace  TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE mockops_federations (
	name       TEXT    NOT NULL PRIMARY KEY,
	version    INTEGER NOT NULL,
	spec       BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE mockops_activations (
	federation TEXT    NOT NULL PRIMARY KEY,
	scenario   TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE mockops_executions (
	id               TEXT    NOT NULL PRIMARY KEY,
	pipeline         TEXT    NOT NULL,
	version          INTEGER NOT NULL,
	event_id         TEXT    NOT NULL,
	event            TEXT,
	status           TEXT    NOT NULL,
	error            TEXT    NOT NULL,
	steps            TEXT,
	attempt          INTEGER NOT NULL,
	owner            TEXT    NOT NULL,
	lease_until      INTEGER,
	cancel_requested INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	started_at       INTEGER,
	finished_at      INTEGER,
	-- A trigger seen by several replicas runs once.
	UNIQUE (pipeline, event_id)
);

-- Claims look for queued or lease-expired work, oldest first.
CREATE INDEX mockops_executions_claim ON mockops_executions (status, created_at, id);
-- Listing by pipeline, newest first.
CREATE INDEX mockops_executions_pipeline ON mockops_executions (pipeline, id);

CREATE TABLE mockops_rollups (
	kind      TEXT    NOT NULL,
	workspace TEXT    NOT NULL,
	service   TEXT    NOT NULL,
	key       TEXT    NOT NULL,
	bucket    INTEGER NOT NULL,
	count     INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	PRIMARY KEY (kind, workspace, service, key, bucket)
);

CREATE TABLE mockops_state (
	scope      TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	value      TEXT,
	version    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
);

-- The durable bus. AUTOINCREMENT keeps sequence numbers from ever being
-- reused, even after old rows are deleted, so a consumer's position stays
-- meaningful.
CREATE TABLE mockops_bus_events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT    NOT NULL,
	type       TEXT    NOT NULL,
	workspace  TEXT    NOT NULL,
	event      TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE mockops_bus_consumers (
	name       TEXT    NOT NULL PRIMARY KEY,
	position   INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
