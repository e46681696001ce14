package coverage

import (
	"encoding/json"
	"time"
)

// ReportVersion is the version of the Report envelope. A consumer checks
// it before reading the rest; a change that removes or renames a field
// gets a new version.
const ReportVersion = "coverage.mockops.dev/v1"

// OverflowKey is the key that stands for every value past a cardinality
// cap (Config.MaxKeys): a row or entry with this key, always marked
// Overflow, aggregates the values that were not kept apart.
const OverflowKey = "(overflow)"

// Ratio is a metric with its numerator and denominator. Percent is
// 100*Numerator/Denominator, and null (nil) when the denominator is zero:
// "nothing to measure" is never shown as 0% or 100%.
type Ratio struct {
	Numerator   int64    `json:"numerator"`
	Denominator int64    `json:"denominator"`
	Percent     *float64 `json:"percent"`
}

// NewRatio returns num/den with its percentage, nil for den == 0.
func NewRatio(num, den int64) Ratio {
	r := Ratio{Numerator: num, Denominator: den}
	if den != 0 {
		p := 100 * float64(num) / float64(den)
		r.Percent = &p
	}
	return r
}

// Window is the time span a report covers: rollups whose bucket starts in
// [From, To).
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Bucket is the width of a time bucket, in seconds (3600 for hours).
	Bucket int64 `json:"bucket_seconds"`
}

// Report is every metric of a window, in a versioned envelope.
type Report struct {
	Version     string    `json:"version"` // ReportVersion
	GeneratedAt time.Time `json:"generated_at"`
	Window      Window    `json:"window"`
	// Workspace and Team are the scope of the report, "" for all.
	Workspace string    `json:"workspace"`
	Team      string    `json:"team"`
	Heatmap   Heatmap   `json:"heatmap"`
	Personas  Personas  `json:"personas"`
	Endpoints Endpoints `json:"endpoints"`
	Staleness Staleness `json:"staleness"`
	Drift     Drift     `json:"drift"`
}

// Heatmap is scenario usage over time: one row per (workspace, scenario),
// one column per time bucket of the window.
type Heatmap struct {
	// Buckets are the start times of the columns, ascending, every bucket
	// of the window (empty ones included, so the columns are regular).
	Buckets []time.Time  `json:"buckets"`
	Rows    []HeatmapRow `json:"rows"`
	// Total is every scenario request of the window.
	Total int64 `json:"total"`
	// Gaps are the defined scenarios (Config.Scenarios) no request used
	// in the window, sorted; each also has a row of zeros.
	Gaps []string `json:"gaps"`
}

// HeatmapRow is one scenario in one workspace.
type HeatmapRow struct {
	Workspace string `json:"workspace"`
	// Team is the workspace's team (Config.Teams), "" when unknown.
	Team     string `json:"team"`
	Scenario string `json:"scenario"`
	// Overflow marks the row aggregating scenarios past the cap.
	Overflow bool `json:"overflow"`
	// Counts has one entry per Heatmap.Buckets.
	Counts []int64 `json:"counts"`
	// Share is this row's requests / all scenario requests of the window.
	Share Ratio `json:"share"`
}

// Personas is persona CI hits.
type Personas struct {
	Personas []PersonaStat `json:"personas"`
	// Gaps are the defined personas (Config.Personas) no CI request hit
	// in the window, sorted.
	Gaps []string `json:"gaps"`
	// CICovered is defined personas with a CI hit / defined personas.
	CICovered Ratio `json:"ci_covered"`
	// CIRuns is how many distinct CI run ids sent persona traffic;
	// with CIRunsOverflow, runs past the cap count as one more.
	CIRuns         int64 `json:"ci_runs"`
	CIRunsOverflow bool  `json:"ci_runs_overflow"`
}

// PersonaStat is one persona in one workspace.
type PersonaStat struct {
	Workspace string `json:"workspace"`
	Persona   string `json:"persona"`
	Overflow  bool   `json:"overflow"`
	// Defined reports a persona listed in Config.Personas.
	Defined bool  `json:"defined"`
	CI      int64 `json:"ci"`
	Local   int64 `json:"local"`
	// CIShare is CI requests / all requests of the persona.
	CIShare Ratio `json:"ci_share"`
	// LastCIHit is the latest CI request, null when there was none.
	LastCIHit *time.Time `json:"last_ci_hit"`
	// CIRuns is how many distinct CI run ids used the persona (see
	// Personas.CIRuns for the overflow).
	CIRuns         int64 `json:"ci_runs"`
	CIRunsOverflow bool  `json:"ci_runs_overflow"`
}

// Endpoints is endpoint coverage, per service with a spec.
type Endpoints struct {
	Services []ServiceEndpoints `json:"services"`
	// Totals over every service.
	Operations    Ratio `json:"operations"`
	OperationsCI  Ratio `json:"operations_ci"`
	Branches      Ratio `json:"branches"`
	BranchesCI    Ratio `json:"branches_ci"`
	MissingInSpec Ratio `json:"missing_in_spec"`
}

// ServiceEndpoints is the endpoint coverage of one service.
//
// An operation is covered when a request matched it. Its branches are
// the operation itself, its request body when it declares one (covered
// by a request with a body), and each declared response (covered by a
// status that selects it: an explicit code, then its "2XX" range, then
// "default"). Deprecated operations are counted apart, in Deprecated,
// and are in neither Operations nor Branches.
type ServiceEndpoints struct {
	Service   string `json:"service"`
	Workspace string `json:"workspace"`
	// ContractHash identifies the spec the figures are computed against.
	ContractHash string `json:"contract_hash"`
	Operations   Ratio  `json:"operations"`    // covered / non-deprecated operations
	OperationsCI Ratio  `json:"operations_ci"` // covered by CI traffic
	Branches     Ratio  `json:"branches"`
	BranchesCI   Ratio  `json:"branches_ci"`
	Deprecated   Ratio  `json:"deprecated"` // deprecated operations hit / deprecated operations
	// MissingInSpec is requests no operation matched / all requests.
	MissingInSpec Ratio               `json:"missing_in_spec"`
	Ops           []OperationCoverage `json:"ops"`
	Undeclared    []UndeclaredStatus  `json:"undeclared"`
	Missing       []MissingRequest    `json:"missing"`
}

// OperationCoverage is one operation and its branches.
type OperationCoverage struct {
	Method      string           `json:"method"`
	Path        string           `json:"path"`
	OperationID string           `json:"operation_id"`
	Deprecated  bool             `json:"deprecated"`
	Hits        int64            `json:"hits"`
	CIHits      int64            `json:"ci_hits"`
	Branches    []BranchCoverage `json:"branches"`
}

// BranchCoverage is one branch: "request_body" or "response:KEY".
type BranchCoverage struct {
	Branch string `json:"branch"`
	Hits   int64  `json:"hits"`
	CIHits int64  `json:"ci_hits"`
}

// UndeclaredStatus counts a status an operation answered without
// declaring it (and with no "default"). Past the cap they count in one
// entry with Overflow set (Path OverflowKey, Status 0).
type UndeclaredStatus struct {
	Method   string `json:"method"`
	Path     string `json:"path"` // the operation's template
	Status   int    `json:"status"`
	Overflow bool   `json:"overflow"`
	Count    int64  `json:"count"`
}

// MissingRequest counts requests no operation of the spec matched, by
// method and raw path (capped: past Config.MaxKeys they go to the
// OverflowKey entry).
type MissingRequest struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Overflow bool   `json:"overflow"`
	Count    int64  `json:"count"`
}

// Staleness is how recently each service's mocks were checked against
// the real upstream, aged when the report is made.
type Staleness struct {
	Services []ServiceStaleness `json:"services"`
	// Fresh is services in state fresh / services.
	Fresh Ratio `json:"fresh"`
}

// StalenessState is where a service's mocks stand against its upstream.
type StalenessState string

const (
	// StaleNever: the mocks were never refreshed or verified.
	StaleNever StalenessState = "never"
	// StaleFresh: checked within Config.AgingAfter.
	StaleFresh StalenessState = "fresh"
	// StaleAging: checked within Config.StaleAfter, but not AgingAfter.
	StaleAging StalenessState = "aging"
	// StaleByAge: not checked for Config.StaleAfter or longer.
	StaleByAge StalenessState = "stale_by_age"
	// StaleByContent: the upstream's contract hash, as last verified,
	// differs from the contract the mocks were built from.
	StaleByContent StalenessState = "stale_by_content"
)

// ServiceStaleness is one service's staleness.
type ServiceStaleness struct {
	Service string         `json:"service"`
	State   StalenessState `json:"state"`
	// LastRefresh is when the mocks' contract was last set (SetSpec).
	LastRefresh *time.Time `json:"last_refresh"`
	// LastVerified is the last check against the real upstream (Verify).
	LastVerified *time.Time `json:"last_verified"`
	// AgeSeconds is the time since the latest of the two, null for never.
	AgeSeconds *float64 `json:"age_seconds"`
	// ContractHash is the contract the mocks were built from.
	ContractHash string `json:"contract_hash"`
	// UpstreamHash is the upstream's contract as last verified.
	UpstreamHash string `json:"upstream_hash"`
}

// Drift is how far mocks drift from the real services, from mock/real
// comparisons (the federation's) and host drift reports.
type Drift struct {
	// Budget is Config.DriftBudget, in percent.
	Budget   float64        `json:"budget"`
	Services []ServiceDrift `json:"services"`
	// Branches is drifting branches / compared branches, over every service.
	Branches Ratio `json:"branches"`
	// Requests is drifted comparisons / comparisons (request-weighted).
	Requests Ratio `json:"requests"`
}

// ServiceDrift is one service's drift. A branch is an operation's
// response (or the operation itself when there is no spec to name the
// response); it drifts when any of its comparisons in the window found
// a difference.
type ServiceDrift struct {
	Service    string          `json:"service"`
	Workspace  string          `json:"workspace"`
	Branches   Ratio           `json:"branches"`
	Requests   Ratio           `json:"requests"`
	OverBudget bool            `json:"over_budget"`
	Endpoints  []EndpointDrift `json:"endpoints"`
}

// EndpointDrift is the comparisons of one branch.
type EndpointDrift struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Branch   string `json:"branch"`
	Compared int64  `json:"compared"`
	Drifted  int64  `json:"drifted"`
}

// MarshalIndent renders the report as indented JSON, the form the
// golden files and the HTTP API use.
func (r *Report) MarshalIndent() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
