package ui_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing/fstest"
	"time"

	"github.com/mockops/mockops/internal/ui"
)

// A package's pages: templates that define "content", rendered inside the
// shared layout with the shared helpers.
func ExampleNew() {
	pages := fstest.MapFS{
		"pages/runs.html": {Data: []byte(`{{define "content"}}<h1>Runs</h1><p>{{badge .Status}} in {{duration .Took}}</p>{{end}}`)},
	}
	r, err := ui.New(ui.Config{Nav: []ui.NavItem{{Label: "Runs", Path: "/ui/runs"}}}, pages, "pages/*.html")
	if err != nil {
		fmt.Println(err)
		return
	}
	w := httptest.NewRecorder()
	r.Render(w, httptest.NewRequest("GET", "/ui/runs", nil), 200, "runs", ui.Page{Title: "Runs", Current: "/ui/runs"},
		map[string]any{"Status": "succeeded", "Took": 1500 * time.Millisecond})
	body := w.Body.String()
	fmt.Println(w.Code, strings.Contains(body, `aria-current="page"`))
	content := body[strings.Index(body, "<h1>"):]
	fmt.Println(content[:strings.Index(content, "</p>")+4])
	// Output:
	// 200 true
	// <h1>Runs</h1><p><span class="badge b-ok"><span aria-hidden="true">✓</span> succeeded</span> in 1.5s</p>
}
