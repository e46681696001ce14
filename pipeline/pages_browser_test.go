package pipeline_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

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

// TestPagesBrowser drives the pages in headless Chromium with real data
// from a running engine on SQLite: each page has what it promises and no
// serious accessibility violation, the editor shows a broken definition's
// positioned problem, and the cancel button cancels a running execution.
// Screenshots go to $MOCKOPS_SCREENSHOTS (or a temporary directory).
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
	build := f.trigger("build", schemaEvent(t))
	follow := f.wait(f.lastExecutionWait(t, "follow").ID)

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

	// visit loads path, checks accessibility and that every selector in
	// want is on the page, and writes a screenshot named shot.
	visit := func(t *testing.T, path, shot string, want ...string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatalf("navigate %s: %v", path, err)
		}
		checkPage(t, ctx, path, shots, shot, want...)
	}

	pages := []struct {
		name, path string
		want       []string // CSS selectors that must match
	}{
		{"pipelines", "/ui/pipelines", []string{`tr[data-pipeline="build"] .b-ok`, `tr[data-pipeline="follow"]`, `a[aria-current="page"][href="/ui/pipelines"]`}},
		{"pipeline", "/ui/pipelines/build", []string{`ol.source li#L1`, `form[action="/ui/pipelines/build/run"] button`, `tr[data-execution="` + build.ID + `"]`}},
		{"editor", "/ui/pipelines/build/edit", []string{`textarea#source`, `label[for="source"]`}},
		{"test", "/ui/test", []string{`textarea#t-event`, `input#t-type`}},
		{"executions", "/ui/executions", []string{`tr[data-execution="` + build.ID + `"]`, `tr[data-execution="` + follow.ID + `"]`, `select#f-status`}},
		{"execution", "/ui/executions/" + build.ID, []string{`.level li[data-step="b"]`, `.level li[data-step="c"]`, `tr[data-execution="` + follow.ID + `"]`}},
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

	t.Run("test an event", func(t *testing.T) {
		visit(t, "/ui/test", "test-form")
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#t-type"), "schema.changed"),
			chromedp.SetValue(chromedp.CSS("#t-ws"), "payments"),
			chromedp.SetValue(chromedp.CSS("#t-data"), `{"schema_type":"openapi"}`),
			chromedp.Click(chromedp.CSS(`form[action="/ui/test"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`article[data-pipeline="build"][data-matched="true"]`)))
		if err != nil {
			t.Fatalf("submit the test form: %v", err)
		}
		checkPage(t, ctx, "/ui/test (posted)", shots, "test-decisions", `article[data-pipeline="follow"][data-matched="false"]`)
	})

	t.Run("editor shows the positioned problem", func(t *testing.T) {
		visit(t, "/ui/pipelines/build/edit", "editor-before")
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#source"), brokenBuild),
			chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`li#L7.bad`)))
		if err != nil {
			t.Fatalf("submit the editor: %v", err)
		}
		msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`li#L7.bad .msg`)))
		if err != nil {
			t.Fatalf("read line 7: %v", err)
		}
		if !strings.Contains(msg, "line 7: col") || !strings.Contains(msg, "nope") {
			t.Errorf("line 7's message = %q; want its column and the unknown step type", msg)
		}
		checkPage(t, ctx, "editor (broken)", shots, "editor-problems", `ul.problems a[href="#L7"]`, `li#L8.bad`)
		if rec, _ := f.eng.Get(context.Background(), "build"); strings.Contains(string(rec.Source), "nope") {
			t.Error("the broken definition was stored")
		}
	})

	t.Run("cancel a running execution", func(t *testing.T) {
		id, err := f.eng.Trigger(context.Background(), "slow", schemaEvent(t))
		if err != nil {
			t.Fatal(err)
		}
		f.blocked(t, id)
		visit(t, "/ui/executions/"+id, "execution-running", `#status .b-run`)
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
		if err != nil {
			t.Fatalf("click cancel: %v", err)
		}
		if x := f.wait(id); x.Status != store.StatusCancelled {
			t.Fatalf("status = %s after the click; want cancelled", x.Status)
		}
		visit(t, "/ui/executions/"+id, "execution-cancelled", `#status .b-warn`)
	})
}

// checkPage runs the accessibility checks and the selector checks on the
// page loaded in ctx, and writes its screenshot.
func checkPage(t *testing.T, ctx context.Context, what, dir, shot string, want ...string) {
	t.Helper()
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](a11yCheck))
	if err != nil {
		t.Fatalf("%s: accessibility check: %v", what, err)
	}
	for _, v := range violations {
		t.Errorf("%s: accessibility: %s", what, v)
	}
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
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
