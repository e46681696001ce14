package sqlstore

import (
	"context"
	"net/url"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
	"github.com/mockops/mockops/store/storetest"
)

// benchStores are the stores every benchmark runs against, the in-memory
// one first as the baseline to read the SQL figures against.
var benchStores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"memory", func(*testing.B) store.Store { return memory.New() }},
	{"sqlite", func(b *testing.B) store.Store { return newSQLiteStore(b) }},
	// Eight connections, so that the parallel runs below keep eight
	// transactions in flight.
	{"postgres", func(b *testing.B) store.Store {
		dsn, schema := newSchema(b)
		s, err := OpenConfig(testCtx(b), dsn, Config{Schema: schema, MaxOpenConns: 8})
		if err != nil {
			b.Fatalf("OpenConfig(postgres) = %v", err)
		}
		return s
	}},
	// The same server with synchronous_commit=off (set through the DSN):
	// commits stop waiting for the WAL flush, which is what bounds the
	// durable figure above on a machine whose fsync takes a millisecond.
	{"postgres-async-commit", func(b *testing.B) store.Store {
		dsn, schema := newSchema(b)
		u, err := url.Parse(dsn)
		if err != nil {
			b.Fatalf("%s is not a URL: %v", postgresEnv, err)
		}
		q := u.Query()
		q.Set("synchronous_commit", "off")
		u.RawQuery = q.Encode()
		s, err := OpenConfig(testCtx(b), u.String(), Config{Schema: schema, MaxOpenConns: 8})
		if err != nil {
			b.Fatalf("OpenConfig(postgres, synchronous_commit=off) = %v", err)
		}
		return s
	}},
}

// BenchmarkExecution: create, claim and finish one execution with two step
// runs (storetest.BenchExecution), in executions/s. The commit-floor
// variants run four bare one-row INSERT commits per operation on the same
// database, as many commits as the workload makes: the most any adapter
// could do there, which on a machine with a slow disk flush is what bounds
// the durable PostgreSQL figure.
func BenchmarkExecution(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			defer s.Close()
			storetest.BenchExecution(b, s)
		})
	}
	// Eight executions in flight at once, as an engine with eight workers
	// runs them: PostgreSQL flushes concurrent commits together.
	for _, bs := range benchStores {
		b.Run(bs.name+"-parallel-8", func(b *testing.B) {
			s := bs.open(b)
			defer s.Close()
			storetest.BenchExecutionParallel(b, s, 8)
		})
	}
	b.Run("sqlite-commit-floor", func(b *testing.B) { benchCommitFloor(b, newSQLiteStore(b), "INTEGER PRIMARY KEY") })
	b.Run("postgres-commit-floor", func(b *testing.B) {
		benchCommitFloor(b, newPostgresStore(b), "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
	})
}

func benchCommitFloor(b *testing.B, s *Store, idType string) {
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, "CREATE TABLE bench_floor (id "+idType+", v text)"); err != nil {
		b.Fatal(err)
	}
	insert := s.d.bind("INSERT INTO bench_floor (v) VALUES (?)")
	b.ReportAllocs()
	for b.Loop() {
		for range 4 {
			if _, err := s.db.ExecContext(ctx, insert, "x"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
}

// BenchmarkRollups: flush 1,000 coverage rollups in one AddRollups
// (storetest.BenchRollups), in rows/s.
func BenchmarkRollups(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			defer s.Close()
			storetest.BenchRollups(b, s)
		})
	}
}

// BenchmarkPublish: one durable-bus Publish, with the memory bus as the
// baseline, in events/s.
func BenchmarkPublish(b *testing.B) {
	run := func(b *testing.B, bus events.Bus) {
		defer bus.Close()
		ctx := context.Background()
		e, err := events.New(events.TypeConfigChanged, "ws", map[string]int{"i": 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := bus.Publish(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("memory", func(b *testing.B) { run(b, events.NewMemoryBus(events.MemoryConfig{})) })
	b.Run("sqlite", func(b *testing.B) { run(b, newSQLiteStore(b).Bus(BusConfig{})) })
	b.Run("postgres", func(b *testing.B) { run(b, newPostgresStore(b).Bus(BusConfig{})) })
}
