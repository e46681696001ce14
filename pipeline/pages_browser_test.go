package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mockops/mockops/internal/browsertest"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// TestPagesBrowser drives the pages in headless Chromium with real data
// from a running engine on SQLite: each page has what it promises and no
// serious accessibility violation, the editor shows a broken definition's
// positioned problem, and the cancel button cancels a running execution.
// Screenshots go to $MOCKOPS_SCREENSHOTS (or a temporary directory).
func TestPagesBrowser(t *testing.T) {
	chromium := browsertest.NeedChromium(t)
	shots := browsertest.Shots(t)
	f := newPagesFixture(t, access.AllowAll) // one local user, as a developer's machine
	build := f.trigger("build", schemaEvent(t))
	follow := f.wait(f.lastExecutionWait(t, "follow").ID)

	ctx := browsertest.Start(t, chromium)

	// visit loads path, checks accessibility and that every selector in
	// want is on the page, and writes a screenshot named shot.
	visit := func(t *testing.T, path, shot string, want ...string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatalf("navigate %s: %v", path, err)
		}
		browsertest.CheckPage(t, ctx, path, shots, shot, want...)
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
	// internal/browsertest's TestA11yCheck holds the check to failing.
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
		browsertest.CheckPage(t, ctx, "/ui/test (posted)", shots, "test-decisions", `article[data-pipeline="follow"][data-matched="false"]`)
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
		browsertest.CheckPage(t, ctx, "editor (broken)", shots, "editor-problems", `ul.problems a[href="#L7"]`, `li#L8.bad`)
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

	t.Run("narrow screen", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Do(ctx, chromedp.EmulateReset())
		for _, p := range []struct{ path, shot string }{
			{"/ui/pipelines", "narrow-pipelines"}, {"/ui/executions", "narrow-executions"}, {"/ui/executions/" + build.ID, "narrow-execution"},
		} {
			visit(t, p.path, p.shot)
			// Wide tables and code scroll inside their own boxes; the page
			// itself never scrolls sideways.
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
