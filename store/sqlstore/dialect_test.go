package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestBind(t *testing.T) {
	tests := []struct {
		d    *dialect
		in   string
		want string
	}{
		{sqliteDialect, `SELECT a FROM t WHERE a = ? AND b = ?`, `SELECT a FROM t WHERE a = ? AND b = ?`},
		{postgresDialect, `SELECT a FROM t WHERE a = ? AND b = ?`, `SELECT a FROM t WHERE a = $1 AND b = $2`},
		{postgresDialect, `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{sqliteDialect, `SELECT {greatest}(a, b) LIMIT ? {skip_locked}`, `SELECT max(a, b) LIMIT ? `},
		{postgresDialect, `SELECT {greatest}(a, b) LIMIT ? {skip_locked}`, `SELECT GREATEST(a, b) LIMIT $1 FOR UPDATE SKIP LOCKED`},
	}
	for _, tt := range tests {
		if got := tt.d.bind(tt.in); got != tt.want {
			t.Errorf("%s.bind(%q) = %q; want %q", tt.d.name, tt.in, got, tt.want)
		}
	}
}

// TestBoundQueries: every statement of both dialects is fully bound, so a
// typo in a token or a placeholder left for PostgreSQL fails here rather
// than in production.
func TestBoundQueries(t *testing.T) {
	for _, d := range []*dialect{sqliteDialect, postgresDialect} {
		q := bindQueries(d)
		for _, text := range append(q.all(), q.migrationApplied, q.migrationRecord) {
			if strings.ContainsAny(text, "{}") {
				t.Errorf("%s query has an unreplaced token: %s", d.name, text)
			}
			if d == postgresDialect && strings.Contains(text, "?") {
				t.Errorf("postgres query still has a ? placeholder: %s", text)
			}
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	in := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("UTC+2", 2*3600))
	want := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	for _, d := range []*dialect{sqliteDialect, postgresDialect} {
		var got time.Time
		if err := (timeCol{&got}).Scan(d.ts(in)); err != nil {
			t.Fatalf("%s: Scan(ts(%v)) = %v", d.name, in, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: time round trip of %v = %v; want %v in UTC", d.name, in, got, want)
		}
		var zero time.Time
		if err := (timeCol{&zero}).Scan(d.ts(time.Time{})); err != nil || !zero.IsZero() {
			t.Errorf("%s: zero time round trip = %v, %v; want the zero time", d.name, zero, err)
		}
	}
}

// FuzzOpenDSN feeds Open arbitrary DSNs with a context that has already
// ended, so nothing is created on disk or dialled: parsing must never
// panic, and a failure never comes with a store.
func FuzzOpenDSN(f *testing.F) {
	for _, seed := range []string{
		"sqlite::memory:", "sqlite:x.db?_pragma=busy_timeout(1)", "sqlite:", "sqlite://x",
		"postgres://u:p@127.0.0.1:5432/db?sslmode=disable", "postgresql://", "postgres://%zz",
		"mysql://x", "", ":", "sqlite:?%", "SQLITE:x.db",
	} {
		f.Add(seed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, dsn string) {
		s, err := Open(ctx, dsn)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q) with an ended context = nil error", dsn)
		}
		if s != nil {
			t.Fatalf("Open(%q) returned a store with error %v", dsn, err)
		}
	})
}
