-- MockOps store schema, PostgreSQL dialect.
-- Keys that lists are ordered by use the "C" collation, so every replica
-- (and the other adapters) order them bytewise whatever the database's
-- locale. json (not jsonb) keeps payload bytes exactly as written.

CREATE TABLE mockops_pipelines (
	name       text COLLATE "C" NOT NULL PRIMARY KEY,
	version    bigint      NOT NULL,
	source     bytea       NOT NULL,
	enabled    boolean     NOT NULL,
	workspace  text        NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE mockops_federations (
	name       text COLLATE "C" NOT NULL PRIMARY KEY,
	version    bigint      NOT NULL,
	spec       bytea       NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE mockops_activations (
	federation text COLLATE "C" NOT NULL PRIMARY KEY,
	scenario   text        NOT NULL,
	version    bigint      NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE mockops_executions (
	id               text COLLATE "C" NOT NULL PRIMARY KEY,
	pipeline         text        NOT NULL,
	version          bigint      NOT NULL,
	event_id         text        NOT NULL,
	event            json,
	status           text        NOT NULL,
	error            text        NOT NULL,
	steps            json,
	attempt          bigint      NOT NULL,
	owner            text        NOT NULL,
	lease_until      timestamptz,
	cancel_requested boolean     NOT NULL,
	created_at       timestamptz NOT NULL,
	started_at       timestamptz,
	finished_at      timestamptz,
	-- A trigger seen by several replicas runs once.
	UNIQUE (pipeline, event_id)
);

-- Claims look for queued or lease-expired work, oldest first.
CREATE INDEX mockops_executions_claim ON mockops_executions (status, created_at, id);
-- Listing by pipeline, newest first.
CREATE INDEX mockops_executions_pipeline ON mockops_executions (pipeline, id);

CREATE TABLE mockops_rollups (
	kind      text COLLATE "C" NOT NULL,
	workspace text COLLATE "C" NOT NULL,
	service   text COLLATE "C" NOT NULL,
	key       text COLLATE "C" NOT NULL,
	bucket    timestamptz NOT NULL,
	count     bigint      NOT NULL,
	last_seen timestamptz NOT NULL,
	PRIMARY KEY (kind, workspace, service, key, bucket)
);

CREATE TABLE mockops_state (
	scope      text COLLATE "C" NOT NULL,
	key        text COLLATE "C" NOT NULL,
	value      json,
	version    bigint      NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (scope, key)
);

-- The durable bus. Publishers take an advisory lock before drawing a
-- sequence number, so rows become visible in seq order and a consumer that
-- has read up to seq N can never later find a smaller one committing.
CREATE TABLE mockops_bus_events (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text        NOT NULL,
	type       text        NOT NULL,
	workspace  text        NOT NULL,
	event      json        NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE mockops_bus_consumers (
	name       text COLLATE "C" NOT NULL PRIMARY KEY,
	position   bigint      NOT NULL,
	updated_at timestamptz NOT NULL
);
