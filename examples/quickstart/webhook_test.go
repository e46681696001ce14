package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

func sign(key []byte, id, ts, body string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	key, other := []byte("0123456789abcdef"), []byte("fedcba9876543210")
	good := sign(key, "msg_1", "1700000000", `{"a":1}`)
	for _, tc := range []struct {
		name, id, ts, body, header string
		want                       bool
	}{
		{"valid", "msg_1", "1700000000", `{"a":1}`, good, true},
		{"one of several (key rotation)", "msg_1", "1700000000", `{"a":1}`, sign(other, "msg_1", "1700000000", `{"a":1}`) + " " + good, true},
		{"other key", "msg_1", "1700000000", `{"a":1}`, sign(other, "msg_1", "1700000000", `{"a":1}`), false},
		{"body changed", "msg_1", "1700000000", `{"a":2}`, good, false},
		{"timestamp changed", "msg_1", "1700000001", `{"a":1}`, good, false},
		{"no id", "", "1700000000", `{"a":1}`, good, false},
		{"unknown version", "msg_1", "1700000000", `{"a":1}`, "v2," + good[3:], false},
		{"not base64", "msg_1", "1700000000", `{"a":1}`, "v1,***", false},
		{"empty header", "msg_1", "1700000000", `{"a":1}`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verifySignature(key, tc.id, tc.ts, []byte(tc.body), tc.header); got != tc.want {
				t.Errorf("verifySignature(%q, %q, %q, %q) = %v; want %v", tc.id, tc.ts, tc.body, tc.header, got, tc.want)
			}
		})
	}
}

// The header comes from the network: no input makes the check panic or
// accept a signature made with another key.
func FuzzVerifySignature(f *testing.F) {
	key := []byte("0123456789abcdef")
	f.Add("msg_1", "1700000000", []byte(`{"a":1}`), sign([]byte("x"), "msg_1", "1700000000", `{"a":1}`))
	f.Add("", "", []byte{}, "v1,")
	f.Fuzz(func(t *testing.T, id, ts string, body []byte, header string) {
		if verifySignature(key, id, ts, body, header) && header != "" {
			// Only a header holding the true MAC may pass.
			want := sign(key, id, ts, string(body))
			found := false
			for i := 0; i+len(want) <= len(header); i++ {
				if header[i:i+len(want)] == want {
					found = true
				}
			}
			if !found {
				t.Fatalf("accepted %q for id %q ts %q", header, id, ts)
			}
		}
	})
}
