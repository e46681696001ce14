package steps

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runStep builds the registered step type name from with and runs it.
func runStep(t *testing.T, r *Registry, name string, with map[string]any, in Input) (Output, error) {
	t.Helper()
	typ, ok := r.Lookup(name)
	if !ok {
		t.Fatalf("Lookup(%q) = false", name)
	}
	s, err := typ.New(with)
	if err != nil {
		return Output{}, err
	}
	in.With = with
	return s.Run(t.Context(), in)
}

func testInput() Input {
	return Input{Pipeline: "p", Execution: "exec-1", StepID: "call", Attempt: 1}
}

func TestHTTPStep(t *testing.T) {
	type seen struct {
		Method, Path, Query, ContentType, Auth, Key, Body string
	}
	var got []seen
	mux := http.NewServeMux()
	record := func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"), string(b)})
	}
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		io.WriteString(w, `{"id":"`+r.PathValue("id")+`","tags":["x"],"n":2}`)
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "created")
	})
	mux.HandleFunc("GET /missing", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"title":"not found"}`)
	})
	mux.HandleFunc("GET /busy", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /huge", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Write(make([]byte, maxBody+1))
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":`)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	rec := &recordSleep{}
	client := newTestClient(t, HTTPConfig{sleep: rec.sleep})
	r := NewRegistry()
	if err := RegisterHTTP(r, Deps{HTTPClient: client}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		with        map[string]any
		wantOut     map[string]any // compared key by key when not nil
		wantSeen    []seen
		wantErr     bool
		wantPerm    bool
		wantErrType any
	}{
		{
			name:     "GET with a JSON answer",
			with:     map[string]any{"url": ts.URL + "/items/7?full=1", "headers": map[string]any{"Authorization": "Bearer tok"}},
			wantOut:  map[string]any{"status": 200, "json": map[string]any{"id": "7", "tags": []any{"x"}, "n": float64(2)}},
			wantSeen: []seen{{Method: "GET", Path: "/items/7", Query: "full=1", Auth: "Bearer tok"}},
		},
		{
			name:     "POST a JSON body",
			with:     map[string]any{"method": "POST", "url": ts.URL + "/items", "json": map[string]any{"name": "a", "n": int64(1)}, "idempotency_key": "k-1"},
			wantOut:  map[string]any{"status": 201, "body": "created"},
			wantSeen: []seen{{Method: "POST", Path: "/items", ContentType: "application/json", Key: "k-1", Body: `{"n":1,"name":"a"}`}},
		},
		{
			name:     "POST a text body with auto idempotency key",
			with:     map[string]any{"method": "POST", "url": ts.URL + "/items", "body": "hello", "idempotency_key": "auto"},
			wantOut:  map[string]any{"status": 201},
			wantSeen: []seen{{Method: "POST", Path: "/items", ContentType: "text/plain; charset=utf-8", Key: IdempotencyKey(testInput()), Body: "hello"}},
		},
		{
			name:     "an expected 404",
			with:     map[string]any{"url": ts.URL + "/missing", "expect_status": []any{int64(404)}},
			wantOut:  map[string]any{"status": 404, "json": map[string]any{"title": "not found"}},
			wantSeen: []seen{{Method: "GET", Path: "/missing"}},
		},
		{
			name:     "an unexpected 404 fails permanently",
			with:     map[string]any{"url": ts.URL + "/missing"},
			wantOut:  map[string]any{"status": 404},
			wantSeen: []seen{{Method: "GET", Path: "/missing"}},
			wantErr:  true, wantPerm: true, wantErrType: &StatusError{},
		},
		{
			name:     "503 is retried, then fails for the engine to retry",
			with:     map[string]any{"url": ts.URL + "/busy"},
			wantOut:  map[string]any{"status": 503},
			wantSeen: []seen{{Method: "GET", Path: "/busy"}, {Method: "GET", Path: "/busy"}, {Method: "GET", Path: "/busy"}},
			wantErr:  true, wantErrType: &StatusError{},
		},
		{
			name:     "a malformed JSON answer",
			with:     map[string]any{"url": ts.URL + "/broken"},
			wantSeen: []seen{{Method: "GET", Path: "/broken"}},
			wantErr:  true,
		},
		{
			name:     "an answer over the size limit",
			with:     map[string]any{"url": ts.URL + "/huge"},
			wantSeen: []seen{{Method: "GET", Path: "/huge"}},
			wantErr:  true, wantErrType: &RequestError{},
		},
		{name: "an invalid method", with: map[string]any{"method": "GE T", "url": ts.URL}, wantErr: true, wantPerm: true, wantErrType: &ConfigError{}},
		{name: "a relative URL", with: map[string]any{"url": "/items"}, wantErr: true, wantPerm: true, wantErrType: &ConfigError{}},
		{name: "a non-http URL", with: map[string]any{"url": "file:///etc/passwd"}, wantErr: true, wantPerm: true, wantErrType: &ConfigError{}},
		{name: "json and body", with: map[string]any{"url": ts.URL, "json": map[string]any{}, "body": "x"}, wantErr: true, wantPerm: true, wantErrType: &ConfigError{}},
		{name: "a header with a newline", with: map[string]any{"url": ts.URL, "headers": map[string]any{"X-A": "a\r\nX-B: b"}}, wantErr: true, wantPerm: true, wantErrType: &ConfigError{}},
		{name: "an unknown key", with: map[string]any{"url": ts.URL, "metod": "GET"}, wantErr: true, wantPerm: true, wantErrType: &ConfigError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			out, err := runStep(t, r, "http", tt.with, testInput())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run = %v; want error %v", err, tt.wantErr)
			}
			if err != nil {
				if IsPermanent(err) != tt.wantPerm {
					t.Errorf("IsPermanent(%v) = %v; want %v", err, !tt.wantPerm, tt.wantPerm)
				}
				switch want := tt.wantErrType.(type) {
				case *StatusError:
					if !errors.As(err, &want) {
						t.Errorf("Run = %v; want a *StatusError", err)
					}
				case *RequestError:
					if !errors.As(err, &want) {
						t.Errorf("Run = %v; want a *RequestError", err)
					}
				case *ConfigError:
					if !errors.As(err, &want) {
						t.Errorf("Run = %v; want a *ConfigError", err)
					}
				}
			}
			for k, v := range tt.wantOut {
				if diff := cmp.Diff(v, out.Outputs[k]); diff != "" {
					t.Errorf("outputs[%q] (-want +got):\n%s", k, diff)
				}
			}
			if diff := cmp.Diff(tt.wantSeen, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if _, jerr := json.Marshal(out.Outputs); jerr != nil {
				t.Errorf("outputs do not encode to JSON: %v", jerr)
			}
		})
	}

}

func TestHTTPStepHeadersOutput(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(204)
	}))
	defer ts.Close()
	r := NewRegistry()
	if err := RegisterHTTP(r, Deps{HTTPClient: newTestClient(t, HTTPConfig{})}); err != nil {
		t.Fatal(err)
	}
	out, err := runStep(t, r, "http", map[string]any{"url": ts.URL}, testInput())
	if err != nil {
		t.Fatal(err)
	}
	h := out.Outputs["headers"].(map[string]any)
	if got, want := h["x-multi"], "a, b"; got != want {
		t.Errorf(`headers["x-multi"] = %v; want %q`, got, want)
	}
	if _, ok := out.Outputs["json"]; ok {
		t.Errorf("outputs has json for a non-JSON answer: %v", out.Outputs)
	}
}

// TestHTTPStepDefaultClient runs the step on the client Deps builds when
// HTTPClient is nil: Deps.TLSConfig decides trust, Deps.Egress the
// destinations.
func TestHTTPStepDefaultClient(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("User-Agent"))
	}))
	defer ts.Close()
	ts.Config.ErrorLog = quietLog()
	trusted := ts.Client().Transport.(*http.Transport).TLSClientConfig
	tests := []struct {
		name      string
		deps      Deps
		url       string
		wantBody  string
		wantErr   error // matched with errors.Is; nil with wantFail for other failures
		wantFail  bool
		permanent bool
	}{
		{name: "trusted by Deps.TLSConfig", deps: Deps{TLSConfig: trusted, UserAgent: "host/1"}, url: ts.URL, wantBody: "host/1"},
		{name: "untrusted certificate", deps: Deps{}, url: ts.URL, wantFail: true},
		{name: "metadata address", deps: Deps{TLSConfig: trusted}, url: "http://169.254.169.254/latest/meta-data/iam", wantErr: ErrEgressDenied, wantFail: true, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry()
			if err := RegisterHTTP(r, tt.deps); err != nil {
				t.Fatal(err)
			}
			typ, _ := r.Lookup("http")
			s, _ := typ.New(map[string]any{"url": tt.url})
			defer s.(*httpStep).client.CloseIdleConnections()
			out, err := s.Run(t.Context(), testInput())
			if (err != nil) != tt.wantFail || tt.wantErr != nil && !errors.Is(err, tt.wantErr) || err != nil && IsPermanent(err) != tt.permanent {
				t.Fatalf("Run = %v (permanent %v); want failure %v (%v), permanent %v", err, IsPermanent(err), tt.wantFail, tt.wantErr, tt.permanent)
			}
			if err == nil && out.Outputs["body"] != tt.wantBody {
				t.Errorf("body = %v; want %q", out.Outputs["body"], tt.wantBody)
			}
		})
	}
}
