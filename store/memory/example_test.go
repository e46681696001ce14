package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
)

func ExampleNew() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()

	// Version 0 creates; putting it again with version 0 is a conflict,
	// because someone else may have created it in between.
	p, err := s.PutPipeline(ctx, store.Pipeline{Name: "hello", Source: []byte("name: hello\n"), Enabled: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, "version", p.Version)
	_, err = s.PutPipeline(ctx, store.Pipeline{Name: "hello", Source: []byte("name: hello\n")})
	fmt.Println("create again is a conflict:", errors.Is(err, store.ErrConflict))

	// One execution per (pipeline, event), handed to one worker at a time.
	if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "hello", Version: p.Version, EventID: "evt-1"}); err != nil {
		fmt.Println(err)
		return
	}
	_, err = s.CreateExecution(ctx, store.Execution{Pipeline: "hello", Version: p.Version, EventID: "evt-1"})
	fmt.Println("same event again is a conflict:", errors.Is(err, store.ErrConflict))
	claimed, err := s.ClaimExecutions(ctx, "worker-1", time.Minute, 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("claimed", len(claimed), claimed[0].Status, "attempt", claimed[0].Attempt)

	x := claimed[0]
	x.Status = store.StatusSucceeded
	x.FinishedAt = time.Now()
	x, err = s.UpdateExecution(ctx, x)
	fmt.Println(x.Status, err)
	// Output:
	// hello version 1
	// create again is a conflict: true
	// same event again is a conflict: true
	// claimed 1 running attempt 1
	// succeeded <nil>
}
