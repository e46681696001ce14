package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mockops/mockops/store"
)

// stateMocks are mocks that share users through the federation's state:
// the auth mock creates one (POST /auth/users/{id}), the orders mock
// refuses an order for a user it cannot find (GET /orders/for/{id}).
func stateMocks() MockResolver {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, ok := StateFrom(r.Context())
		if !ok {
			http.Error(w, "no state", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if _, err := st.Put(r.Context(), "users/"+r.PathValue("id"), body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /orders/for/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, _ := StateFrom(r.Context())
		e, err := st.Get(r.Context(), "users/"+r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			http.Error(w, "unknown user", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(e.Value)
	})
	return MockResolverFunc(func(string) (http.Handler, error) { return mux, nil })
}

const usersSrc = `
name: users
services:
  - {name: auth, base_path: /auth, reality: mock_v3}
  - {name: orders, base_path: /orders, reality: mock_v3, depends_on: [auth]}
`

func TestSharedStateAcrossReplicas(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			open := db.open(t)
			s1, s2 := open(), open()
			r1 := newTestRouter(t, mustParse(t, usersSrc), RouterConfig{Mocks: stateMocks(), Store: s1})
			r2 := newTestRouter(t, mustParse(t, usersSrc), RouterConfig{Mocks: stateMocks(), Store: s2})
			front1, front2 := front(t, r1), front(t, r2)
			client := newClient(t)

			get := func(srv string, id string) (int, string) {
				resp, err := client.Get(srv + "/orders/for/" + id)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, strings.TrimSpace(string(b))
			}
			if code, _ := get(front2.URL, "ada"); code != http.StatusNotFound {
				t.Fatalf("orders found user ada before auth created it: %d", code)
			}
			resp, err := client.Post(front1.URL+"/auth/users/ada", "application/json", strings.NewReader(`{"name":"Ada"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create user = %d", resp.StatusCode)
			}
			// The orders mock of the other replica sees it.
			if code, body := get(front2.URL, "ada"); code != 200 || body != `{"name":"Ada"}` {
				t.Errorf("replica 2 orders = %d %s; want the user auth created on replica 1", code, body)
			}
			// Compare-and-swap: a writer holding a stale version loses.
			ctx := t.Context()
			e1, err := r1.State().Get(ctx, "users/ada")
			if err != nil {
				t.Fatal(err)
			}
			e2, err := r2.State().CompareAndSwap(ctx, "users/ada", json.RawMessage(`{"name":"Ada L."}`), e1.Version)
			if err != nil {
				t.Fatalf("CompareAndSwap with the current version: %v", err)
			}
			if _, err := r1.State().CompareAndSwap(ctx, "users/ada", json.RawMessage(`{"name":"stale"}`), e1.Version); !errors.Is(err, store.ErrConflict) {
				t.Errorf("CompareAndSwap with a stale version = %v; want store.ErrConflict", err)
			}
			if _, err := r1.State().CompareAndSwap(ctx, "users/ada", json.RawMessage(`{}`), 0); !errors.Is(err, store.ErrConflict) {
				t.Errorf("create-only CompareAndSwap of an existing key = %v; want store.ErrConflict", err)
			}
			if err := r1.State().Delete(ctx, "users/ada", e1.Version); !errors.Is(err, store.ErrConflict) {
				t.Errorf("Delete with a stale version = %v; want store.ErrConflict", err)
			}
			for i := range 3 {
				if _, err := r1.State().Put(ctx, fmt.Sprintf("carts/%d", i), json.RawMessage(`[]`)); err != nil {
					t.Fatal(err)
				}
			}
			list, err := r2.State().List(ctx, "carts/")
			if err != nil || len(list) != 3 || list[0].Key != "carts/0" {
				t.Errorf("List(carts/) = %v, %v; want carts/0..2", list, err)
			}
			if err := r2.State().Delete(ctx, "users/ada", e2.Version); err != nil {
				t.Errorf("Delete with the current version: %v", err)
			}
			if code, _ := get(front1.URL, "ada"); code != http.StatusNotFound {
				t.Errorf("user still found after delete on the other replica: %d", code)
			}
		})
	}
}

func TestStateInvalid(t *testing.T) {
	st := NewState(openSQLite(t, filepath.Join(t.TempDir(), "s.db")), "f")
	ctx := t.Context()
	tests := []struct {
		name    string
		key     string
		value   string
		version int64
	}{
		{"empty key", "", `1`, 0},
		{"control character", "a\nb", `1`, 0},
		{"long key", strings.Repeat("k", MaxStateKey+1), `1`, 0},
		{"not JSON", "k", `{`, 0},
		{"empty value", "k", ``, 0},
		{"negative version", "k", `1`, -5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.CompareAndSwap(ctx, tt.key, json.RawMessage(tt.value), tt.version)
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("CompareAndSwap(%q, %q, %d) = %v; want store.ErrInvalid", clip(tt.key), tt.value, tt.version, err)
			}
		})
	}
}

func TestStateFromOutsideRouter(t *testing.T) {
	if _, ok := StateFrom(t.Context()); ok {
		t.Error("StateFrom found a state outside a routed request")
	}
	r := newTestRouter(t, mustParse(t, usersSrc), RouterConfig{Mocks: MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := StateFrom(r.Context()); ok {
				w.WriteHeader(http.StatusTeapot)
			}
		}), nil
	})})
	resp, err := newClient(t).Get(front(t, r).URL + "/auth")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || r.State() != nil {
		t.Errorf("without a Store: status %d, State() %v; want no state", resp.StatusCode, r.State())
	}
}
