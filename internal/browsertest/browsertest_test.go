package browsertest

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestJSString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a`, `'a'`},
		{`tr[data-x="y"]`, `'tr[data-x="y"]'`},
		{`it's`, `'it\'s'`},
		{`a\b`, `'a\\b'`},
		{"a\nb", `'a\nb'`},
	}
	for _, tt := range tests {
		if got := JSString(tt.in); got != tt.want {
			t.Errorf("JSString(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// TestA11yCheck holds the accessibility check to failing: a page with
// each kind of violation is reported for each, and a page that keeps
// every rule passes (so the pages' clean reports mean something).
func TestA11yCheck(t *testing.T) {
	ctx := Start(t, NeedChromium(t))
	tests := []struct {
		name string
		page string
		want []string // substrings of the violations; nil for none
	}{
		{"every kind of violation",
			`<!doctype html><html><head><title>bad</title></head><body><h2>no h1</h2><h4>skip</h4>` +
				`<input id="x"><p style="color:#999;background:#fff">faint</p><svg width="10" height="10"></svg><button></button></body></html>`,
			[]string{"html has no lang", "main landmark", "without a label: input#x", "first heading is not h1",
				"heading level skipped", "svg without a title", "no accessible name: button", "contrast 2.85 < 4.5"}},
		{"clean",
			`<!doctype html><html lang="en"><head><title>ok</title></head><body><a href="#main">Skip to content</a>` +
				`<header><nav><a href="/x">X</a></nav></header><main id="main"><h1>Title</h1><h2>Part</h2>` +
				`<label for="f">Field</label><input id="f"><button>Go</button></main></body></html>`,
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,"+url.PathEscape(tt.page)),
				chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent("\t"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](A11yCheck))
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(got, "\n")
			if tt.want == nil && len(got) > 0 {
				t.Errorf("violations on a clean page:\n%s", all)
			}
			for _, want := range tt.want {
				if !strings.Contains(all, want) {
					t.Errorf("violations lack %q:\n%s", want, all)
				}
			}
		})
	}
}
