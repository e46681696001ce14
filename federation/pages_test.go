package federation

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mockops/mockops/internal/problem"
	"github.com/mockops/mockops/store/access"
)

// TestPagesShow: every page answers what it promises to a viewer.
func TestPagesShow(t *testing.T) {
	f := newPagesFixture(t, pageRoles())
	rt := f.router(t)
	// One drifting comparison for catalog, one state entry with markup in
	// it, so the pages have differences and values to show (escaped).
	if got := f.servedBy(t, "/catalog/items"); got == "" {
		t.Fatal("no answer from catalog")
	}
	if len(rt.RecentDiffs("catalog")) == 0 {
		t.Fatal("the merge of catalog recorded no difference: the fixture is wrong")
	}
	if _, err := rt.State().Put(t.Context(), "users/ana", json.RawMessage(`{"name":"<b>Ana</b>"}`)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		status     int
		want, not  []string
	}{
		{"root redirects", "/ui/", http.StatusSeeOther, nil, nil},
		{"list", "/ui/federations", 200, []string{`<tr data-federation="shop">`, `<a href="/ui/federations/shop">shop</a>`, "A shop of four services", `aria-current="page"`}, []string{`class="badge b-fail"`}},
		{"federation", "/ui/federations/shop", 200, []string{
			`<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="graph-title graph-desc"`,
			`<title id="graph-title">Services of federation shop and their dependencies</title>`,
			`<g class="node" data-service="catalog" data-reality="blended"><title>catalog at /catalog: served blended; depends on auth</title>`,
			`<g class="edge" data-from="payments" data-to="orders"><title>payments depends on orders</title>`,
			`<h3 id="legend">Legend</h3>`, `<code>chaos_driven</code>: dotted border`,
			`<tr data-service="orders">`, `<a href="/ui/federations/shop/services/orders">orders</a>`,
			`<a href="/ui/federations/shop/services/catalog#diffs">1</a>`,
			`<tr data-scenario="real-orders">`, "orders: real", "payments: chaos_driven, chaos on mock",
			`<a href="/ui/federations/shop/route">Route dry run</a>`, `<a href="/ui/federations/shop/state">Shared state</a>`,
		}, []string{`class="activate"`}}, // a viewer is offered no activation
		{"service with diffs", "/ui/federations/shop/services/catalog", 200, []string{
			`<h2 id="diffs">`, `<tr class="diff">`, `<code>GET /catalog/items</code>`, "<strong>missing</strong>",
			`<a href="/ui/federations/shop/services/auth">auth</a>`,
		}, []string{`<form method="post"`}},
		{"service without diffs", "/ui/federations/shop/services/payments", 200, []string{"No differences recorded", "because of the definition", `<a href="/ui/federations/shop/services/orders">orders</a>`}, nil},
		{"route form", "/ui/federations/shop/route", 200, []string{`<label for="r-path">Request path</label>`, `<input id="r-path" name="path"`}, []string{`id="result"`}},
		{"route matched", "/ui/federations/shop/route?path=/orders/1&method=GET", 200, []string{
			`data-matched="true"`, `<a href="/ui/federations/shop/services/orders" id="r-service">orders</a>`, "mock_v3", "<code>/orders/1</code>",
		}, nil},
		{"route unmatched", "/ui/federations/shop/route?path=/nowhere", 200, []string{`data-matched="false"`, "the router answers 404"}, nil},
		{"route segment boundary", "/ui/federations/shop/route?path=/ordersx", 200, []string{`data-matched="false"`}, nil},
		{"route relative path", "/ui/federations/shop/route?path=orders", 400, []string{"must be an absolute request path"}, []string{`id="result"`}},
		{"route unknown method", "/ui/federations/shop/route?path=/orders&method=BREW", 400, []string{"Pick one of the methods"}, nil},
		{"state list", "/ui/federations/shop/state", 200, []string{`<tr data-key="users/ana">`, `href="/ui/federations/shop/state/users/ana"`}, nil},
		{"state prefix", "/ui/federations/shop/state?prefix=orders/", 200, []string{"No keys start with <code>orders/</code>"}, []string{"users/ana"}},
		{"state entry", "/ui/federations/shop/state/users/ana", 200, []string{`&#34;name&#34;: &#34;&lt;b&gt;Ana&lt;/b&gt;&#34;`}, []string{"<b>Ana</b>"}},
		{"unknown federation", "/ui/federations/nope", 404, []string{"no such federation"}, nil},
		{"unknown service", "/ui/federations/shop/services/nope", 404, []string{"no such service"}, nil},
		{"unknown key", "/ui/federations/shop/state/nope", 404, nil, nil},
		{"no page", "/ui/elsewhere", 404, []string{"There is no page at this address."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do(t, "GET", tt.path, "viewer", nil)
			if status != tt.status {
				t.Fatalf("GET %s = %d; want %d\n%s", tt.path, status, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", tt.path, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, n) {
					t.Errorf("GET %s has %q", tt.path, n)
				}
			}
		})
	}
}

// TestPagesAuthorization: a viewer sees and cannot switch, activate or
// deactivate; nobody is asked to sign in; an operator of one workspace
// switches only its services; nothing denied changes the router.
func TestPagesAuthorization(t *testing.T) {
	f := newPagesFixture(t, pageRoles())
	rt := f.router(t)
	yes := url.Values{"confirm": {"yes"}}
	tests := []struct {
		name, method, path, user string
		form                     url.Values
		status                   int
	}{
		{"nobody reads", "GET", "/ui/federations/shop", "", nil, http.StatusUnauthorized},
		{"nobody lists", "GET", "/ui/federations", "", nil, http.StatusUnauthorized},
		{"viewer switches", "POST", "/ui/federations/shop/services/orders/reality", "viewer", url.Values{"reality": {"real"}}, http.StatusForbidden},
		{"viewer confirms an activation", "GET", "/ui/federations/shop/scenarios/real-orders/activate", "viewer", nil, http.StatusForbidden},
		{"viewer activates", "POST", "/ui/federations/shop/scenarios/real-orders/activate", "viewer", yes, http.StatusForbidden},
		{"viewer deactivates", "POST", "/ui/federations/shop/scenarios/deactivate", "viewer", yes, http.StatusForbidden},
		{"viewer activates an unknown scenario", "POST", "/ui/federations/shop/scenarios/nope/activate", "viewer", yes, http.StatusForbidden},
		{"workspace operator switches another workspace", "POST", "/ui/federations/shop/services/payments/reality", "orders-op", url.Values{"reality": {"chaos_driven"}}, http.StatusForbidden},
		{"workspace operator activates", "POST", "/ui/federations/shop/scenarios/outage/activate", "orders-op", yes, http.StatusForbidden},
		{"nobody switches", "POST", "/ui/federations/shop/services/orders/reality", "", url.Values{"reality": {"real"}}, http.StatusUnauthorized},
		{"viewer reads state", "GET", "/ui/federations/shop/state", "viewer", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do(t, tt.method, tt.path, tt.user, tt.form)
			if status != tt.status {
				t.Fatalf("%s %s as %q = %d; want %d\n%s", tt.method, tt.path, tt.user, status, tt.status, body)
			}
			if status == http.StatusForbidden && strings.Contains(body, "in workspace") {
				t.Errorf("the denial names a workspace the caller may not read:\n%s", body)
			}
			if got := rt.ActiveScenario(); got != "" {
				t.Errorf("active scenario = %q after a denied request", got)
			}
			if got := rt.Realities(); len(got) != 0 {
				t.Errorf("realities = %v after a denied request", got)
			}
		})
	}
	t.Run("workspace operator switches its own service", func(t *testing.T) {
		status, loc, body := f.do(t, "POST", "/ui/federations/shop/services/orders/reality", "orders-op", url.Values{"reality": {"real"}})
		if status != http.StatusSeeOther {
			t.Fatalf("switch = %d; want 303\n%s", status, body)
		}
		if loc != "/ui/federations/shop/services/orders?done=reality" {
			t.Errorf("Location = %q", loc)
		}
		if got := rt.Realities()["orders"]; got != Real {
			t.Errorf("orders switched to %q; want real", got)
		}
		// Offered the form on its own service, not on another's.
		if _, _, body := f.do(t, "GET", "/ui/federations/shop/services/orders", "orders-op", nil); !strings.Contains(body, `<select id="reality"`) {
			t.Error("the operator of orders-ws is not offered the switch of orders")
		}
		if _, _, body := f.do(t, "GET", "/ui/federations/shop/services/payments", "orders-op", nil); strings.Contains(body, `<select id="reality"`) {
			t.Error("the operator of orders-ws is offered the switch of payments")
		}
	})
	t.Run("a denial asked for JSON is a problem", func(t *testing.T) {
		status, _, body := f.do(t, "POST", "/ui/federations/shop/scenarios/outage/activate", "viewer", yes, "Accept", "application/json")
		var p problem.Details
		if err := json.Unmarshal([]byte(body), &p); err != nil || status != 403 || p.Status != 403 {
			t.Errorf("= %d %q (%v); want a 403 problem", status, body, err)
		}
	})
}

// TestPagesCrossOrigin: a form posted from another site is refused
// before it is authorized or acted on, whoever the caller is.
func TestPagesCrossOrigin(t *testing.T) {
	f := newPagesFixture(t, pageRoles())
	rt := f.router(t)
	yes := url.Values{"confirm": {"yes"}}
	tests := []struct {
		name, path string
		form       url.Values
		hdr        []string
	}{
		{"activate, cross-site fetch", "/ui/federations/shop/scenarios/real-orders/activate", yes, []string{"Sec-Fetch-Site", "cross-site"}},
		{"activate, foreign origin", "/ui/federations/shop/scenarios/real-orders/activate", yes, []string{"Origin", "https://evil.example"}},
		{"switch, foreign origin", "/ui/federations/shop/services/orders/reality", url.Values{"reality": {"real"}}, []string{"Origin", "https://evil.example"}},
		{"deactivate, same-site but not same-origin", "/ui/federations/shop/scenarios/deactivate", yes, []string{"Sec-Fetch-Site", "same-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do(t, "POST", tt.path, "operator", tt.form, tt.hdr...)
			if status != http.StatusForbidden || !strings.Contains(body, "sent from another site") {
				t.Fatalf("POST %s with %v = %d; want 403 from the cross-origin protection\n%s", tt.path, tt.hdr, status, body)
			}
			if rt.ActiveScenario() != "" || len(rt.Realities()) != 0 {
				t.Errorf("the router changed: scenario %q, realities %v", rt.ActiveScenario(), rt.Realities())
			}
		})
	}
	t.Run("same origin passes", func(t *testing.T) {
		status, _, body := f.do(t, "POST", "/ui/federations/shop/scenarios/real-orders/activate", "operator", yes,
			"Sec-Fetch-Site", "same-origin", "Origin", f.srv.URL)
		if status != http.StatusSeeOther {
			t.Fatalf("= %d; want 303\n%s", status, body)
		}
	})
}

// TestPagesScenario: activation and deactivation take a confirmation, and
// then the router serves per the scenario.
func TestPagesScenario(t *testing.T) {
	f := newPagesFixture(t, pageRoles())
	rt := f.router(t)
	const act = "/ui/federations/shop/scenarios/real-orders/activate"
	if got := f.servedBy(t, "/orders/1"); got != "orders-ws" {
		t.Fatalf("before: /orders/1 served by %q; want the orders-ws mock", got)
	}
	steps := []struct {
		name, method, path string
		form               url.Values
		status             int
		want               string // in the body, or the Location of a redirect
		active             string
		served             string // who serves /orders/1 afterwards
	}{
		{"federation offers activation", "GET", "/ui/federations/shop", nil, 200, `<a class="activate" href="` + act + `">Activate real-orders…</a>`, "", "orders-ws"},
		{"confirmation page", "GET", act, nil, 200, `<input type="checkbox" id="confirm" name="confirm" value="yes" required>`, "", "orders-ws"},
		{"unknown scenario", "GET", "/ui/federations/shop/scenarios/nope/activate", nil, 404, "no such scenario", "", "orders-ws"},
		{"post without the box", "POST", act, url.Values{}, 422, "Tick the box to confirm: nothing was changed.", "", "orders-ws"},
		{"post with a wrong box value", "POST", act, url.Values{"confirm": {"on"}}, 422, "Tick the box", "", "orders-ws"},
		{"activate", "POST", act, url.Values{"confirm": {"yes"}}, 303, "/ui/federations/shop?done=activated", "real-orders", "real"},
		{"federation shows it", "GET", "/ui/federations/shop?done=activated", nil, 200, "Scenario activated", "real-orders", "real"},
		{"route dry run says so", "GET", "/ui/federations/shop/route?path=/orders/9", nil, 200, "because of the scenario real-orders", "real-orders", "real"},
		{"deactivation page", "GET", "/ui/federations/shop/scenarios/deactivate", nil, 200, "It stops overriding", "real-orders", "real"},
		{"deactivate without the box", "POST", "/ui/federations/shop/scenarios/deactivate", url.Values{}, 422, "Tick the box", "real-orders", "real"},
		{"deactivate", "POST", "/ui/federations/shop/scenarios/deactivate", url.Values{"confirm": {"yes"}}, 303, "/ui/federations/shop?done=deactivated", "", "orders-ws"},
		{"nothing to deactivate", "GET", "/ui/federations/shop/scenarios/deactivate", nil, 200, "there is nothing to deactivate", "", "orders-ws"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, loc, body := f.do(t, s.method, s.path, "operator", s.form)
			if status != s.status {
				t.Fatalf("%s %s = %d; want %d\n%s", s.method, s.path, status, s.status, body)
			}
			if got := body + loc; !strings.Contains(got, s.want) {
				t.Errorf("%s %s: lacks %q (Location %q)", s.method, s.path, s.want, loc)
			}
			if got := rt.ActiveScenario(); got != s.active {
				t.Errorf("active scenario = %q; want %q", got, s.active)
			}
			if got := f.servedBy(t, "/orders/1"); got != s.served {
				t.Errorf("/orders/1 served by %q; want %q", got, s.served)
			}
		})
	}
	if _, calls := f.act.state(); len(calls) != 8 { // 4 workspaces in, 4 out
		t.Errorf("activator calls = %v; want every workspace switched in and out", calls)
	}
}

// TestPagesReality: switching a service's reality from its page, and
// removing the switch.
func TestPagesReality(t *testing.T) {
	f := newPagesFixture(t, pageRoles())
	rt := f.router(t)
	const sw = "/ui/federations/shop/services/orders/reality"
	tests := []struct {
		name, path, reality string
		status              int
		want                string
		switched            RealityLevel
		served              string
	}{
		{"to real", sw, "real", 303, "/ui/federations/shop/services/orders?done=reality", Real, "real"},
		{"an unknown level", sw, "quantum", 400, "Pick one of the reality levels", Real, "real"},
		{"a level the service cannot have", "/ui/federations/shop/services/payments/reality", "real", 422, "would not be valid", Real, "real"},
		{"an unknown service", "/ui/federations/shop/services/nope/reality", "real", 404, "no such service", Real, "real"},
		{"remove the switch", sw, "", 303, "done=unswitched", "", "orders-ws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, loc, body := f.do(t, "POST", tt.path, "operator", url.Values{"reality": {tt.reality}})
			if status != tt.status {
				t.Fatalf("switch to %q = %d; want %d\n%s", tt.reality, status, tt.status, body)
			}
			if !strings.Contains(body+loc, tt.want) {
				t.Errorf("lacks %q (Location %q)", tt.want, loc)
			}
			if got := rt.Realities()["orders"]; got != tt.switched {
				t.Errorf("orders switched to %q; want %q", got, tt.switched)
			}
			if got := f.servedBy(t, "/orders/1"); got != tt.served {
				t.Errorf("/orders/1 served by %q; want %q", got, tt.served)
			}
		})
	}
	t.Run("the pages show a switch", func(t *testing.T) {
		if _, _, body := f.do(t, "POST", sw, "operator", url.Values{"reality": {"real"}}); body != "" {
			t.Fatalf("switch answered a body: %s", body)
		}
		_, _, body := f.do(t, "GET", "/ui/federations/shop/services/orders?done=reality", "operator", nil)
		for _, w := range []string{"Reality switched", `<option value="real" selected>real</option>`, "because of the switched by hand"} {
			if !strings.Contains(body, w) {
				t.Errorf("service page lacks %q", w)
			}
		}
		_, _, body = f.do(t, "GET", "/ui/federations/shop", "operator", nil)
		if !strings.Contains(body, `<g class="node" data-service="orders" data-reality="real">`) || !strings.Contains(body, "served real (switched by hand; defined mock_v3)") {
			t.Error("the graph does not show orders switched to real")
		}
	})
}

// TestPagesReadOnlyDefault: without an Authorizer the pages read and
// refuse every action.
func TestPagesReadOnlyDefault(t *testing.T) {
	f := newPagesFixture(t, nil)
	if status, _, _ := f.do(t, "GET", "/ui/federations/shop", "", nil); status != 200 {
		t.Errorf("read = %d; want 200", status)
	}
	if status, _, _ := f.do(t, "POST", "/ui/federations/shop/scenarios/outage/activate", "", url.Values{"confirm": {"yes"}}); status != http.StatusForbidden {
		t.Errorf("activate = %d; want 403", status)
	}
}

func TestNewPagesConfig(t *testing.T) {
	f := newPagesFixture(t, access.AllowAll)
	tests := []struct {
		name string
		reg  *Registry
		cfg  PagesConfig
		ok   bool
	}{
		{"zero config", f.reg, PagesConfig{}, true},
		{"prefix", f.reg, PagesConfig{Prefix: "/admin/"}, true},
		{"relative prefix", f.reg, PagesConfig{Prefix: "admin"}, false},
		{"bad trusted origin", f.reg, PagesConfig{TrustedOrigins: []string{"not an origin"}}, false},
		{"nil registry", nil, PagesConfig{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPages(tt.reg, tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("NewPages = %v; want ok %v", err, tt.ok)
			}
		})
	}
}

// TestPagesActivatorFails: when a workspace refuses a scenario, the page
// says something went wrong without the host's words, and the router
// still serves the federation as defined.
func TestPagesActivatorFails(t *testing.T) {
	f := newPagesFixture(t, pageRoles())
	f.act.mu.Lock()
	f.act.fail = "payments-ws"
	f.act.mu.Unlock()
	status, _, body := f.do(t, "POST", "/ui/federations/shop/scenarios/real-orders/activate", "operator", url.Values{"confirm": {"yes"}})
	if status != http.StatusInternalServerError || !strings.Contains(body, "the log says what") || strings.Contains(body, "refused") {
		t.Errorf("= %d; want a 500 page without the activator's error\n%s", status, body)
	}
	if rt := f.router(t); rt.ActiveScenario() != "" {
		t.Errorf("active scenario = %q after a failed activation", rt.ActiveScenario())
	}
	if got := f.servedBy(t, "/orders/1"); got != "orders-ws" {
		t.Errorf("/orders/1 served by %q; want the mock", got)
	}
}
