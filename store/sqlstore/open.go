package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/mockops/mockops/store"
)

// Errors Open returns for problems a caller may want to tell apart; they are
// wrapped with the details, so test with errors.Is.
var (
	// ErrUnsupportedDSN: the DSN's scheme is not sqlite:, postgres: or
	// postgresql:.
	ErrUnsupportedDSN = errors.New("sqlstore: unsupported DSN")
	// ErrSchemaTooNew: the database records a migration this binary does
	// not know, so a newer version of MockOps migrated it. Using it could
	// lose data, so Open refuses.
	ErrSchemaTooNew = errors.New("sqlstore: database schema is newer than this binary")
	// ErrSchemaOutdated: Config.ReadOnlySchema is set and the database
	// lacks migrations this binary needs (or has none at all). Open changed
	// nothing; migrate it with a role that may, then open again.
	ErrSchemaOutdated = errors.New("sqlstore: database schema is older than this binary")
	// ErrNotDatabase: the SQLite file exists but is not a database, or is
	// damaged. Open leaves the file untouched.
	ErrNotDatabase = errors.New("sqlstore: file is not a valid SQLite database")
)

// Config tunes a Store. The zero value is what Open uses.
type Config struct {
	// Schema is the PostgreSQL schema the tables live in. Open creates it if
	// it does not exist and puts it first on every connection's
	// search_path. "" uses the connection's own search_path (normally
	// "public"). Ignored for SQLite.
	Schema string
	// MaxOpenConns bounds the connection pool; 0 means 8. An in-memory
	// SQLite database always uses one connection, because each SQLite
	// connection to ":memory:" would be a database of its own.
	MaxOpenConns int
	// Logger receives the bus's retry and listener messages; nil discards.
	Logger *slog.Logger
	// ReadOnlySchema makes Open verify the schema instead of migrating it:
	// it never runs DDL, never creates the PostgreSQL Schema or an SQLite
	// file, and fails with ErrSchemaOutdated, changing nothing, unless
	// every embedded migration is recorded. For hosts whose database role
	// has only USAGE on the schema and DML on its tables, and whose
	// migrations run elsewhere (Migrate as an owner role, or their own tool
	// with Migrations). Without it Open also runs no DDL on a fully
	// migrated database, so such a role can open one either way; the
	// option makes an unmigrated one a clear error instead of a permission
	// failure halfway.
	ReadOnlySchema bool
}

// Store is the database/sql implementation of store.Store, for SQLite and
// PostgreSQL. It is safe for concurrent use, also by several processes
// sharing one PostgreSQL database.
type Store struct {
	db  *sql.DB
	d   *dialect
	q   *queries
	log *slog.Logger

	// pgConn is the parsed PostgreSQL configuration, from which the durable
	// bus opens its dedicated LISTEN connection; nil for SQLite.
	pgConn *pgx.ConnConfig
	// channel is the NOTIFY channel of this schema's bus, and publishLock
	// the advisory lock its publishers take: both per schema, so buses in
	// different schemas of one database neither wake nor wait for each
	// other.
	channel     string
	publishLock int64
	// where names the database in errors (a path; never a password).
	where string

	// writeSem lets one writer at a time into SQLite from this process, so
	// writers queue in Go (honouring ctx) instead of spinning in SQLite's
	// busy handler; other processes still meet the busy timeout. nil for
	// PostgreSQL, whose row locks do the work.
	writeSem chan struct{}
	// stmts are the prepared statements by query text (SQLite only);
	// written before the Store is returned, read-only afterwards.
	stmts map[string]*sql.Stmt

	now func() time.Time

	mu     sync.Mutex
	closed bool
	buses  map[*Bus]struct{} // guarded by mu; closed with the store
	// consumers are the durable consumer names with a live subscription
	// in this process; guarded by mu.
	consumers map[string]bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn, applies any pending
// migrations (running no DDL when none is pending) and returns the Store.
// DSNs:
//
//	sqlite:PATH                 a database file (created if missing)
//	sqlite:PATH?_pragma=...     the same, with extra modernc.org/sqlite parameters
//	sqlite::memory:             a private in-memory database
//	postgres://user@host/db     PostgreSQL (also postgresql://), pgx syntax
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenConfig(ctx, dsn, Config{})
}

// OpenConfig is Open with settings.
func OpenConfig(ctx context.Context, dsn string, cfg Config) (*Store, error) {
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok {
		return nil, fmt.Errorf("%w: %q has no scheme (want sqlite:PATH or postgres://...)", ErrUnsupportedDSN, redact(dsn))
	}
	var (
		s   *Store
		err error
	)
	switch strings.ToLower(scheme) {
	case "sqlite":
		s, err = openSQLite(rest, cfg)
	case "postgres", "postgresql":
		s, err = openPostgres(ctx, dsn, cfg)
	default:
		return nil, fmt.Errorf("%w: scheme %q (want sqlite:PATH or postgres://...)", ErrUnsupportedDSN, scheme)
	}
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		s.closeStmts()
		s.db.Close()
		return nil, err
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fail(s.openError(err))
	}
	migrate := s.Migrate
	if cfg.ReadOnlySchema {
		migrate = s.verifySchema
	}
	if err := migrate(ctx); err != nil {
		if isNotDatabase(err) {
			return fail(s.openError(err))
		}
		return fail(err) // already says what it was migrating
	}
	if s.d == sqliteDialect {
		if err := s.prepareAll(ctx); err != nil {
			return fail(s.openError(err))
		}
	}
	if s.d == postgresDialect {
		var schema string
		if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fail(s.openError(fmt.Errorf("read current schema: %w", err)))
		}
		s.channel = channelName(schema)
		s.publishLock = publishLockKey(schema)
	}
	return s, nil
}

// openError says which database failed to open, and turns SQLite's "not a
// database" into ErrNotDatabase.
func (s *Store) openError(err error) error {
	if isNotDatabase(err) {
		return fmt.Errorf("%w: %s: %v", ErrNotDatabase, s.where, err)
	}
	return fmt.Errorf("sqlstore: open %s %s: %w", s.d.name, s.where, err)
}

func newStore(db *sql.DB, d *dialect, cfg Config) *Store {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{
		db:    db,
		d:     d,
		q:     bindQueries(d),
		log:   log,
		now:   time.Now,
		buses: make(map[*Bus]struct{}),
	}
}

// sqliteDefaults are the pragmas every connection gets unless the DSN sets
// them: WAL lets readers run beside the writer, the busy timeout makes a
// writer from another process wait instead of failing, synchronous=NORMAL
// is crash-safe in WAL mode (a power loss may drop the last commits, never
// corrupt the file), and foreign keys are off by default in SQLite.
var sqliteDefaults = []struct{ name, value string }{
	{"busy_timeout", "10000"},
	{"journal_mode", "WAL"},
	{"synchronous", "NORMAL"},
	{"foreign_keys", "ON"},
}

func openSQLite(rest string, cfg Config) (*Store, error) {
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite: needs a path (or :memory: for an in-memory database)", ErrUnsupportedDSN)
	}
	if strings.HasPrefix(path, "//") {
		// URL-style SQLite DSNs disagree on how many slashes make a path
		// absolute; guessing wrong would create a database somewhere else.
		return nil, fmt.Errorf("%w: sqlite:%s: write sqlite:PATH (sqlite:/abs/path.db or sqlite:rel/path.db), not a URL", ErrUnsupportedDSN, path)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: sqlite parameters: %v", ErrUnsupportedDSN, err)
	}
	memory := path == ":memory:"
	if cfg.ReadOnlySchema && !memory {
		// The driver would create a missing file, and an empty database
		// can only fail the check below: say so without leaving one behind.
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist, and with ReadOnlySchema Open creates nothing", ErrSchemaOutdated, path)
		}
	}
	for _, p := range sqliteDefaults {
		if memory && p.name == "journal_mode" {
			continue // an in-memory database has no file to keep a WAL for
		}
		if !hasPragma(q[`_pragma`], p.name) {
			q.Add("_pragma", p.name+"("+p.value+")")
		}
	}
	// BEGIN IMMEDIATE takes the write lock when a transaction starts, so two
	// writers never both hold a read snapshot and then deadlock upgrading
	// it (which SQLite reports as SQLITE_BUSY without waiting).
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = 8
	}
	if memory {
		// Every connection to :memory: is a separate database, and closing
		// the last one discards it: keep exactly one, forever.
		n = 1
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	s := newStore(db, sqliteDialect, cfg)
	s.writeSem = make(chan struct{}, 1)
	s.where = path
	return s, nil
}

func hasPragma(pragmas []string, name string) bool {
	for _, p := range pragmas {
		p = strings.ToLower(strings.TrimSpace(p))
		if strings.HasPrefix(p, name) {
			return true
		}
	}
	return false
}

func openPostgres(ctx context.Context, dsn string, cfg Config) (*Store, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN; say which part failed without
		// repeating a password.
		return nil, fmt.Errorf("%w: postgres: %v", ErrUnsupportedDSN, err)
	}
	if cfg.Schema != "" {
		pc.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	}
	db := stdlib.OpenDB(*pc)
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = 8
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := newStore(db, postgresDialect, cfg)
	s.pgConn = pc
	s.where = fmt.Sprintf("%s:%d/%s", pc.Host, pc.Port, pc.Database)
	if cfg.Schema != "" {
		s.where += fmt.Sprintf(" schema %q", cfg.Schema)
	}
	if cfg.Schema != "" && !cfg.ReadOnlySchema {
		if err := ensureSchema(ctx, db, cfg.Schema); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlstore: open postgres %s: create schema %q: %w", s.where, cfg.Schema, err)
		}
	}
	return s, nil
}

// ensureSchema creates schema unless it exists. The schema must exist
// before anything is created in it; creating it here lets a host point a
// fresh deployment at a new schema without a separate step. It looks first
// because CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the
// database even when the schema is there, and a role confined to a schema
// its DBA made has no such privilege. The ::name cast truncates as
// PostgreSQL truncates identifiers.
func ensureSchema(ctx context.Context, db *sql.DB, schema string) error {
	var exists bool
	err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1::name)", schema).Scan(&exists)
	if err != nil || exists {
		return err
	}
	_, err = db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	// Replicas starting together can race past IF NOT EXISTS; the loser's
	// duplicate error means the schema is there.
	if err != nil && !isUniqueViolation(err) && !isDuplicateSchema(err) {
		return err
	}
	return nil
}

// channelName is the NOTIFY channel for the bus of one schema. pg_notify
// refuses a channel of 64 bytes or more, and the LISTEN side quotes the
// same string, so it is cut to 63 bytes, at a character boundary: half a
// UTF-8 sequence would be rejected as invalid text and leave the bus
// without its listener.
func channelName(schema string) string {
	ch := "mockops_bus_" + schema
	for len(ch) > 63 {
		_, size := utf8.DecodeLastRuneInString(ch)
		ch = ch[:len(ch)-size]
	}
	return ch
}

// publishLockKey is the advisory lock that orders the publishers of one
// schema's bus.
func publishLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mockops_bus:" + schema))
	return int64(h.Sum64())
}

// redact hides a password in a URL-shaped DSN for error messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

func (s *Store) closeStmts() {
	for _, st := range s.stmts {
		st.Close()
	}
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.d.name }

// DB returns the underlying pool, for hosts that add their own tables or
// run checks. Closing it is the Store's job.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes every bus made from the store, then the database. It is
// idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	buses := slices.Collect(maps.Keys(s.buses))
	s.mu.Unlock()
	for _, b := range buses {
		b.Close()
	}
	s.closeStmts()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}
