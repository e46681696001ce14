package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mockops/mockops/store/access"
)

// Changes are allowed from loopback only, and not when a browser sends
// them from another site or for a non-loopback host name (DNS
// rebinding): loopback alone is a credential every web page shares.
func TestLocalAuthorizer(t *testing.T) {
	activate := access.Request{Resource: access.Scenarios, Action: access.Operate, Workspace: "shop", Name: "payments-outage"}
	read := access.Request{Resource: access.Federations, Action: access.Read}
	tests := []struct {
		name   string
		remote string
		host   string
		header map[string]string
		req    access.Request
		want   int
	}{
		{"curl on loopback", "127.0.0.1:5000", "127.0.0.1:8080", nil, activate, 0},
		{"localhost name", "[::1]:5000", "localhost:8080", nil, activate, 0},
		{"same-origin browser", "127.0.0.1:5000", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8080"}, activate, 0},
		{"cross-site fetch", "127.0.0.1:5000", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, activate, http.StatusForbidden},
		{"foreign origin", "127.0.0.1:5000", "127.0.0.1:8080", map[string]string{"Origin": "https://evil.example"}, activate, http.StatusForbidden},
		{"rebound host name", "127.0.0.1:5000", "evil.example:8080", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example:8080"}, activate, http.StatusForbidden},
		{"remote change", "192.0.2.7:5000", "127.0.0.1:8080", nil, activate, http.StatusForbidden},
		{"remote read", "192.0.2.7:5000", "127.0.0.1:8080", nil, read, 0},
		{"cross-site read", "127.0.0.1:5000", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, read, 0},
	}
	a := localAuthorizer()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.req.Action == access.Read {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, "http://"+tt.host+"/api/v2/federations/shop/scenarios/payments-outage/activate", nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got, err := access.Check(a, r, tt.req); got != tt.want {
				t.Errorf("Check = %d (%v); want %d", got, err, tt.want)
			}
		})
	}
}
