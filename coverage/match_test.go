package coverage

import (
	"errors"
	"testing"
)

func TestMatch(t *testing.T) {
	s := loadTestdata(t, "features.yaml")
	tests := []struct {
		method, path string
		want         string // "METHOD template" of the matched operation
		err          error
	}{
		{"GET", "/v1/things", "GET /things", nil},
		{"GET", "/v2/things", "GET /things", nil}, // the server variable's other enum value
		{"POST", "/v1/things", "POST /things", nil},
		{"GET", "/v3/things", "", ErrPathNotFound},          // not an enum value
		{"GET", "/things", "", ErrPathNotFound},             // the base path is required
		{"GET", "/v1/things/mine", "GET /things/mine", nil}, // concrete beats templated
		{"DELETE", "/v1/things/mine", "", ErrMethodNotAllowed},
		{"GET", "/v1/things/7", "GET /things/{id}", nil},
		{"DELETE", "/v1/things/7", "DELETE /things/{id}", nil},
		{"PUT", "/v1/things/7", "", ErrMethodNotAllowed},
		{"get", "/v1/things/7", "", ErrMethodNotAllowed},                         // methods compare exactly
		{"GET", "/v1/things/mine/parts/3", "GET /things/{id}/parts/{part}", nil}, // backtracks from the literal
		{"GET", "/v1/things//parts/3", "", ErrPathNotFound},                      // a parameter is never empty
		{"GET", "/v1/things/7/", "", ErrPathNotFound},
		{"GET", "/v1/files/report.tar.gz", "GET /files/{name}.{ext}", nil},
		{"GET", "/v1/files/report.", "", ErrPathNotFound},
		{"GET", "/v1/files/.gz", "", ErrPathNotFound},
		{"GET", "/health", "GET /health", nil}, // the path's own server, at the root
		{"GET", "/v1/health", "", ErrPathNotFound},
		{"GET", "/v1/", "GET /", nil},
		{"GET", "/v1", "", ErrPathNotFound},
		{"GET", "", "", ErrPathNotFound},
		{"GET", "v1/things", "", ErrPathNotFound},
		{"GET", "/v1/th%69ngs", "", ErrPathNotFound}, // escaped paths compare as sent
	}
	for _, tt := range tests {
		id, err := s.Match(tt.method, tt.path)
		got := ""
		if op, ok := s.Operation(id); ok {
			got = op.Method + " " + op.Path
		}
		if got != tt.want || !errors.Is(err, tt.err) || (err != nil) != (id == NoOp) {
			t.Errorf("Match(%q, %q) = %d %q, %v; want %q, %v", tt.method, tt.path, id, got, err, tt.want, tt.err)
		}
	}
}

func TestMatchTemplate(t *testing.T) {
	s := loadTestdata(t, "features.yaml")
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{"/v1/things/7", "/things/{id}", true},
		{"/v1/things/mine", "/things/mine", true},
		{"/v1/nothing", "", false},
	}
	for _, tt := range tests {
		got, ok := s.MatchTemplate(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MatchTemplate(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	s := loadTestdata(t, "twilio-api-v2010.json")
	tests := []struct {
		path string
		err  error
	}{
		{"/2010-04-01/Accounts/AC123/Calls/CA456.json", nil},
		{"/2010-04-01/Accounts/AC123/Calls/CA456/Notifications/NO1.json", nil},
		{"/2010-04-01/Accounts/AC123/Nowhere.json", ErrPathNotFound},
	}
	for _, tt := range tests {
		if _, err := s.Match("GET", tt.path); !errors.Is(err, tt.err) {
			t.Fatalf("Match(GET, %q) = %v; want %v", tt.path, err, tt.err)
		}
		if n := testing.AllocsPerRun(100, func() { s.Match("GET", tt.path) }); n != 0 {
			t.Errorf("Match(GET, %q) allocates %v times; want 0", tt.path, n)
		}
	}
}

func TestMatchParts(t *testing.T) {
	tests := []struct {
		tmpl, seg string
		want      bool
	}{
		{"{a}", "x", true},
		{"{a}", "", false},
		{"{a}.json", "x.json", true},
		{"{a}.json", ".json", false},
		{"{a}.json", "x.json.json", true},
		{"{a}.json", "xjson", false},
		{"v{a}", "v1", true},
		{"v{a}", "v", false},
		{"{a}.{b}", "a.b", true},
		{"{a}.{b}", "a.b.c", true},
		{"{a}.{b}", "a.", false},
		{"{a}.{b}", ".b", false},
		{"{a}{b}", "x", false},
		{"{a}{b}", "xy", true},
		{"a{b}a", "a", false},
		{"a{b}a", "aa", false},
		{"a{b}a", "axa", true},
		{"{a}-{b}-{c}", "1-2-3", true},
		{"{a}-{b}-{c}", "1--3", false},
		{"{a}-{b}-{c}", "1---3", true},
		{"{a}-{b}-{c}", "1-2", false},
		{"x{a}y{b}z", "xAyBz", true},
		{"x{a}y{b}z", "xyyBz", true},
		{"x{a}y{b}z", "xAyz", false},
	}
	for _, tt := range tests {
		s, err := parseSegment(tt.tmpl)
		if err != nil {
			t.Fatalf("parseSegment(%q) = %v", tt.tmpl, err)
		}
		if got := matchParts(s.parts, tt.seg); got != tt.want {
			t.Errorf("matchParts(%q, %q) = %v; want %v", tt.tmpl, tt.seg, got, tt.want)
		}
	}
}
