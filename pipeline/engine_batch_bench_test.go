package pipeline_test

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/mockops/mockops/store"
)

// writeCounter passes every call to the real store it wraps and counts
// the calls that write (each one commit in the SQL store), so the
// benchmark reports store writes per execution: a figure of the engine's
// design that the load of the machine does not move, unlike executions/s.
type writeCounter struct {
	store.Store
	writes atomic.Int64
}

func (c *writeCounter) CreateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	c.writes.Add(1)
	return c.Store.CreateExecution(ctx, x)
}

func (c *writeCounter) CreateClaimedExecution(ctx context.Context, x store.Execution, owner string, lease time.Duration) (store.Execution, error) {
	c.writes.Add(1)
	return c.Store.CreateClaimedExecution(ctx, x, owner, lease)
}

func (c *writeCounter) CreateExecutions(ctx context.Context, xs []store.Execution, claim store.Claim) ([]store.Execution, []error) {
	c.writes.Add(1)
	return c.Store.CreateExecutions(ctx, xs, claim)
}

func (c *writeCounter) ClaimExecutions(ctx context.Context, owner string, lease time.Duration, n int) ([]store.Execution, error) {
	c.writes.Add(1)
	return c.Store.ClaimExecutions(ctx, owner, lease, n)
}

func (c *writeCounter) UpdateExecution(ctx context.Context, x store.Execution) (store.Execution, error) {
	c.writes.Add(1)
	return c.Store.UpdateExecution(ctx, x)
}

func (c *writeCounter) UpdateExecutions(ctx context.Context, xs []store.Execution) ([]store.Execution, []error) {
	c.writes.Add(1)
	return c.Store.UpdateExecutions(ctx, xs)
}

func (c *writeCounter) CancelExecution(ctx context.Context, id string) (store.Execution, error) {
	c.writes.Add(1)
	return c.Store.CancelExecution(ctx, id)
}

func (c *writeCounter) PutState(ctx context.Context, e store.StateEntry) (store.StateEntry, error) {
	c.writes.Add(1)
	return c.Store.PutState(ctx, e)
}

func (c *writeCounter) DeleteState(ctx context.Context, scope, key string, version int64) error {
	c.writes.Add(1)
	return c.Store.DeleteState(ctx, scope, key, version)
}
