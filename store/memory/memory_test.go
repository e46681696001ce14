package memory_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/memory"
	"github.com/mockops/mockops/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}

func TestClose(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	if _, err := s.PutPipeline(ctx, store.Pipeline{Name: "p"}); err != nil {
		t.Fatalf("PutPipeline: %v", err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close() #%d = %v; want nil", i+1, err)
		}
	}
	if _, err := s.GetPipeline(ctx, "p"); !errors.Is(err, memory.ErrClosed) {
		t.Errorf("GetPipeline after Close = %v; want ErrClosed", err)
	}
	if _, err := s.CreateExecution(ctx, store.Execution{Pipeline: "p", EventID: "e"}); !errors.Is(err, memory.ErrClosed) {
		t.Errorf("CreateExecution after Close = %v; want ErrClosed", err)
	}
	if err := s.AddRollups(ctx, nil); !errors.Is(err, memory.ErrClosed) {
		t.Errorf("AddRollups after Close = %v; want ErrClosed", err)
	}
}
