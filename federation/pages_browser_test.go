package federation

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mockops/mockops/internal/browsertest"
	"github.com/mockops/mockops/store/access"
)

// TestPagesBrowser drives the federation pages in headless Chromium with
// a real Registry on SQLite: each page has what it promises and no
// serious accessibility violation; activating a scenario through its
// confirmation form switches the router (a request through it is then
// served per the scenario), and deactivating it switches it back; the
// route dry run answers through its form. Screenshots go to
// $MOCKOPS_SCREENSHOTS (or a temporary directory).
func TestPagesBrowser(t *testing.T) {
	chromium := browsertest.NeedChromium(t)
	shots := browsertest.Shots(t)
	f := newPagesFixture(t, access.AllowAll) // one local user, as a developer's machine
	rt := f.router(t)
	f.servedBy(t, "/catalog/items") // a drifting comparison for catalog's page
	if _, err := rt.State().Put(t.Context(), "users/ana", json.RawMessage(`{"name":"Ana","orders":[1,2]}`)); err != nil {
		t.Fatal(err)
	}

	ctx := browsertest.Start(t, chromium)

	visit := func(t *testing.T, path, shot string, want ...string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatalf("navigate %s: %v", path, err)
		}
		browsertest.CheckPage(t, ctx, path, shots, shot, want...)
	}

	const fed = "/ui/federations/shop"
	pages := []struct {
		name, path string
		want       []string // CSS selectors that must match
	}{
		{"federations", "/ui/federations", []string{`tr[data-federation="shop"] .b-ok`, `a[aria-current="page"][href="/ui/federations"]`}},
		{"federation", fed, []string{
			`svg[role="img"][aria-labelledby="graph-title graph-desc"] > title#graph-title`, `svg[role="img"] > desc#graph-desc`,
			`g.node[data-service="orders"] > title`, `g.node[data-service="catalog"][data-reality="blended"]`,
			`g.edge[data-from="payments"][data-to="orders"] > title`, `figcaption ul.legend li`,
			`tr[data-service="catalog"] a[href$="#diffs"]`, `tr[data-scenario="real-orders"] a.activate`}},
		{"service", fed + "/services/catalog", []string{`tr.diff`, `label[for="reality"]`, `select#reality`}},
		{"route", fed + "/route", []string{`label[for="r-path"]`, `input#r-path[required]`, `select#r-method`}},
		{"route-answer", fed + "/route?path=/catalog/1", []string{`#result[data-matched="true"] #r-service`, `#r-reality .badge`}},
		{"state", fed + "/state", []string{`tr[data-key="users/ana"] a`, `input#s-prefix`}},
		{"entry", fed + "/state/users/ana", []string{`pre#entry-value`}},
		{"confirm", fed + "/scenarios/outage/activate", []string{`input#confirm[type="checkbox"][required]`, `label[for="confirm"]`}},
	}
	// internal/browsertest's TestA11yCheck holds the check to failing.
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) { visit(t, p.path, p.name, p.want...) })
	}

	t.Run("route dry run through the form", func(t *testing.T) {
		visit(t, fed+"/route", "route-form")
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#r-path"), "/orders/7"),
			chromedp.Click(chromedp.CSS(`form[action="`+fed+`/route"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#result[data-matched="true"]`)))
		if err != nil {
			t.Fatalf("submit the route form: %v", err)
		}
		svc, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#r-service`)))
		if err != nil || svc != "orders" {
			t.Errorf("dry run service = %q (%v); want orders", svc, err)
		}
	})

	t.Run("activate a scenario and see the router switch", func(t *testing.T) {
		if got := f.servedBy(t, "/orders/1"); got != "orders-ws" {
			t.Fatalf("before: /orders/1 served by %q; want the orders-ws mock", got)
		}
		visit(t, fed, "federation-before")
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`tr[data-scenario="real-orders"] a.activate`)),
			chromedp.WaitVisible(chromedp.CSS(`input#confirm`)))
		if err != nil {
			t.Fatalf("open the confirmation: %v", err)
		}
		browsertest.CheckPage(t, ctx, "confirm real-orders", shots, "confirm-real-orders", `form[action="`+fed+`/scenarios/real-orders/activate"]`)
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`input#confirm`)),
			chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
		if err != nil {
			t.Fatalf("confirm the activation: %v", err)
		}
		if got := rt.ActiveScenario(); got != "real-orders" {
			t.Fatalf("active scenario = %q after the form; want real-orders", got)
		}
		if got := f.servedBy(t, "/orders/1"); got != "real" {
			t.Errorf("after: /orders/1 served by %q; want the real upstream", got)
		}
		browsertest.CheckPage(t, ctx, "federation (real-orders active)", shots, "federation-scenario",
			`#active code`, `g.node[data-service="orders"][data-reality="real"]`, `tr[data-scenario="real-orders"] a.deactivate`)
		if txt, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-service="orders"]`))); !strings.Contains(txt, "scenario real-orders") {
			t.Errorf("orders row = %q; want it served because of scenario real-orders", txt)
		}

		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`tr[data-scenario="real-orders"] a.deactivate`)),
			chromedp.WaitVisible(chromedp.CSS(`input#confirm`)),
			chromedp.Click(chromedp.CSS(`input#confirm`)),
			chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
		if err != nil {
			t.Fatalf("deactivate through the form: %v", err)
		}
		if got := rt.ActiveScenario(); got != "" {
			t.Errorf("active scenario = %q after deactivating; want none", got)
		}
		if got := f.servedBy(t, "/orders/1"); got != "orders-ws" {
			t.Errorf("after deactivating: /orders/1 served by %q; want the mock again", got)
		}
	})

	t.Run("switch a reality through the form", func(t *testing.T) {
		visit(t, fed+"/services/orders", "service-before")
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#reality"), "real"),
			chromedp.Click(chromedp.CSS(`form[action$="/reality"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
		if err != nil {
			t.Fatalf("switch: %v", err)
		}
		if got := f.servedBy(t, "/orders/1"); got != "real" {
			t.Errorf("after the switch: /orders/1 served by %q; want real", got)
		}
		browsertest.CheckPage(t, ctx, "service (switched)", shots, "service-switched", `#serving .b-ok`)
	})

	t.Run("narrow screen", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Do(ctx, chromedp.EmulateReset())
		for _, p := range []struct{ path, shot string }{
			{"/ui/federations", "narrow-federations"}, {fed, "narrow-federation"}, {fed + "/services/catalog", "narrow-service"}, {fed + "/route?path=/auth", "narrow-route"},
		} {
			visit(t, p.path, p.shot)
			over, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
			if err != nil {
				t.Fatal(err)
			}
			if over > 0 {
				t.Errorf("%s is %dpx wider than a 360px screen", p.path, over)
			}
		}
	})
}
