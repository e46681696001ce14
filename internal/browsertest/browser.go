package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds what a test does with the browser once it has started.
const Timeout = 2 * time.Minute

// Chromium returns the path of a Chromium (or Chrome) binary, "" if none.
func Chromium() string {
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

// NeedChromium returns the Chromium binary, or skips t with a message
// saying how to provide one. Call it first, before building fixtures.
func NeedChromium(t testing.TB) string {
	t.Helper()
	chromium := Chromium()
	if chromium == "" {
		t.Skip("no Chromium found (chromium, chromium-browser, google-chrome; or set MOCKOPS_CHROMIUM): browser test skipped")
	}
	return chromium
}

// Shots returns the directory screenshots go to: $MOCKOPS_SCREENSHOTS
// (created if need be), else a temporary directory of t.
func Shots(t testing.TB) string {
	t.Helper()
	shots := os.Getenv("MOCKOPS_SCREENSHOTS")
	if shots == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return shots
}

// Start starts the headless browser at chromium (a 1280x900 window) and
// returns a tab's context bounded by Timeout. The browser lives until t's
// cleanup, which stops it and waits for its process; start it after the
// fixtures it visits, so that it stops before they do.
func Start(t testing.TB, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// The first call starts the browser, for as long as bctx lives: no
	// timeout on it, only on what follows.
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(bctx, Timeout)
	t.Cleanup(func() {
		cancel()
		cancelBrowser()
		cancelAlloc() // waits for the browser process to end
	})
	return ctx
}

// Screenshot writes a full-page PNG of the page loaded in ctx to
// dir/name.png and returns its path.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// CheckPage runs the selector checks on the page loaded in ctx (each of
// want must match something), writes its screenshot dir/shot.png, then
// presses Tab once and runs A11yCheck, reporting each violation. what
// names the page in failures.
func CheckPage(t testing.TB, ctx context.Context, what, dir, shot string, want ...string) {
	t.Helper()
	for _, sel := range want {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+JSString(sel)+`).length`))
		if err != nil {
			t.Fatalf("%s: query %s: %v", what, sel, err)
		}
		if n == 0 {
			t.Errorf("%s: nothing matches %s", what, sel)
		}
	}
	t.Logf("%s: screenshot %s", what, Screenshot(t, ctx, dir, shot))
	// Then the keyboard (after the screenshot, which should not show the
	// focused skip link): one Tab from the top of the page.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent("\t")); err != nil {
		t.Fatalf("%s: press Tab: %v", what, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](A11yCheck))
	if err != nil {
		t.Fatalf("%s: accessibility check: %v", what, err)
	}
	for _, v := range violations {
		t.Errorf("%s: accessibility: %s", what, v)
	}
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
