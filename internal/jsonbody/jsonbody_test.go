package jsonbody

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type target struct {
	Path   string `json:"path"`
	Method string `json:"method"`
	N      int    `json:"n"`
	Tags   []string
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		line, col int    // 0 for success or ErrEmpty
		msg       string // substring of Msg
		empty     bool
	}{
		{"valid", `{"path": "/"}`, 0, 0, "", false},
		{"valid with space after", "{\"n\": 1}\n  \n", 0, 0, "", false},
		{"empty", "", 0, 0, "", true},
		{"only space", " \n\t", 0, 0, "", true},
		{"syntax", "{\n  \"path\": }", 2, 11, "invalid character '}'", false},
		{"trailing data", `{"path": "/"} x`, 1, 15, "unexpected data after the JSON value", false},
		{"second value", "{}\n{}", 2, 1, "unexpected data after the JSON value", false},
		{"truncated", `{"path": "/`, 1, 12, "unexpected end of JSON input", false},
		{"wrong type", "\n\n{\"method\": 3}", 3, 12, `member "method" must be a string`, false},
		{"wrong type array", `{"Tags": "x"}`, 1, 12, `member "Tags" must be an array`, false},
		{"unknown member", `{"path": "/", "bogus": 1}`, 1, 15, `unknown field "bogus"`, false},
		{"columns count characters", `{"path": "é", }`, 1, 15, "invalid character '}'", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v target
			err := Decode([]byte(tt.body), &v)
			if tt.empty {
				if !errors.Is(err, ErrEmpty) {
					t.Fatalf("Decode(%q) = %v; want ErrEmpty", tt.body, err)
				}
				return
			}
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("Decode(%q) = %v; want nil", tt.body, err)
				}
				return
			}
			se, ok := errors.AsType[*SyntaxError](err)
			if !ok {
				t.Fatalf("Decode(%q) = %v; want a *SyntaxError", tt.body, err)
			}
			if se.Line != tt.line || se.Column != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Decode(%q) = %d:%d %q; want %d:%d %q", tt.body, se.Line, se.Column, se.Msg, tt.line, tt.col, tt.msg)
			}
			if !strings.HasPrefix(se.Error(), "jsonbody: ") {
				t.Errorf("Error() = %q; want the package prefix", se.Error())
			}
		})
	}
}

func TestLineCol(t *testing.T) {
	tests := []struct {
		body      string
		off       int64
		line, col int
	}{
		{"abc", 0, 1, 1},
		{"abc", 3, 1, 4},
		{"a\nbc", 3, 2, 2},
		{"é\nxé", 5, 2, 3},
		{"abc", 4, 0, 0},
		{"abc", -1, 0, 0},
	}
	for _, tt := range tests {
		if l, c := LineCol([]byte(tt.body), tt.off); l != tt.line || c != tt.col {
			t.Errorf("LineCol(%q, %d) = %d, %d; want %d, %d", tt.body, tt.off, l, c, tt.line, tt.col)
		}
	}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		contentLength int64 // -1 for unknown
		want          int   // 0 for success
	}{
		{"within the limit", "12345", 5, 0},
		{"declared over the limit", "123456789", 9, http.StatusRequestEntityTooLarge},
		{"streamed over the limit", "123456789", -1, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.ContentLength = tt.contentLength
			w := httptest.NewRecorder()
			body, ok := Read(w, r, 8)
			if tt.want == 0 {
				if !ok || string(body) != tt.body {
					t.Fatalf("Read = %q, %v; want %q, true", body, ok, tt.body)
				}
				return
			}
			if ok || w.Code != tt.want || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("Read: ok %v, answered %d %s; want %d problem+json", ok, w.Code, w.Header().Get("Content-Type"), tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"path": "/"}`, "{\n\"path\": }", `{"path": "/"} x`, `[`, "", `{"bogus": 1}`, "\n\n{\"method\": 3}", `{"path": "é`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v target
		err := Decode([]byte(body), &v)
		if err == nil || errors.Is(err, ErrEmpty) {
			return
		}
		se, ok := errors.AsType[*SyntaxError](err)
		if !ok {
			t.Fatalf("Decode(%q) = %v; want ErrEmpty or a *SyntaxError", body, err)
		}
		lines := strings.Count(body, "\n") + 1
		if se.Line < 1 || se.Line > lines || se.Column < 1 || se.Offset < 0 || se.Offset > int64(len(body)) {
			t.Fatalf("Decode(%q): problem at %d:%d (offset %d) outside the body", body, se.Line, se.Column, se.Offset)
		}
	})
}
