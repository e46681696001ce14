package federation

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func jsonAnswer(status int, body string) Answer {
	return Answer{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCompare(t *testing.T) {
	user := `{"id":7,"name":"Ada","email":"ada@example.com","tags":["a","b"],"created_at":"2026-01-02T03:04:05Z"}`
	gz := jsonAnswer(200, "")
	gz.Header.Set("Content-Encoding", "gzip")
	gz.Body = gzipped(t, `{"id":7,"name":"Bob"}`)
	tests := []struct {
		name       string
		mock, real Answer
		cfg        CompareConfig
		want       []Difference
		skipped    bool
	}{
		{name: "equal", mock: jsonAnswer(200, user), real: jsonAnswer(200, user)},
		{name: "one field differs", mock: jsonAnswer(200, strings.Replace(user, "Ada", "Eve", 1)), real: jsonAnswer(200, user),
			want: []Difference{{Path: "$.name", Kind: DiffValue, Mock: `"Eve"`, Real: `"Ada"`}}},
		{name: "noise fields differ", mock: jsonAnswer(200, `{"id":1,"request_id":"a","updatedAt":"x","ts":"2026-01-01T00:00:00Z"}`),
			real: jsonAnswer(200, `{"id":1,"request_id":"b","updatedAt":"y","ts":"2025-12-31T10:00:00.5+01:00"}`)},
		{name: "noise kept when asked", cfg: CompareConfig{KeepDefaultNoise: true},
			mock: jsonAnswer(200, `{"request_id":"a"}`), real: jsonAnswer(200, `{"request_id":"b"}`),
			want: []Difference{{Path: "$.request_id", Kind: DiffValue, Mock: `"a"`, Real: `"b"`}}},
		{name: "ignored path", cfg: CompareConfig{IgnorePaths: []string{"$.items[*].price", `$["odd key"]`}},
			mock: jsonAnswer(200, `{"items":[{"sku":"x","price":1}],"odd key":1}`),
			real: jsonAnswer(200, `{"items":[{"sku":"x","price":2}],"odd key":2}`)},
		{name: "missing and extra members", mock: jsonAnswer(200, `{"a":1,"extra":true}`), real: jsonAnswer(200, `{"a":1,"b":{"c":1}}`),
			want: []Difference{{Path: "$.b", Kind: DiffMissing, Real: "{...}"}, {Path: "$.extra", Kind: DiffExtra, Mock: "true"}}},
		{name: "type differs", mock: jsonAnswer(200, `{"a":"1"}`), real: jsonAnswer(200, `{"a":1}`),
			want: []Difference{{Path: "$.a", Kind: DiffType, Mock: "string", Real: "number"}}},
		{name: "numbers compared as values", mock: jsonAnswer(200, `{"a":1.0}`), real: jsonAnswer(200, `{"a":1}`)},
		{name: "arrays by shape", mock: jsonAnswer(200, `[{"id":1},{"id":2}]`), real: jsonAnswer(200, `[{"id":9}]`)},
		{name: "arrays by shape see a missing member", mock: jsonAnswer(200, `[{"id":1}]`), real: jsonAnswer(200, `[{"id":9,"sku":"x"}]`),
			want: []Difference{{Path: "$[0].sku", Kind: DiffMissing, Real: `"x"`}}},
		{name: "arrays by value", cfg: CompareConfig{ArrayValues: true}, mock: jsonAnswer(200, `[1,2]`), real: jsonAnswer(200, `[1,3,4]`),
			want: []Difference{{Path: "$", Kind: DiffLength, Mock: "2", Real: "3"}, {Path: "$[1]", Kind: DiffValue, Mock: "2", Real: "3"}}},
		{name: "status and content type", mock: Answer{Status: 404, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("no")},
			real: jsonAnswer(200, `{}`),
			want: []Difference{{Path: "status", Kind: DiffStatus, Mock: "404", Real: "200"},
				{Path: "header:Content-Type", Kind: DiffHeader, Mock: "text/plain", Real: "application/json"},
				{Path: "$", Kind: DiffBody, Mock: `"no"`, Real: `"{}"`}}},
		{name: "content type parameters ignored, selected header compared", cfg: CompareConfig{Headers: []string{"cache-control"}},
			mock: Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Date": {"x"}, "Cache-Control": {"no-store"}}},
			real: Answer{Status: 200, Header: http.Header{"Content-Type": {"application/json"}, "Date": {"y"}}},
			want: []Difference{{Path: "header:Cache-Control", Kind: DiffHeader, Mock: "no-store"}}},
		{name: "ignored header", cfg: CompareConfig{IgnoreHeaders: []string{"Location"}},
			mock: Answer{Status: 201, Header: http.Header{"Location": {"/a"}}}, real: Answer{Status: 201, Header: http.Header{"Location": {"/b"}}}},
		{name: "secrets compared, never shown", cfg: CompareConfig{Headers: []string{"Set-Cookie"}},
			mock: Answer{Status: 200, Header: http.Header{"Set-Cookie": {"s=mock-secret"}, "Content-Type": {"application/json"}}, Body: []byte(`{"user":{"access_token":"tok-mock","password":"p1"},"credentials":{"key":"k1"}}`)},
			real: Answer{Status: 200, Header: http.Header{"Set-Cookie": {"s=real-secret"}, "Content-Type": {"application/json"}}, Body: []byte(`{"user":{"access_token":"tok-real","password":"p2"},"credentials":{"key":"k2","extra":"e"}}`)},
			want: []Difference{{Path: "header:Set-Cookie", Kind: DiffHeader, Mock: redacted, Real: redacted},
				{Path: "$.credentials.extra", Kind: DiffMissing, Real: redacted},
				{Path: "$.credentials.key", Kind: DiffValue, Mock: redacted, Real: redacted},
				{Path: "$.user.access_token", Kind: DiffValue, Mock: redacted, Real: redacted},
				{Path: "$.user.password", Kind: DiffValue, Mock: redacted, Real: redacted}}},
		{name: "gzip decoded first", mock: jsonAnswer(200, `{"id":7,"name":"Ada"}`), real: gz,
			want: []Difference{{Path: "$.name", Kind: DiffValue, Mock: `"Ada"`, Real: `"Bob"`}}},
		{name: "non-JSON equal", mock: Answer{Status: 200, Body: []byte("<p>hi</p>")}, real: Answer{Status: 200, Body: []byte("<p>hi</p>")}},
		{name: "body over the limit", cfg: CompareConfig{MaxBodyBytes: 8}, mock: jsonAnswer(200, `{"a":"0123456789"}`), real: jsonAnswer(200, `{"a":"x"}`),
			skipped: true},
		{name: "status still compared over the limit", cfg: CompareConfig{MaxBodyBytes: 8}, mock: jsonAnswer(500, `{"a":"0123456789"}`), real: jsonAnswer(200, `{}`),
			want: []Difference{{Path: "status", Kind: DiffStatus, Mock: "500", Real: "200"}}, skipped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(tt.mock, tt.real, tt.cfg)
			if err != nil {
				t.Fatalf("Compare = %v; want no error", err)
			}
			if diff := cmp.Diff(tt.want, got.Differences); diff != "" {
				t.Errorf("Compare differences mismatch (-want +got):\n%s", diff)
			}
			if (got.Skipped != "") != tt.skipped {
				t.Errorf("Compare Skipped = %q; want skipped %v", got.Skipped, tt.skipped)
			}
			if got.Drifted() != (len(tt.want) > 0) {
				t.Errorf("Drifted() = %v; want %v", got.Drifted(), len(tt.want) > 0)
			}
		})
	}
}

// TestCompareDeterministic compares answers with many members many times:
// map iteration order must not show.
func TestCompareDeterministic(t *testing.T) {
	mock := jsonAnswer(200, `{"z":1,"y":2,"x":3,"w":{"b":1,"a":2},"v":[1],"u":"s"}`)
	real := jsonAnswer(200, `{"z":2,"y":3,"x":4,"w":{"b":2,"a":3},"v":[1,2],"t":0}`)
	first, _ := Compare(mock, real, CompareConfig{})
	for range 50 {
		got, _ := Compare(mock, real, CompareConfig{})
		if diff := cmp.Diff(first, got); diff != "" {
			t.Fatalf("Compare differs between runs (-first +got):\n%s", diff)
		}
	}
	if got, want := len(first.Differences), 7; got != want { // "v" differs by length only: arrays by shape
		t.Errorf("len(Differences) = %d; want %d: %+v", got, want, first.Differences)
	}
}

func TestCompareMaxDifferences(t *testing.T) {
	got, _ := Compare(jsonAnswer(200, `{"a":1,"b":1,"c":1}`), jsonAnswer(200, `{"a":2,"b":2,"c":2}`), CompareConfig{MaxDifferences: 2})
	if len(got.Differences) != 2 || !got.Truncated {
		t.Errorf("Compare = %d differences, truncated %v; want 2, true", len(got.Differences), got.Truncated)
	}
}

func TestCompareBadPath(t *testing.T) {
	for _, p := range []string{"a.b", "$.", "$[x]", "$[1", "$a"} {
		if _, err := Compare(Answer{}, Answer{}, CompareConfig{IgnorePaths: []string{p}}); err == nil {
			t.Errorf("Compare(IgnorePaths %q) = nil error; want one", p)
		}
	}
}

func TestCompareSkipReason(t *testing.T) {
	got, _ := Compare(jsonAnswer(200, strings.Repeat(" ", 20)+"{}"), jsonAnswer(200, "{}"), CompareConfig{MaxBodyBytes: 8})
	if !strings.Contains(got.Skipped, errBodyTooLarge.Error()) {
		t.Errorf("Skipped = %q; want it to say %q", got.Skipped, errBodyTooLarge)
	}
	_, err := decodedBody(Answer{Header: http.Header{"Content-Encoding": {"br"}}}, 8)
	if err == nil || errors.Is(err, errBodyTooLarge) {
		t.Errorf("decodedBody(br) = %v; want an unsupported encoding error", err)
	}
}
