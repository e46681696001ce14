package steps_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mockops/mockops/steps"
)

// TestCreatePRTransportFailures: failures below HTTP are reported,
// retryable, and never carry the token.
func TestCreatePRTransportFailures(t *testing.T) {
	const token = "ghp_transportS3cret"
	typ, _ := prRegistry(t).Lookup("create_pr")
	run := func(ctx context.Context, baseURL string) error {
		step, err := typ.New(map[string]any{"provider": "github", "base_url": baseURL, "repo": "octo/sdk", "token": token,
			"branch": "b", "title": "t", "files": []any{file("a", "1")}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = step.Run(ctx, steps.Input{})
		return err
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("Run = nil; want an error")
		}
		if steps.IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true; want a retryable error", err)
		}
		if holdsSecret(err.Error(), token) {
			t.Errorf("Run = %v; the error holds the token", err)
		}
		if !strings.Contains(err.Error(), "GET /repos/octo/sdk/git/ref/heads/main") {
			t.Errorf("Run = %v; want it to name the request", err)
		}
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is expected
		srv.StartTLS()
		defer srv.Close()
		err := run(context.Background(), srv.URL)
		check(t, err)
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Errorf("Run = %v; want a *tls.CertificateVerificationError", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		check(t, run(context.Background(), url))
	})
	t.Run("cancelled while waiting for the answer", func(t *testing.T) {
		arrived := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			<-r.Context().Done()
		}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-arrived:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := run(ctx, srv.URL)
		check(t, err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v; want context.Canceled", err)
		}
	})
}

// holdsSecret reports whether s carries secret, as is or base64-encoded
// (standard or URL alphabet, padded or not).
func holdsSecret(s, secret string) bool {
	forms := []string{secret}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		forms = append(forms, enc.EncodeToString([]byte(secret)))
	}
	for _, f := range forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

func TestHoldsSecret(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"token ghp_x1 leaked", true},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("ghp_x1")), true},
		{"nothing here", false},
	}
	for _, tt := range tests {
		if got := holdsSecret(tt.s, "ghp_x1"); got != tt.want {
			t.Errorf("holdsSecret(%q) = %v; want %v", tt.s, got, tt.want)
		}
	}
}
