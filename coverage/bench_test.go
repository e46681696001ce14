package coverage

import (
	"net/http"
	"testing"
)

// BenchmarkMatch maps Twilio paths to their operations: our matcher, and
// beside it kin-openapi's gorillamux router on the same document and
// paths, the baseline the matcher keeps off the hot path. (kin-openapi's
// legacy router refuses Twilio's document: it validates it first, and
// some of its examples do not match their schemas.)
func BenchmarkMatch(b *testing.B) {
	o := newOracle(b, "twilio-api-v2010.json")
	paths := []string{
		"/2010-04-01/Accounts/AC0123/Calls/CA0123.json",
		"/2010-04-01/Accounts/AC0123/Calls/CA0123/Recordings/RE0123.json",
		"/2010-04-01/Accounts/AC0123/IncomingPhoneNumbers/Local.json",
		"/2010-04-01/Accounts.json",
	}
	reqs := make([]*http.Request, len(paths))
	for i, p := range paths {
		if _, err := o.spec.Match("GET", p); err != nil {
			b.Fatalf("Match(GET, %q) = %v; want an operation", p, err)
		}
		r, err := http.NewRequest("GET", "https://api.twilio.com"+p, nil)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = r
	}
	b.Run("mockops", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := o.spec.Match("GET", paths[i%len(paths)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("kin-openapi-gorillamux", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := o.router.FindRoute(reqs[i%len(reqs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
