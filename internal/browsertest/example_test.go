package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mockops/mockops/internal/browsertest"
)

// A browser test finds Chromium first (skipping with a message when there
// is none), builds its fixtures, then starts the browser and checks each
// page it loads.
func Example() {
	var t *testing.T // a browser test's t
	chromium := browsertest.NeedChromium(t)
	srv := httptest.NewServer(http.NotFoundHandler()) // the pages under test
	defer srv.Close()
	ctx := browsertest.Start(t, chromium)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ui"), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatal(err)
	}
	browsertest.CheckPage(t, ctx, "/ui", browsertest.Shots(t), "ui", `main h1`)
}
