package federation

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mergeRouter(t *testing.T, obs Observer) (*httptest.Server, *Router) {
	up, dead := blendUpstream(t).URL, deadAddr(t)
	var calls atomic.Int64
	f := mustParse(t, fmt.Sprintf(`name: merge
services:
  - {name: m, base_path: /m, strip_prefix: true, reality: blended, upstream: %[1]q, timeout: 200ms,
     blend: {strategy: merge, max_body: 200, ignore: [X-Request-Id]}}
  - {name: mm, base_path: /mm, strip_prefix: true, reality: blended, upstream: %[1]q, blend: {strategy: merge, prefer: mock}}
  - {name: mdown, base_path: /mdown, strip_prefix: true, reality: blended, upstream: %[2]q, blend: {strategy: merge}}
  - {name: none, base_path: /none, strip_prefix: true, workspace: nows, reality: blended, upstream: %[2]q, blend: {strategy: merge}}
  - {name: mpost, base_path: /mpost, strip_prefix: true, reality: blended, upstream: %[1]q, blend: {strategy: merge, merge_methods: [POST]}}
`, up, dead))
	r := newTestRouter(t, f, RouterConfig{Mocks: blendMock(&calls), Observer: obs})
	return front(t, r), r
}

func TestBlendMerge(t *testing.T) {
	tests := []struct {
		name, method, path string
		status             int
		servedBy           ServedBy
		mergeHeader        string
		want               string // the JSON body, when it is JSON
		diffs              []Difference
		compared           bool
	}{
		{name: "one field differs: merged, one difference", method: "GET", path: "/m/user", status: 200, servedBy: ServedByMerge,
			want:     `{"email":"ada@real.example","id":7,"name":"Ada","request_id":"r-1","updated_at":"2026-01-02T03:04:05Z"}`,
			diffs:    []Difference{{Path: "$.email", Kind: DiffValue, Mock: `"ada@mock.example"`, Real: `"ada@real.example"`}},
			compared: true},
		{name: "mock-only member kept, real wins", method: "GET", path: "/m/plus", status: 200, servedBy: ServedByMerge,
			want: `{"email":"ada@real.example","id":7,"name":"Ada","nickname":"ada","request_id":"r-1","updated_at":"2026-01-02T03:04:05Z"}`,
			diffs: []Difference{{Path: "$.email", Kind: DiffValue, Mock: `"ada@mock.example"`, Real: `"ada@real.example"`},
				{Path: "$.nickname", Kind: DiffExtra, Mock: `"ada"`}},
			compared: true},
		{name: "prefer mock", method: "GET", path: "/mm/user", status: 200, servedBy: ServedByMerge,
			want:     `{"email":"ada@mock.example","id":7,"name":"Ada","request_id":"m-9","updated_at":"2025-05-05T05:05:05Z"}`,
			diffs:    []Difference{{Path: "$.email", Kind: DiffValue, Mock: `"ada@mock.example"`, Real: `"ada@real.example"`}},
			compared: true},
		{name: "gzip decoded first", method: "GET", path: "/m/gzip", status: 200, servedBy: ServedByMerge,
			want:     `{"body":"","from":"real"}`,
			diffs:    []Difference{{Path: "$.body", Kind: DiffExtra, Mock: `""`}, {Path: "$.from", Kind: DiffValue, Mock: `"mock"`, Real: `"real"`}},
			compared: true},
		{name: "non-JSON answer unmerged", method: "GET", path: "/m/text", status: 200, servedBy: ServedByReal, mergeHeader: "unmerged", compared: true,
			diffs: []Difference{{Path: "header:Content-Type", Kind: DiffHeader, Mock: "application/json", Real: "text/plain"},
				{Path: "$", Kind: DiffBody, Mock: `"{\"from\":\"mock\",\"body\":\"\"}\n"`, Real: `"plain real"`}}},
		{name: "upstream timeout: partial", method: "GET", path: "/m/slow", status: 200, servedBy: ServedByMock, mergeHeader: "partial; missing=real",
			want: `{"from":"mock","body":""}`},
		{name: "upstream body over the limit: partial", method: "GET", path: "/m/big", status: 200, servedBy: ServedByMock, mergeHeader: "partial; missing=real",
			want: `{"from":"mock","body":""}`},
		{name: "upstream down: partial", method: "GET", path: "/mdown/x", status: 200, servedBy: ServedByMock, mergeHeader: "partial; missing=real",
			want: `{"from":"mock","body":""}`},
		{name: "neither side", method: "GET", path: "/none/x", status: http.StatusBadGateway, servedBy: ServedByRouter},
		{name: "unsafe method: real_first", method: "POST", path: "/m/ok", status: 200, servedBy: ServedByReal, want: `{"from":"real","body":""}`},
		{name: "configured method merged", method: "POST", path: "/mpost/user", status: 200, servedBy: ServedByMerge, compared: true,
			want:  `{"email":"ada@real.example","id":7,"name":"Ada","request_id":"r-1","updated_at":"2026-01-02T03:04:05Z"}`,
			diffs: []Difference{{Path: "$.email", Kind: DiffValue, Mock: `"ada@mock.example"`, Real: `"ada@real.example"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &exchanges{}
			srv, r := mergeRouter(t, obs)
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := newClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			srv.Close() // the exchange is observed
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d (%s); want %d", resp.StatusCode, body, tt.status)
			}
			if got := resp.Header.Get(HeaderServedBy); got != string(tt.servedBy) {
				t.Errorf("%s = %q; want %q", HeaderServedBy, got, tt.servedBy)
			}
			if got := resp.Header.Get(HeaderMerge); got != tt.mergeHeader {
				t.Errorf("%s = %q; want %q", HeaderMerge, got, tt.mergeHeader)
			}
			if tt.want != "" {
				var got, want any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				json.Unmarshal([]byte(tt.want), &want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("body mismatch (-want +got):\n%s", diff)
				}
				if tt.servedBy == ServedByMerge && resp.Header.Get("Content-Encoding") != "" {
					t.Errorf("merged body sent with Content-Encoding %q", resp.Header.Get("Content-Encoding"))
				}
			}
			xs := obs.all()
			if len(xs) != 1 {
				t.Fatalf("observed %d exchanges; want 1", len(xs))
			}
			c := xs[0].Comparison
			if (c != nil) != tt.compared {
				t.Fatalf("Exchange.Comparison = %+v; want compared %v", c, tt.compared)
			}
			if c == nil {
				return
			}
			if diff := cmp.Diff(tt.diffs, c.Differences); diff != "" {
				t.Errorf("Comparison mismatch (-want +got):\n%s", diff)
			}
			svc := strings.SplitN(tt.path, "/", 3)[1]
			recent := r.RecentDiffs(svc)
			if len(recent) != 1 || recent[0].Comparison != c || recent[0].Path != "/"+strings.SplitN(tt.path, "/", 3)[2] {
				t.Errorf("RecentDiffs(%q) = %+v; want the one comparison", svc, recent)
			}
		})
	}
}

// TestBlendMergeNoiseOnly: answers that differ only in noise (request
// ids, timestamps, Date) yield no difference and no recent diff.
func TestBlendMergeNoiseOnly(t *testing.T) {
	mock, real := blendAnswerFor("m-1", "2025-01-01T00:00:00Z"), blendAnswerFor("r-2", "2026-06-06T06:06:06.123Z")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, real)
	}))
	t.Cleanup(up.Close)
	mocks := MockResolverFunc(func(string) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Date", "Mon, 01 Jan 2024 00:00:00 GMT")
			io.WriteString(w, mock)
		}), nil
	})
	obs := &exchanges{}
	f := mustParse(t, fmt.Sprintf("name: n\nservices: [{name: s, base_path: /, reality: blended, upstream: %q, blend: {strategy: merge}}]\n", up.URL))
	r := newTestRouter(t, f, RouterConfig{Mocks: mocks, Observer: obs})
	srv := front(t, r)
	resp, err := newClient(t).Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close()
	xs := obs.all()
	if len(xs) != 1 || xs[0].Comparison == nil {
		t.Fatalf("observed %+v; want one exchange with a comparison", xs)
	}
	if c := xs[0].Comparison; c.Drifted() {
		t.Errorf("Comparison = %+v; want no difference for noise", c.Differences)
	}
	if got := r.RecentDiffs("s"); len(got) != 0 {
		t.Errorf("RecentDiffs = %+v; want none", got)
	}
}

func blendAnswerFor(id, ts string) string {
	return fmt.Sprintf(`{"request_id":%q,"trace-id":%q,"timestamp":%q,"data":{"createdAt":%q,"n":1},"seen":%q}`, id, id, ts, ts, ts)
}

func TestRecentDiffsBounded(t *testing.T) {
	r := &Router{}
	x := &exchange{in: httptest.NewRequest("GET", "/", nil), route: Route{Service: "s"}}
	for i := range RecentDiffs + 5 {
		r.recordDrift(x, &Comparison{Differences: []Difference{{Path: fmt.Sprint(i)}}})
	}
	got := r.RecentDiffs("s")
	if len(got) != RecentDiffs || got[0].Comparison.Differences[0].Path != "5" || got[len(got)-1].Comparison.Differences[0].Path != fmt.Sprint(RecentDiffs+4) {
		t.Errorf("RecentDiffs = %d drifts from %v; want %d, oldest first from 5", len(got), got[0].Comparison.Differences, RecentDiffs)
	}
}
