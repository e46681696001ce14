package federation

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkMerge merges two ~2 KB JSON bodies (RFC 7386, real winning);
// the baseline is decoding both and encoding one, the floor of any merge.
func BenchmarkMerge(b *testing.B) {
	mb, rb := body2K("widget"), body2K("gadget")
	capt := func(body []byte) *capture {
		c := newCapture(DefaultBlendMaxBody)
		c.h.Set("Content-Type", "application/json")
		c.Write(body)
		return c
	}
	mock, real := capt(mb), capt(rb)
	b.Run("baseline-decode-both-encode-one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m, r any
			_ = json.Unmarshal(mb, &m)
			_ = json.Unmarshal(rb, &r)
			_, _ = json.Marshal(r)
		}
	})
	b.Run("merge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := mergeAnswers(real, mock); !ok {
				b.Fatal("not merged")
			}
		}
	})
}

// BenchmarkServeMockFirst serves a mock_first hit next to the same mock
// served as mock_v3: the cost of holding the response back until its
// status says hit or miss.
func BenchmarkServeMockFirst(b *testing.B) {
	mock := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
		}), nil
	})
	f := &Federation{Name: "bench", Services: []Service{
		{Name: "plain", BasePath: "/plain", Reality: MockV3},
		{Name: "mf", BasePath: "/mf", Reality: Blended, Upstream: "http://127.0.0.1:1", Blend: &Blend{Strategy: MockFirst}},
	}}
	r, err := NewRouter(f, RouterConfig{Mocks: mock})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for _, path := range []string{"/plain/x", "/mf/x"} {
		name := map[string]string{"/plain/x": "baseline-mock_v3", "/mf/x": "mock_first"}[path]
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://router.test"+path, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				r.ServeHTTP(w, req)
			}
			if w.h.Get(HeaderServedBy) != "mock" {
				b.Fatalf("served by %q; want mock", w.h.Get(HeaderServedBy))
			}
		})
	}
}

// BenchmarkServeShadow serves a shadow service whose primary is the mock
// (its real secondary runs in the background, bounded by MaxShadows) next
// to the same mock served as mock_v3: what the client pays for shadowing.
func BenchmarkServeShadow(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":false}`)
	}))
	defer up.Close()
	mock := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
		}), nil
	})
	f := &Federation{Name: "bench", Services: []Service{
		{Name: "plain", BasePath: "/plain", Reality: MockV3},
		{Name: "sh", BasePath: "/sh", Reality: Blended, Upstream: up.URL, Blend: &Blend{Strategy: Shadow, Primary: "mock"}},
	}}
	r, err := NewRouter(f, RouterConfig{Mocks: mock})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, path string }{{"baseline-mock_v3", "/plain/x"}, {"shadow", "/sh/x"}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "http://router.test"+bc.path, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				r.ServeHTTP(w, req)
			}
		})
	}
	if err := r.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := r.ShadowStats()
	b.Logf("shadows started %d, dropped %d", st.Started, st.Dropped)
}
