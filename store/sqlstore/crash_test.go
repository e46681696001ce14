package sqlstore

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/store"
)

// crashEnv, when set, turns TestCrashSafety into the child that writes to
// the SQLite file it names until it is killed.
const crashEnv = "MOCKOPS_SQLSTORE_CRASH_CHILD_DB"

// Sizes of the child's writes.
const (
	crashRollupKeys = 300 // rows per AddRollups batch: several statements in one transaction
	crashKillAfter  = 300 // executions the parent waits for before killing
)

// TestCrashSafety runs a child process that writes executions (each with
// its steps, one statement) and multi-statement rollup batches to SQLite,
// kills it with SIGKILL mid-way, and checks that the reopened database is
// whole: migrations recorded, integrity check ok, no partial execution, no
// partial rollup batch.
func TestCrashSafety(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	// The child's own timeout ends it even if this process dies first.
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read the child's progress lines until it has committed enough, then
	// kill it without warning while it keeps writing.
	progress := make(chan int)
	go func() {
		defer close(progress)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				if v, err := strconv.Atoi(n); err == nil {
					progress <- v
				}
			}
		}
	}()
	committed := 0
	timeout := time.After(time.Minute)
wait:
	for committed < crashKillAfter {
		select {
		case n, ok := <-progress:
			if !ok {
				break wait
			}
			committed = n
		case <-timeout:
			break wait
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	for range progress { // drain until the pipe closes
	}
	werr := cmd.Wait()
	if committed < crashKillAfter {
		t.Fatalf("child committed %d executions before the timeout; want %d (wait: %v)\nstderr:\n%s", committed, crashKillAfter, werr, stderr.String())
	}
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() || st.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v; want killed by SIGKILL\nstderr:\n%s", werr, stderr.String())
	}

	s := openSQLiteAt(t, path)
	ctx := testCtx(t)
	checkIntegrity(t, ctx, s)
	n := checkExecutions(t, ctx, s)
	if n < committed {
		t.Errorf("after the crash: %d executions; want at least the %d the child reported committed", n, committed)
	}
	checkRollupBatches(t, ctx, s)
	t.Logf("child killed after reporting %d commits; %d executions survived whole", committed, n)
}

// crashChild writes until it is killed. Executions and rollup batches go
// from two goroutines, so the kill can land inside either.
func crashChild(t *testing.T, path string) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatalf("child: Open: %v", err)
	}
	go func() {
		keys := make([]store.Rollup, crashRollupKeys)
		for i := range keys {
			keys[i] = store.Rollup{Kind: "endpoint", Workspace: "ws", Key: fmt.Sprintf("GET /r/%03d", i), Count: 1, LastSeen: time.Now()}
		}
		for {
			if err := s.AddRollups(ctx, keys); err != nil {
				fmt.Fprintf(os.Stderr, "child: AddRollups: %v\n", err)
				os.Exit(2)
			}
		}
	}()
	for i := 0; ; i++ {
		x, err := s.CreateExecution(ctx, crashExecution(i))
		if err != nil {
			t.Fatalf("child: CreateExecution %d: %v", i, err)
		}
		if i%2 == 0 {
			// Finish every other one: claim and update, like a worker.
			claimed, err := s.ClaimExecutions(ctx, "child", time.Minute, 1)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("child: claim: %v, %d", err, len(claimed))
			}
			c := claimed[0]
			c.Status = store.StatusSucceeded
			c.FinishedAt = time.Now()
			for j := range c.Steps {
				c.Steps[j].Status = store.StatusSucceeded
			}
			if _, err := s.UpdateExecution(ctx, c); err != nil {
				t.Fatalf("child: update %s: %v", x.ID, err)
			}
		}
		fmt.Printf("committed %d\n", i+1)
	}
}

// crashExecution is execution i of the child: 1 to 3 steps, the count
// recorded in Version so the parent can tell a whole row from a partial one.
func crashExecution(i int) store.Execution {
	ev, _ := events.New(events.TypeConfigChanged, "ws", map[string]int{"i": i}) // a map always encodes
	steps := 1 + i%3
	x := store.Execution{Pipeline: "crash", Version: int64(steps), EventID: ev.ID, Event: ev}
	for j := range steps {
		x.Steps = append(x.Steps, store.StepRun{
			ID: fmt.Sprintf("s%d", j), Uses: "http", Status: store.StatusQueued,
			With: json.RawMessage(fmt.Sprintf(`{"i":%d,"j":%d}`, i, j)),
		})
	}
	return x
}

func checkIntegrity(t *testing.T, ctx context.Context, s *Store) {
	t.Helper()
	var result string
	if err := s.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&result); err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	if result != "ok" {
		t.Errorf("PRAGMA integrity_check = %q; want ok", result)
	}
	want, err := loadMigrations(DialectSQLite)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM mockops_schema_migrations").Scan(&n); err != nil {
		t.Fatalf("read migrations: %v", err)
	}
	if n != len(want) {
		t.Errorf("%d migrations recorded after the crash; want %d", n, len(want))
	}
}

// checkExecutions verifies every execution against what the child wrote
// and returns how many there are.
func checkExecutions(t *testing.T, ctx context.Context, s *Store) int {
	t.Helper()
	q := store.ExecutionQuery{Limit: 1000}
	n := 0
	for {
		page, err := s.ListExecutions(ctx, q)
		if err != nil {
			t.Fatalf("ListExecutions: %v", err)
		}
		for _, x := range page.Executions {
			n++
			i := int(x.Event.Get("i").Int())
			want := crashExecution(i)
			if x.EventID != x.Event.ID || len(x.Steps) != int(want.Version) || x.Version != want.Version {
				t.Errorf("execution %s (i=%d): event %s/%s, %d steps, version %d; want %d steps", x.ID, i, x.EventID, x.Event.ID, len(x.Steps), x.Version, want.Version)
				continue
			}
			for j, st := range x.Steps {
				if string(st.With) != string(want.Steps[j].With) || st.Status != x.Steps[0].Status {
					t.Errorf("execution %s step %d = %s %s; want %s, all steps alike", x.ID, j, st.With, st.Status, want.Steps[j].With)
				}
			}
			if x.Status == store.StatusSucceeded && (x.FinishedAt.IsZero() || x.Steps[0].Status != store.StatusSucceeded) {
				t.Errorf("execution %s succeeded with FinishedAt %v and step status %s: a partial update", x.ID, x.FinishedAt, x.Steps[0].Status)
			}
		}
		if page.Next == "" {
			return n
		}
		q.Cursor = page.Next
	}
}

// checkRollupBatches verifies that every rollup batch landed whole: the
// rows of one batch are written by several statements of one transaction,
// so all keys must have the same count.
func checkRollupBatches(t *testing.T, ctx context.Context, s *Store) {
	t.Helper()
	page, err := s.ListRollups(ctx, store.RollupQuery{Kind: "endpoint", Limit: crashRollupKeys + 1})
	if err != nil {
		t.Fatalf("ListRollups: %v", err)
	}
	rs := page.Rollups
	if len(rs) == 0 {
		return // the kill came before the first batch committed
	}
	if len(rs) != crashRollupKeys {
		t.Fatalf("%d rollup rows; want 0 or %d (a partial batch)", len(rs), crashRollupKeys)
	}
	for _, r := range rs {
		if r.Count != rs[0].Count {
			t.Fatalf("rollup %s has count %d, %s has %d: a batch landed in part", r.Key, r.Count, rs[0].Key, rs[0].Count)
		}
	}
	t.Logf("%d whole rollup batches survived", rs[0].Count)
}
