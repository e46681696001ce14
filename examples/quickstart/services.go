package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mockops/mockops/federation"
)

// newUpstream is the "real" system the federation fronts: the users and
// orders services a team would run for real. The quickstart serves it on
// loopback so that the real and blended services have something real to
// proxy to.
func newUpstream() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "name": "Ada", "source": "real upstream"})
	})
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "status": "shipped", "source": "real upstream"})
	})
	return mux
}

// mockWorkspaces answers for the mock workspaces of shop.yaml, as a mock
// server's workspaces would. The orders mock has drifted from the real
// service: it still says "pending" where the real one says "shipped", and
// the blended service's comparisons show it.
func mockWorkspaces() federation.MockResolver {
	mocks := map[string]http.HandlerFunc{
		"catalog-ws": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"sku": r.URL.Path, "price": 12.5, "source": "mock catalog-ws"})
		},
		"orders-ws": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"status": "pending", "source": "mock orders-ws"})
		},
		"payments-ws": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"payment": r.URL.Path, "state": "authorized", "source": "mock payments-ws"})
		},
	}
	return federation.MockResolverFunc(func(ws string) (http.Handler, error) {
		h, ok := mocks[ws]
		if !ok {
			return nil, fmt.Errorf("quickstart: no mock workspace %q", ws)
		}
		return h, nil
	})
}

// shopSpec is shop.yaml with its upstream placeholder filled in.
func shopSpec(upstream string) ([]byte, error) {
	src, err := assets.ReadFile("federations/shop.yaml")
	if err != nil {
		return nil, err
	}
	return []byte(os.Expand(string(src), func(k string) string {
		if k == "UPSTREAM" {
			return upstream
		}
		return "${" + k + "}"
	})), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// server is one http.Server on a listener, with a bounded shutdown.
type server struct {
	url  string
	srv  *http.Server
	done chan error
}

// serve runs h on addr ("127.0.0.1:0" for any free loopback port) until
// shutdown.
func serve(addr string, h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return serveOn(ln, h), nil
}

// serveOn serves h on ln until shutdown.
func serveOn(ln net.Listener, h http.Handler) *server {
	s := &server{
		url:  "http://" + ln.Addr().String(),
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s
}

func (s *server) shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close() // past the deadline: drop what is left
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
