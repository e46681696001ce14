// Package browsertest drives the admin pages of MockOps in a real
// headless Chromium (through chromedp) for the browser tests of pipeline,
// federation and coverage, so that every page of the UI is held to the
// same bar: finding the browser (a test skips, saying why, when there is
// none), starting it for the life of a test, checking a loaded page's
// selectors and accessibility, and writing its screenshots.
//
// It imports testing and is imported only by tests.
//
// Chromium is found as $MOCKOPS_CHROMIUM, else chromium, chromium-browser,
// google-chrome or google-chrome-stable on PATH. Screenshots go to
// $MOCKOPS_SCREENSHOTS, else to the test's temporary directory.
package browsertest
