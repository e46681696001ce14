package coverage

import (
	"bytes"
	"encoding/xml"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	fresh, old := 3600.0, 40*24*3600.0
	rep := func(ops, opsCI, missing Ratio, drift Ratio, st StalenessState, age *float64) *Report {
		return &Report{
			Endpoints: Endpoints{Services: []ServiceEndpoints{{Service: "s", Operations: ops, OperationsCI: opsCI, MissingInSpec: missing}}},
			Drift:     Drift{Services: []ServiceDrift{{Service: "s", Branches: drift}}},
			Staleness: Staleness{Services: []ServiceStaleness{{Service: "s", State: st, AgeSeconds: age}}},
		}
	}
	all := Thresholds{MinCoverage: 50, MaxMissingInSpec: Limit(0), MaxDrift: Limit(10), MaxStaleness: 7 * 24 * time.Hour}
	tests := []struct {
		name   string
		rep    *Report
		th     Thresholds
		pass   bool
		failed []string // names of failed checks
	}{
		{"all pass", rep(NewRatio(3, 4), NewRatio(1, 4), NewRatio(0, 9), NewRatio(1, 10), StaleFresh, &fresh), all, true, nil},
		{"ci only fails coverage", rep(NewRatio(3, 4), NewRatio(1, 4), NewRatio(0, 9), NewRatio(1, 10), StaleFresh, &fresh),
			Thresholds{MinCoverage: 50, CIOnly: true}, false, []string{"coverage"}},
		{"empty denominators", rep(NewRatio(0, 0), NewRatio(0, 0), NewRatio(0, 0), NewRatio(0, 0), StaleNever, nil), all, false, []string{"coverage", "staleness"}},
		{"zero missing allowed", rep(NewRatio(4, 4), NewRatio(4, 4), NewRatio(1, 100), NewRatio(0, 3), StaleFresh, &fresh), all, false, []string{"missing_in_spec"}},
		{"drift and age", rep(NewRatio(4, 4), NewRatio(4, 4), NewRatio(0, 1), NewRatio(2, 3), StaleByAge, &old), all, false, []string{"drift", "staleness"}},
		{"stale by content", rep(NewRatio(4, 4), NewRatio(4, 4), NewRatio(0, 1), NewRatio(0, 3), StaleByContent, &fresh), all, false, []string{"staleness"}},
		{"no service to cover", &Report{}, Thresholds{MinCoverage: 50, MaxDrift: Limit(10)}, false, []string{"coverage"}},
		{"no service, no minimum", &Report{}, Thresholds{MaxDrift: Limit(10)}, true, nil},
		{"no thresholds", rep(NewRatio(0, 4), NewRatio(0, 4), NewRatio(9, 9), NewRatio(3, 3), StaleNever, nil), Thresholds{}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(tt.rep, tt.th)
			var failed []string
			for _, ch := range v.Checks {
				if !ch.Pass {
					failed = append(failed, ch.Name)
				}
			}
			if v.Pass != tt.pass || len(failed) != len(tt.failed) || len(v.Reasons) != len(failed) {
				t.Fatalf("Judge = pass %v, failed %v, reasons %q; want pass %v, failed %v", v.Pass, failed, v.Reasons, tt.pass, tt.failed)
			}
			for i := range failed {
				if failed[i] != tt.failed[i] {
					t.Errorf("failed checks %v; want %v", failed, tt.failed)
				}
			}
			var b bytes.Buffer
			if err := v.JUnit(&b); err != nil {
				t.Fatal(err)
			}
			var doc junitSuites
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("JUnit output does not parse: %v\n%s", err, b.Bytes())
			}
			if doc.Tests != len(v.Checks) || doc.Fails != len(failed) {
				t.Errorf("JUnit tests=%d failures=%d; want %d, %d", doc.Tests, doc.Fails, len(v.Checks), len(failed))
			}
		})
	}
}
