package pipeline

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzPagesInput feeds what a person types into the pages' parsers: the
// editor's source (annotated with the parser's diagnostics), the event
// form and the list's filters. None may panic, and every diagnostic with a
// line must land on a line of the source.
func FuzzPagesInput(f *testing.F) {
	f.Add("name: x\non: [{event: a.b}]\nsteps: []\n", `{"specversion":"1.0","id":"1","source":"s","type":"a.b"}`, "2026-01-02T15:04", `{"k":1}`)
	f.Add("name: [\n\t\x00", "{", "yesterday", "[1]")
	f.Add("\r\n\r\nsteps:\n  - {id: a, uses: nope}\n", "", "", "")
	e, err := NewEngine(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src, event, when, data string) {
		_, verr := e.check("f.yaml", []byte(src))
		lines, problems := annotate([]byte(src), verr)
		marked := 0
		for _, l := range lines {
			marked += len(l.Problems)
		}
		for _, p := range problems {
			if p.Line > len(lines) {
				t.Errorf("problem at line %d of %d lines", p.Line, len(lines))
			}
		}
		if marked > len(problems) {
			t.Errorf("%d marks for %d problems", marked, len(problems))
		}
		r := httptest.NewRequest("POST", "/", nil)
		r.PostForm = url.Values{"event": {event}, "type": {when}, "workspace": {when}, "data": {data}}
		formEvent(r, "x.y")
		readFilter(url.Values{"from": {when}, "to": {when}, "status": {data}, "limit": {strings.TrimSpace(data)}})
	})
}
