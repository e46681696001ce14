package sqlstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The dialects Open understands; Migrations takes the same names.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// dialect holds what differs between SQLite and PostgreSQL beyond the
// schema: placeholder syntax, a few spellings, and how times travel.
type dialect struct {
	name string
	// tokens are spliced into the shared query texts once, at open.
	tokens map[string]string
}

var (
	sqliteDialect = &dialect{
		name: DialectSQLite,
		tokens: map[string]string{
			// A single SQLite write transaction already excludes every other
			// claimer, so there is nothing to lock row by row.
			"{skip_locked}": "",
			"{greatest}":    "max",
			// The database clock in the column form, microseconds since the
			// epoch. SQLite's clock is the host's, read to the millisecond:
			// an SQLite database is one host's file, so its writers share
			// that clock and skew between them cannot arise.
			"{now}":             sqliteNow,
			"{now_plus_micros}": "(" + sqliteNow + " + ?)",
			"{active_index}":    "INDEXED BY mockops_executions_active",
		},
	}
	postgresDialect = &dialect{
		name: DialectPostgres,
		tokens: map[string]string{
			// Rows another replica is claiming are skipped rather than waited
			// for, so replicas share the queue instead of queueing on it.
			"{skip_locked}": "FOR UPDATE SKIP LOCKED",
			"{greatest}":    "GREATEST",
			// The server's clock, shared by every replica: now() is the
			// start of the statement's transaction, one instant for the
			// whole statement.
			"{now}":             "now()",
			"{now_plus_micros}": "(now() + CAST(? AS double precision) * interval '1 microsecond')",
			"{active_index}":    "",
		},
	}
)

// sqliteNow is SQLite's clock as the store's time column: integer
// microseconds (to the millisecond SQLite's clock has), rounded rather than
// truncated so that the float's last bits never show.
const sqliteNow = `(CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000)`

// bind turns a query written once with ? placeholders and dialect tokens
// into this dialect's text. It runs once per query when a Store opens, never
// per call. The query texts contain no ? inside string literals, which is
// what lets this stay a plain scan.
func (d *dialect) bind(q string) string {
	for tok, s := range d.tokens {
		q = strings.ReplaceAll(q, tok, s)
	}
	if d.name != DialectPostgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// ts converts a time to the column representation: microseconds since the
// Unix epoch in SQLite (INTEGER sorts and compares cheaply and exactly),
// timestamptz in PostgreSQL. Both keep UTC at microsecond precision.
func (d *dialect) ts(t time.Time) any {
	t = normTime(t)
	if d.name == DialectSQLite {
		return t.UnixMicro()
	}
	return t
}

// nullTS is ts for optional times: the zero time is stored as NULL.
func (d *dialect) nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.ts(t)
}

// normTime is the form every stored time takes: UTC, microseconds. The zero
// time stays the zero time so IsZero keeps working after a round trip.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeCol scans either representation back into a time.Time; NULL is the
// zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = normTime(time.UnixMicro(v))
	case time.Time:
		*c.t = normTime(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

// nullJSON stores an empty payload as NULL for optional JSON columns: an empty payload is no
// JSON document, and PostgreSQL's json type would reject it.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// isUniqueViolation reports whether err is a driver's unique or primary key
// violation, which the store reports as ErrConflict.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return false
}

// isDuplicateSchema reports whether err is PostgreSQL's duplicate_schema.
func isDuplicateSchema(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P06"
}

// isNotDatabase reports whether err says the SQLite file is not a database
// (or is damaged), so Open can say so plainly.
func isNotDatabase(err error) bool {
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return true
		}
	}
	return false
}
