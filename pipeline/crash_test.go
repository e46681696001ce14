//go:build unix

package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

// The SIGKILL test re-executes the test binary as a helper process that
// runs an engine until it is killed. These variables are its arguments.
const (
	crashEnvDB  = "MOCKOPS_CRASH_HELPER_DB"  // the SQLite file; set only in the helper process
	crashEnvLog = "MOCKOPS_CRASH_HELPER_LOG" // the file every step run appends its key to
)

const crashPipeline = "name: crash\non: [{event: schema.changed}]\nsteps:\n" +
	"  - {id: a, uses: probe, with: {key: a}}\n" +
	"  - {id: b, uses: probe, with: {key: b}}\n" +
	"  - {id: c, uses: probe, with: {key: c}}\n"

// crashRegistry's steps append their key to logPath (one line per run,
// written before the step returns, so the file counts runs across
// processes). In the helper process (ready not nil) step b then says so
// on ready and blocks until the process dies.
func crashRegistry(logPath string, ready *os.File) *steps.Registry {
	appendRun := func(key string) error {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(f, key)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	run := func(ctx context.Context, in steps.Input, cfg probeConfig) (steps.Output, error) {
		if err := appendRun(cfg.Key); err != nil {
			return steps.Output{}, err
		}
		if cfg.Key == "b" && ready != nil {
			fmt.Fprintln(ready, in.Execution)
			<-ctx.Done() // until SIGKILL: the process never gets here
			return steps.Output{}, ctx.Err()
		}
		return steps.Output{}, nil
	}
	return registry(map[string]probeFunc{"a": run, "b": run, "c": run}, nil)
}

// TestCrashHelperProcess is the helper process of TestEngineResumeAfterSIGKILL:
// run by itself (without the variable) it does nothing.
func TestCrashHelperProcess(t *testing.T) {
	db := os.Getenv(crashEnvDB)
	if db == "" {
		return // not the helper process
	}
	ready := os.NewFile(3, "ready") // the parent's pipe, ExtraFiles[0]
	st, err := sqlstore.Open(context.Background(), "sqlite:"+db)
	if err != nil {
		fmt.Fprintln(ready, "error:", err)
		os.Exit(2)
	}
	eng, err := pipeline.NewEngine(pipeline.Config{
		Store: st, Steps: crashRegistry(os.Getenv(crashEnvLog), ready), Owner: "doomed",
		Lease: time.Second, PollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(ready, "error:", err)
		os.Exit(2)
	}
	_ = eng.Run(context.Background()) // until killed
	fmt.Fprintln(ready, "error: Run returned")
	os.Exit(2)
}

// TestEngineResumeAfterSIGKILL: a process running an execution on SQLite
// is killed (SIGKILL: no deferred call, no lease release) while its
// second step runs; an engine in this process claims the execution once
// the dead one's lease expires and runs steps b and c, never a again.
func TestEngineResumeAfterSIGKILL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	db, runs := filepath.Join(dir, "crash.db"), filepath.Join(dir, "runs.log")

	// The definition and the execution are stored before the child starts.
	st, err := sqlstore.Open(ctx, "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := pipeline.NewEngine(pipeline.Config{Store: st, Steps: crashRegistry(runs, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.PutSource(ctx, "crash.yaml", []byte(crashPipeline), store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	id, err := setup.Trigger(ctx, "crash", events.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+db, crashEnvLog+"="+runs)
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close() // the child holds its own copy
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != id {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v; want the execution id %s once step b runs", line, err, id)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on unix
		t.Fatal(err)
	}
	_ = cmd.Wait() // "signal: killed"

	st2, err := sqlstore.Open(ctx, "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	x, err := st2.GetExecution(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]store.Status{"a": store.StatusSucceeded, "b": store.StatusRunning, "c": store.StatusQueued}; x.Status != store.StatusRunning || x.Owner != "doomed" || !cmp.Equal(want, stepStatuses(x)) {
		t.Fatalf("after the kill: %s by %s, steps %v; want running by doomed, steps %v", x.Status, x.Owner, stepStatuses(x), want)
	}

	h := start(t, pipeline.Config{Store: st2, Steps: crashRegistry(runs, nil), Owner: "heir", PollInterval: 50 * time.Millisecond})
	x = h.wait(id)
	if x.Status != store.StatusSucceeded || x.Owner != "heir" || x.Attempt != 2 {
		t.Errorf("resumed execution: %s by %s at attempt %d; want succeeded by heir at attempt 2", x.Status, x.Owner, x.Attempt)
	}
	if got := stepRun(t, x, "a").Attempts; got != 1 {
		t.Errorf("step a attempts = %d; want 1 (never run again)", got)
	}
	if got := stepRun(t, x, "b").Attempts; got != 2 {
		t.Errorf("step b attempts = %d; want 2 (the killed one and the resumed one)", got)
	}
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "b", "c"}, strings.Fields(string(b))); diff != "" {
		t.Errorf("step runs across both processes (-want +got):\n%s", diff)
	}
	if got := h.eng.Stats().Rescues; got != 1 {
		t.Errorf("Stats().Rescues = %d; want 1", got)
	}
}
