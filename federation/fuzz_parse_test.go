package federation

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that a rejection is
// always a non-empty ErrorList whose every diagnostic has a position, and
// that whatever Parse accepts a Router accepts too (Parse and Validate
// agree), unless the default egress policy denies an upstream.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/parse/*.yaml")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	mocks := &echoMocks{}
	f.Fuzz(func(t *testing.T, src []byte) {
		fed, err := Parse("fuzz.yaml", src)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse error %v (%T) is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if !e.Pos.IsValid() || e.Pos.File != "fuzz.yaml" {
					t.Fatalf("Parse diagnostic %q has no position: %+v", e.Msg, e.Pos)
				}
			}
			return
		}
		if err := fed.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
		if len(fed.Order()) != len(fed.Services) {
			t.Fatalf("Order() has %d services; want %d", len(fed.Order()), len(fed.Services))
		}
		r, err := NewRouter(fed, RouterConfig{Mocks: mocks})
		if errors.Is(err, ErrEgressDenied) { // a metadata or link-local upstream: the default policy's call
			return
		}
		if err != nil {
			t.Fatalf("NewRouter rejected a parsed federation: %v", err)
		}
		r.Close()
	})
}
