package pipeline_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/store"
)

type counting struct {
	store.Store
	mu sync.Mutex
	n  map[string]int
	d  map[string]time.Duration
}

func (c *counting) rec(name string, t time.Time) {
	c.mu.Lock()
	c.n[name]++
	c.d[name] += time.Since(t)
	c.mu.Unlock()
}
func (c *counting) CreateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	defer c.rec("Create", time.Now())
	return c.Store.CreateExecution(ctx, x)
}
func (c *counting) CreateClaimedExecution(ctx context.Context, x store.Execution, o string, l time.Duration) (store.Execution, error) {
	defer c.rec("CreateClaimed", time.Now())
	return c.Store.CreateClaimedExecution(ctx, x, o, l)
}
func (c *counting) GetExecution(ctx context.Context, id string) (store.Execution, error) {
	defer c.rec("GetExec", time.Now())
	return c.Store.GetExecution(ctx, id)
}
func (c *counting) ListExecutions(ctx context.Context, q store.ExecutionQuery) (store.ExecutionPage, error) {
	defer c.rec("List", time.Now())
	return c.Store.ListExecutions(ctx, q)
}
func (c *counting) ClaimExecutions(ctx context.Context, o string, l time.Duration, n int) ([]store.Execution, error) {
	defer c.rec("Claim", time.Now())
	xs, err := c.Store.ClaimExecutions(ctx, o, l, n)
	c.mu.Lock()
	c.n["claimed"] += len(xs)
	c.mu.Unlock()
	return xs, err
}
func (c *counting) UpdateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	defer c.rec("Update", time.Now())
	return c.Store.UpdateExecution(ctx, x)
}
func (c *counting) UpdateExecutions(ctx context.Context, xs []store.Execution) ([]store.Execution, []error) {
	defer c.rec("Updates", time.Now())
	return c.Store.UpdateExecutions(ctx, xs)
}
func (c *counting) GetState(ctx context.Context, s, k string) (store.StateEntry, error) {
	defer c.rec("GetState", time.Now())
	return c.Store.GetState(ctx, s, k)
}
func (c *counting) PutState(ctx context.Context, e store.StateEntry) (store.StateEntry, error) {
	defer c.rec("PutState", time.Now())
	return c.Store.PutState(ctx, e)
}
func (c *counting) DeleteState(ctx context.Context, s, k string, v int64) error {
	defer c.rec("DelState", time.Now())
	return c.Store.DeleteState(ctx, s, k, v)
}
func (c *counting) ListPipelines(ctx context.Context, q store.PipelineQuery) ([]store.Pipeline, error) {
	defer c.rec("ListPipelines", time.Now())
	return c.Store.ListPipelines(ctx, q)
}

func BenchmarkZZCount(b *testing.B) {
	for _, sk := range []struct {
		name string
		open func(testing.TB) store.Store
		cfg  pipeline.Config
	}{{"sqlite", openSQLite, pipeline.Config{}}, {"sqlite-unbatched", openSQLite, pipeline.Config{CompletionBatch: 1}}} {
		b.Run(sk.name, func(b *testing.B) {
			c := &counting{Store: sk.open(b), n: map[string]int{}, d: map[string]time.Duration{}}
			benchEngine(b, c, sk.cfg)
			var ks []string
			for k := range c.n {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				fmt.Printf("%s %-12s %7d calls  %.2f/exec  avg %v\n", sk.name, k, c.n[k], float64(c.n[k])/float64(b.N), c.d[k]/time.Duration(max(1, c.n[k])))
			}
		})
	}
}
