package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDeployHook(t *testing.T) {
	h, err := startDeployHook()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.srv.shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	tests := []struct {
		name, method, path, auth string
		wantStatus               int
		wantType                 string
	}{
		{"valid token", "POST", "/hooks/deploy", "Bearer " + deployToken, http.StatusAccepted, "application/json"},
		{"wrong token", "POST", "/hooks/deploy", "Bearer nope", http.StatusUnauthorized, "application/problem+json"},
		{"no token", "POST", "/hooks/deploy", "", http.StatusUnauthorized, "application/problem+json"},
		{"token without Bearer", "POST", "/hooks/deploy", deployToken, http.StatusUnauthorized, "application/problem+json"},
		{"wrong method", "GET", "/hooks/deploy", "Bearer " + deployToken, http.StatusNotFound, "application/problem+json"},
		{"unknown path", "POST", "/hooks/other", "Bearer " + deployToken, http.StatusNotFound, "application/problem+json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, h.srv.url+tt.path, strings.NewReader(`{"text":"hi"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("%s %s = %d %s, want %d %s; body %s", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantStatus, tt.wantType, body)
			}
			if strings.Contains(string(body), deployToken) {
				t.Errorf("answer holds the token: %s", body)
			}
		})
	}
	// Only the authorized request was accepted.
	want := []string{`POST /hooks/deploy with a valid token: {"text":"hi"}`}
	if diff := cmp.Diff(want, h.received()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}

func TestSecretMap(t *testing.T) {
	m := secretMap{"TOKEN": "s3cret"}
	tests := []struct {
		name    string
		want    string
		wantErr bool
	}{
		{"TOKEN", "s3cret", false},
		{"MISSING", "", true},
	}
	for _, tt := range tests {
		got, err := m.Secret(t.Context(), tt.name)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Secret(%q) = %q, %v; want %q, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
