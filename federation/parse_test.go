package federation

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ignorePositions = cmpopts.IgnoreUnexported(Federation{}, Service{}, Blend{}, Chaos{}, Scenario{}, Override{})

func TestParseDesignExample(t *testing.T) {
	src, err := os.ReadFile("testdata/parse/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("design.yaml", src)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	want := &Federation{
		Name: "shop",
		Services: []Service{
			{Name: "auth", BasePath: "/auth", Workspace: "auth-ws", Reality: Real, Upstream: "http://127.0.0.1:9001", Timeout: 2 * time.Second},
			{Name: "orders", BasePath: "/orders", Workspace: "orders-ws", Reality: Blended, Upstream: "http://127.0.0.1:9002",
				Blend: &Blend{Strategy: "real_first"}, DependsOn: []string{"auth"}},
			{Name: "payments", BasePath: "/payments", Workspace: "payments-ws", Reality: ChaosDriven,
				Chaos: &Chaos{Base: "mock", Seed: 7,
					Latency: &LatencyFault{P: 0.2, Uniform: [2]time.Duration{50 * time.Millisecond, 200 * time.Millisecond}},
					Abort:   &AbortFault{P: 0.05, Status: 503}}},
		},
		Scenarios: []Scenario{{Name: "payments-outage", Services: []Override{
			{Service: "payments", Reality: ChaosDriven, Chaos: &Chaos{Abort: &AbortFault{P: 1, Status: 503}}},
		}}},
	}
	if diff := cmp.Diff(want, got, ignorePositions); diff != "" {
		t.Errorf("Parse(design.yaml) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseMockForge(t *testing.T) {
	src, err := os.ReadFile("testdata/parse/mockforge_compat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("mockforge.yaml", src)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	want := &Federation{
		Name:        "e-commerce-platform",
		Description: "Shop made of three services",
		Services: []Service{
			{Name: "auth", Workspace: "auth-ws", BasePath: "/auth", Reality: Real, Upstream: "http://127.0.0.1:9001"},
			{Name: "inventory", Workspace: "inventory-ws", BasePath: "/inventory", Reality: Blended,
				Upstream: "http://127.0.0.1:9002", DependsOn: []string{"auth"}},
			{Name: "payments", Workspace: "payments-ws", BasePath: "/payments", Reality: MockV3, DependsOn: []string{"auth", "inventory"}},
		},
	}
	if diff := cmp.Diff(want, got, ignorePositions); diff != "" {
		t.Errorf("Parse(mockforge) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseMockForgeAliasesAndConfig(t *testing.T) {
	src := []byte(`federation:
  name: mf
  services:
    - {name: a, base_path: /a, reality_level: MockV3}
    - {name: b, base_path: /b, reality_level: CHAOSDRIVEN}
    - {name: c, base_path: /c, reality_level: mock_v3, config: {blend_ratio: 0.25, chaos: {rate: 0.1}, notes: keep}}
`)
	f, err := Parse("mf.yaml", src)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if got := []RealityLevel{f.Services[0].Reality, f.Services[1].Reality}; !cmp.Equal(got, []RealityLevel{MockV3, ChaosDriven}) {
		t.Errorf("realities = %v; want [mock_v3 chaos_driven]", got)
	}
	c := f.Services[2]
	if c.Blend == nil || c.Blend.Ratio == nil || *c.Blend.Ratio != 0.25 {
		t.Errorf("blend_ratio = %+v; want 0.25", c.Blend)
	}
	wantCfg := map[string]any{"chaos": map[string]any{"rate": 0.1}, "notes": "keep"}
	if diff := cmp.Diff(wantCfg, c.Config); diff != "" {
		t.Errorf("Config mismatch (-want +got):\n%s", diff)
	}
}

func TestParseErrorsAreErrorList(t *testing.T) {
	_, err := Parse("x.yaml", []byte("name: x\nservices: [{name: a, base_path: nope, reality: real}]\n"))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse error %T is not an ErrorList", err)
	}
	if len(list) != 2 {
		t.Fatalf("got %d diagnostics; want 2 (bad prefix, missing upstream): %v", len(list), err)
	}
	for _, e := range list {
		if e.Pos.File != "x.yaml" || e.Pos.Line != 2 || e.Pos.Col == 0 {
			t.Errorf("diagnostic %q has position %+v; want x.yaml:2:col", e.Msg, e.Pos)
		}
	}
}

func TestOrder(t *testing.T) {
	src := []byte(`name: diamond
services:
  - {name: top, base_path: /top, reality: mock_v3, depends_on: [left, right]}
  - {name: left, base_path: /left, reality: mock_v3, depends_on: [base]}
  - {name: right, base_path: /right, reality: mock_v3, depends_on: [base]}
  - {name: base, base_path: /base, reality: mock_v3}
  - {name: alone, base_path: /alone, reality: mock_v3}
`)
	f, err := Parse("diamond.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.Order() {
		got = append(got, s.Name)
	}
	want := []string{"base", "left", "right", "top", "alone"}
	if !cmp.Equal(got, want) {
		t.Errorf("Order() = %v; want %v", got, want)
	}
	// A hand-built federation is ordered too.
	hand := &Federation{Name: "h", Services: []Service{
		{Name: "b", DependsOn: []string{"a"}}, {Name: "a"},
	}}
	got = got[:0]
	for _, s := range hand.Order() {
		got = append(got, s.Name)
	}
	if !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("hand-built Order() = %v; want [a b]", got)
	}
}

func TestValidateHandBuilt(t *testing.T) {
	f := &Federation{Name: "h", Services: []Service{
		{Name: "a", BasePath: "/a", Reality: Real, Upstream: "http://127.0.0.1:1"},
		{Name: "b", BasePath: "/a", Reality: "nope"},
		{Name: "c", BasePath: "/c", Reality: ChaosDriven, Chaos: &Chaos{Abort: &AbortFault{P: 2, Status: 503}}},
	}}
	err := f.Validate()
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("Validate() = %v; want 3 diagnostics (duplicate prefix, unknown reality, bad p)", err)
	}
	f.Services = f.Services[:1]
	if err := f.Validate(); err != nil {
		t.Errorf("Validate() of a good federation = %v", err)
	}
}
