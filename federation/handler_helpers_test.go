package federation

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store/access"
)

// roles is a host Authorizer: the bearer token names the caller's role
// (read < operate < write); no token is unauthenticated. It keeps the
// requests it decided, for assertions on resource, action and workspace.
type roles struct {
	mu   sync.Mutex
	seen []access.Request
}

func (a *roles) Authorize(r *http.Request, req access.Request) error {
	a.mu.Lock()
	a.seen = append(a.seen, req)
	a.mu.Unlock()
	role, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return access.ErrUnauthenticated
	}
	rank := map[string]int{"read": 1, "operate": 2, "write": 3}
	need := map[access.Action]int{access.Read: 1, access.Operate: 2, access.Write: 3}
	if rank[role] < need[req.Action] {
		return fmt.Errorf("%w: role %s", access.ErrDenied, role)
	}
	return nil
}

func (a *roles) last() access.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		return access.Request{}
	}
	return a.seen[len(a.seen)-1]
}

// apiFixture is the admin API over a Registry on SQLite serving shop.
type apiFixture struct {
	reg   *Registry
	authz *roles
	act   *activator
	srv   *httptest.Server
	c     *http.Client
}

func newAPI(t *testing.T, cfg HandlerConfig) *apiFixture {
	t.Helper()
	act := &activator{fail: "payments-ws", only: "outage"}
	p := newReplica(t, filepath.Join(t.TempDir(), "api.db"), false, RegistryConfig{Router: RouterConfig{Mocks: &echoMocks{}, Scenarios: act}})
	if _, err := p.reg.Put(t.Context(), "shop", shopSpec("http://127.0.0.1:1"), 0); err != nil {
		t.Fatal(err)
	}
	a := &apiFixture{reg: p.reg, act: act, authz: &roles{}}
	if cfg.Authorizer == nil {
		cfg.Authorizer = a.authz
	}
	a.srv = httptest.NewServer(NewHandler(p.reg, cfg))
	t.Cleanup(a.srv.Close)
	a.c = newClient(t)
	return a
}

// reply is an answer of the API.
type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// call sends one request; hdr holds header pairs ("If-Match", `"1"`).
func (a *apiFixture) call(t *testing.T, method, path, role, ct, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+role)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	rp := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if resp.StatusCode >= 400 {
		if got := resp.Header.Get("Content-Type"); got != problem.ContentType {
			t.Errorf("%s %s = %d with Content-Type %q; want a problem", method, path, resp.StatusCode, got)
		}
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &rp.body); err != nil {
			t.Errorf("%s %s: answer %q is not a JSON object: %v", method, path, raw, err)
		}
	}
	return rp
}
