package federation

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// The egress policy holds at dial time: an upstream named "localhost"
// passes every URL-level check, and is still refused when loopback is
// denied, through the default transports and clones of a host's.
func TestEgressPolicyEnforcedAtDial(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	f := mustParse(t, fmt.Sprintf("name: e\nservices: [{name: up, base_path: /, reality: real, upstream: \"http://localhost:%s\"}]\n", u.Port()))
	for _, tc := range []struct {
		name   string
		cfg    RouterConfig
		status int
	}{
		{"default allows loopback", RouterConfig{}, http.StatusOK},
		{"default transport", RouterConfig{Egress: EgressPolicy{Deny: loopback}}, http.StatusBadGateway},
		{"host transport", RouterConfig{Egress: EgressPolicy{Deny: loopback}, Transport: &http.Transport{}}, http.StatusBadGateway},
		{"allow-list", RouterConfig{Egress: EgressPolicy{Deny: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
			Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			obs := &exchanges{}
			tc.cfg.Observer = obs
			r := newTestRouter(t, f, tc.cfg)
			srv := front(t, r)
			resp, err := newClient(t).Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			if tc.status == http.StatusOK {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
					t.Fatalf("got %d with %d upstream hits; want 200 from the upstream", resp.StatusCode, hits.Load())
				}
				return
			}
			p := readProblem(t, resp, tc.status)
			if d, _ := p["detail"].(string); !strings.Contains(d, "egress policy") {
				t.Errorf("problem detail %q does not name the egress policy", d)
			}
			if hits.Load() != 0 {
				t.Errorf("the upstream was reached %d times", hits.Load())
			}
			if xs := obs.all(); len(xs) != 1 || !errors.Is(xs[0].Err, ErrEgressDenied) {
				t.Errorf("observed %+v; want one exchange whose Err is ErrEgressDenied", xs)
			}
		})
	}
}

// The zero RouterConfig rejects upstreams whose URL already shows a
// denied address or name, in every spelling.
func TestEgressDefaultRejectsMetadataUpstreams(t *testing.T) {
	for _, up := range []string{
		"http://169.254.169.254",
		"http://169.254.169.254:80/latest",
		"http://[::ffff:169.254.169.254]",
		"http://[fe80::1]:8080",
		"http://[fd00:ec2::254]",
		"http://[64:ff9b::a9fe:a9fe]",
		"http://metadata.google.internal",
		"http://0.0.0.0:9000",
	} {
		f := mustParse(t, fmt.Sprintf("name: e\nservices: [{name: up, base_path: /, reality: real, upstream: %q}]\n", up))
		r, err := NewRouter(f, RouterConfig{})
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, ErrEgressDenied) {
			t.Errorf("NewRouter with upstream %s = %v; want ErrEgressDenied", up, err)
		}
	}
	bad := RouterConfig{Egress: EgressPolicy{DenyNames: []string{"not a name"}}}
	if _, err := NewRouter(mustParse(t, safetyYAML), bad); err == nil {
		t.Errorf("NewRouter with an invalid egress policy succeeded")
	}
}
