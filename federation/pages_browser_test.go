package federation

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mockops/mockops/store/access"
)

// The accessibility checks are the pipeline pages' (pipeline/pages_browser_test.go),
// so every page of the admin UI is held to the same bar.
// a11yCheck is injected into each page: equivalent checks of what axe-core
// reports as serious (labels, headings, landmarks, names, contrast). It
// returns the violations as strings; an empty list passes.
const a11yCheck = `(() => {
  const out = [];
  const visible = el => { const s = getComputedStyle(el); const r = el.getBoundingClientRect();
    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0; };
  const name = el => (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title') || '').trim();
  const desc = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).split(' ')[0] : '');
  if (!document.documentElement.lang) out.push('html has no lang');
  if (!document.title.trim()) out.push('page has no title');
  // Landmarks.
  if (document.querySelectorAll('main').length !== 1) out.push('want exactly one main landmark');
  if (!document.querySelector('header')) out.push('no header (banner) landmark');
  if (!document.querySelector('nav')) out.push('no nav landmark');
  const skip = document.querySelector('a[href="#main"]');
  if (!skip || skip !== document.querySelector('a')) out.push('the first link is not a skip link to main');
  // The test pressed Tab once on the fresh page: the keyboard reaches the
  // skip link first, shows it, and outlines it.
  else if (document.activeElement !== skip) out.push('the first Tab does not reach the skip link');
  else {
    const r = skip.getBoundingClientRect();
    if (r.left < 0 || r.top < 0 || r.right > innerWidth) out.push('the focused skip link is off screen');
    if (getComputedStyle(skip).outlineStyle === 'none') out.push('no visible focus outline on the skip link');
  }
  // Labels of form fields.
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const labelled = (el.labels && el.labels.length > 0 && [...el.labels].some(l => l.textContent.trim())) ||
      el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) out.push('form field without a label: ' + desc(el));
  }
  // Buttons and links have a name.
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!name(el)) out.push('no accessible name: ' + desc(el));
  }
  // Headings: one h1, first, and no level skipped going down.
  const hs = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')];
  if (hs.length === 0 || hs[0].tagName !== 'H1') out.push('the first heading is not h1');
  if (document.querySelectorAll('h1').length !== 1) out.push('want exactly one h1');
  for (let i = 1; i < hs.length; i++) {
    const prev = +hs[i-1].tagName[1], cur = +hs[i].tagName[1];
    if (cur > prev + 1) out.push('heading level skipped: ' + hs[i-1].tagName + ' then ' + hs[i].tagName + ' "' + hs[i].textContent.trim().slice(0, 40) + '"');
  }
  // Images and graphics have a text alternative.
  for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) out.push('img without alt');
  for (const el of document.querySelectorAll('svg')) {
    if (el.getAttribute('aria-hidden') === 'true') continue;
    if (!el.querySelector('title') && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push('svg without a title');
  }
  // Contrast of every visible text against its effective background.
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const blend = (top, under) => { const a = top[3]; return [0,1,2].map(i => top[i]*a + under[i]*(1-a)).concat([1]); };
  const background = el => { const stack = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) { stack.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255, 1]; for (let i = stack.length - 1; i >= 0; i--) bg = blend(stack[i], bg); return bg; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
    seen.add(el);
    if (el.closest('[aria-hidden="true"]')) continue;
    const s = getComputedStyle(el);
    const bg = background(el), fg = blend(parse(s.color), bg);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(s.fontSize), bold = +s.fontWeight >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) out.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + desc(el) + ' "' + n.textContent.trim().slice(0, 30) + '"');
  }
  return out;
})()`

// findChromium returns the path of a Chromium (or Chrome) binary, "" if none.
func findChromium() string {
	if p := os.Getenv("MOCKOPS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestPagesBrowser drives the federation pages in headless Chromium with
// a real Registry on SQLite: each page has what it promises and no
// serious accessibility violation; activating a scenario through its
// confirmation form switches the router (a request through it is then
// served per the scenario), and deactivating it switches it back; the
// route dry run answers through its form. Screenshots go to
// $MOCKOPS_SCREENSHOTS (or a temporary directory).
func TestPagesBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("no Chromium found (chromium, chromium-browser, google-chrome; or set MOCKOPS_CHROMIUM): browser test skipped")
	}
	shots := os.Getenv("MOCKOPS_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newPagesFixture(t, access.AllowAll) // one local user, as a developer's machine
	rt := f.router(t)
	f.servedBy(t, "/catalog/items") // a drifting comparison for catalog's page
	if _, err := rt.State().Put(t.Context(), "users/ana", json.RawMessage(`{"name":"Ana","orders":[1,2]}`)); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first call starts the browser, for as long as bctx lives: no
	// timeout on it, only on what follows.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	visit := func(t *testing.T, path, shot string, want ...string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatalf("navigate %s: %v", path, err)
		}
		checkPage(t, ctx, path, shots, shot, want...)
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
	// The check must be able to fail: a page with each kind of violation.
	t.Run("the accessibility check finds violations", func(t *testing.T) {
		bad := `<!doctype html><html><head><title>bad</title></head><body><h2>no h1</h2><h4>skip</h4>` +
			`<input id="x"><p style="color:#999;background:#fff">faint</p><svg width="10" height="10"></svg><button></button></body></html>`
		if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,"+url.PathEscape(bad))); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](a11yCheck))
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(got, "\n")
		for _, want := range []string{"html has no lang", "main landmark", "without a label: input#x", "first heading is not h1",
			"heading level skipped", "svg without a title", "no accessible name: button", "contrast 2.85 < 4.5"} {
			if !strings.Contains(all, want) {
				t.Errorf("violations lack %q:\n%s", want, all)
			}
		}
	})
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
		checkPage(t, ctx, "confirm real-orders", shots, "confirm-real-orders", `form[action="`+fed+`/scenarios/real-orders/activate"]`)
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
		checkPage(t, ctx, "federation (real-orders active)", shots, "federation-scenario",
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
		checkPage(t, ctx, "service (switched)", shots, "service-switched", `#serving .b-ok`)
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

// checkPage runs the selector checks on the page loaded in ctx, writes its
// screenshot, then runs the accessibility checks.
func checkPage(t *testing.T, ctx context.Context, what, dir, shot string, want ...string) {
	t.Helper()
	for _, sel := range want {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
		if err != nil {
			t.Fatalf("%s: query %s: %v", what, sel, err)
		}
		if n == 0 {
			t.Errorf("%s: nothing matches %s", what, sel)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot: %v", what, err)
	}
	path := filepath.Join(dir, shot+".png") // quality 100 is PNG
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: screenshot %s", what, path)
	// Then the keyboard (after the screenshot, which should not show the
	// focused skip link): one Tab from the top of the page.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent("\t")); err != nil {
		t.Fatalf("%s: press Tab: %v", what, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](a11yCheck))
	if err != nil {
		t.Fatalf("%s: accessibility check: %v", what, err)
	}
	for _, v := range violations {
		t.Errorf("%s: accessibility: %s", what, v)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
