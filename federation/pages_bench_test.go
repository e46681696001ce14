package federation

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mockops/mockops/store/access"
	"github.com/mockops/mockops/store/memory"
)

// benchPages serves a federation of n services, each depending on the one
// of half its index (a tree three or more levels deep), on a memory store.
func benchPages(b *testing.B, n int) *Pages {
	b.Helper()
	var src strings.Builder
	src.WriteString("name: big\nservices:\n")
	for i := range n {
		fmt.Fprintf(&src, "  - {name: s%d, base_path: /s%d, reality: mock_v3", i, i)
		if i > 0 {
			fmt.Fprintf(&src, ", depends_on: [s%d]", (i-1)/2)
		}
		src.WriteString("}\n")
	}
	src.WriteString("scenarios:\n  - {name: half, services: {s1: {reality: chaos_driven}}}\n")
	reg, err := NewRegistry(context.Background(), RegistryConfig{Store: memory.New(), Router: RouterConfig{Mocks: &echoMocks{}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	if _, err := reg.Put(context.Background(), "big", []byte(src.String()), 0); err != nil {
		b.Fatal(err)
	}
	p, err := NewPages(reg, PagesConfig{Authorizer: access.AllowAll})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPagesFederation renders one federation's page (graph, table,
// scenarios) of 50 services through ServeHTTP, beside html/template
// executing an empty template in the same run.
func BenchmarkPagesFederation(b *testing.B) {
	b.Run("baseline-empty-template", func(b *testing.B) {
		t := template.Must(template.New("empty").Parse(""))
		b.ReportAllocs()
		for b.Loop() {
			if err := t.Execute(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range []int{5, 50} {
		b.Run(fmt.Sprintf("page-%d-services", n), func(b *testing.B) {
			p := benchPages(b, n)
			req := httptest.NewRequest(http.MethodGet, "/ui/federations/big", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				p.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
		b.Run(fmt.Sprintf("graph-%d-services", n), func(b *testing.B) {
			p := benchPages(b, n)
			rt, _ := p.reg.Router("big")
			svcs := p.services(rt)
			b.ReportAllocs()
			for b.Loop() {
				_ = graphHTML("big", svcs)
			}
		})
	}
}
