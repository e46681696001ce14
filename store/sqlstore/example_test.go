package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/sqlstore"
)

func ExampleOpen() {
	ctx := context.Background()
	// A file path ("sqlite:/var/lib/mockops/store.db") or a PostgreSQL URL
	// works the same way; the in-memory database lives as long as s.
	s, err := sqlstore.Open(ctx, "sqlite::memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	p, err := s.PutPipeline(ctx, store.Pipeline{Name: "sdk-on-schema-change", Source: []byte("name: sdk-on-schema-change\n"), Enabled: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, "version", p.Version)

	// Writing with a stale version is a conflict, not a silent overwrite.
	p.Version = 7
	_, err = s.PutPipeline(ctx, p)
	fmt.Println("stale put conflicts:", errors.Is(err, store.ErrConflict))
	// Output:
	// sdk-on-schema-change version 1
	// stale put conflicts: true
}
