package main

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// deployToken is the bearer token the deploy hook expects. The quickstart
// hands it to the engine as the secret DEPLOY_TOKEN; it must never show in
// what the quickstart prints or stores (its test checks).
const deployToken = "qs-deploy-7c1f9e2a4b"

// deployHook is a small webhook receiver on loopback standing in for a
// deploy system: it accepts POST /hooks/deploy with the bearer token, and
// answers anything else with an RFC 9457 problem.
type deployHook struct {
	srv *server

	mu  sync.Mutex
	got []string
}

func startDeployHook() (*deployHook, error) {
	h := &deployHook{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/deploy", func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(deployToken)) != 1 {
			problem(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			problem(w, http.StatusBadRequest, "unreadable body")
			return
		}
		h.mu.Lock()
		h.got = append(h.got, fmt.Sprintf("%s %s with a valid token: %s", r.Method, r.URL.Path, strings.TrimSpace(string(body))))
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"accepted":true}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "no hook at "+r.Method+" "+r.URL.Path)
	})
	srv, err := serve(mux)
	if err != nil {
		return nil, err
	}
	h.srv = srv
	return h, nil
}

// received returns what the hook accepted, in order.
func (h *deployHook) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"detail":%q}`, http.StatusText(status), status, detail)
}
