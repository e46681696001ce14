package federation

import (
	"cmp"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mockops/mockops/internal/schematest"
)

func TestJSONSchemaIsACopy(t *testing.T) {
	a := JSONSchema()
	a[0] = 'x'
	if b := JSONSchema(); b[0] != '{' {
		t.Fatalf("JSONSchema()[0] = %q after a caller changed its copy; want '{'", b[0])
	}
	schematest.CheckHead(t, JSONSchema(), JSONSchemaID)
}

// TestSchemaKeyTables walks the parser's key tables against the schema:
// every key the parser accepts is a property at the same place, and the
// schema has no property the parser would refuse.
func TestSchemaKeyTables(t *testing.T) {
	d := schematest.Load(t, JSONSchema())
	type row struct {
		def  string // "" for the root
		path []string
		keys []string
	}
	tests := []row{
		{"", nil, topKeys},
		{"", []string{"federation"}, wrappedKeys},
		{"definition", []string{"services", "[]"}, serviceKeys},
		{"definition", []string{"scenarios", "[]"}, scenarioKeys},
		{"definition", []string{"scenarios", "[]", "services", "*"}, overrideKeys},
	}
	// blend and chaos are read the same way in a service and in a
	// scenario's override: compare both places.
	for _, at := range [][]string{{"services", "[]"}, {"scenarios", "[]", "services", "*"}} {
		tests = append(tests,
			row{"definition", append(slices.Clone(at), "blend"), blendKeys},
			row{"definition", append(slices.Clone(at), "chaos"), chaosKeys},
			row{"definition", append(slices.Clone(at), "chaos", "latency", "lognormal"), lognormalKeys},
		)
		for fault, keys := range faultKeys {
			tests = append(tests, row{"definition", append(slices.Clone(at), "chaos", fault), keys})
		}
	}
	for _, fault := range chaosKeys {
		if _, ok := faultKeys[fault]; !ok && !slices.Contains([]string{"base", "seed", "key_header", "header_faults", "max_active_faults"}, fault) {
			t.Errorf("chaos key %q is neither a setting nor in faultKeys: add its keys to the comparison", fault)
		}
	}
	for _, tt := range tests {
		where := cmp.Or(tt.def, "root") + "." + strings.Join(tt.path, ".")
		t.Run(where, func(t *testing.T) {
			start := d.Root
			if tt.def != "" {
				start = d.Def(t, tt.def)
			}
			got, closed := schematest.Properties(d.At(start, tt.path...))
			if want := schematest.Sorted(tt.keys); !slices.Equal(got, want) {
				t.Errorf("schema keys at %s = %v; parser accepts %v", where, got, want)
			}
			if !closed {
				t.Errorf("schema at %s allows other keys (additionalProperties is not false); the parser refuses them", where)
			}
		})
	}
	svc := []string{"services", "[]"}
	enums := []struct {
		path []string
		want []string
	}{
		{append(slices.Clone(svc), "reality"), realityLevels},
		{append(slices.Clone(svc), "protocol"), protocols},
		{append(slices.Clone(svc), "blend", "strategy"), blendStrategies},
		{append(slices.Clone(svc), "chaos", "base"), chaosBases},
		{[]string{"scenarios", "[]", "services", "*", "reality"}, realityLevels},
	}
	for _, e := range enums {
		if got, want := schematest.EnumOf(d.At(d.Def(t, "definition"), e.path...)), schematest.Sorted(e.want); !slices.Equal(got, want) {
			t.Errorf("enum at %s = %v; parser accepts %v", strings.Join(e.path, "."), got, want)
		}
	}
	// Every MockForge spelling of a key is a property beside its native one.
	keys, _ := schematest.Properties(d.At(d.Def(t, "definition"), svc...))
	for alias, native := range aliases {
		if !slices.Contains(keys, alias) || !slices.Contains(keys, native) {
			t.Errorf("service keys %v lack the alias %q of %q", keys, alias, native)
		}
	}
	d.Check(t)
}

// A golden diagnostic names a structural problem when it is about keys,
// types, required values, enums or value shapes: what a schema can say.
// The schema must refuse a file with any of them, and accept a file whose
// problems are all beyond it (references between services, routes,
// upstream URLs, what a protocol can carry).
var structural = regexp.MustCompile(strings.Join([]string{
	`unknown key`, `missing required key`, `duplicate key`, `mapping keys must be strings`,
	`expected (a string|a list|a mapping|an integer|a number|true or false|a duration)`,
	`unknown (reality|protocol|blend strategy)`, `must be "real" or "mock"`,
	`both set; keep one`, `cannot be combined with the federation: wrapper`,
	`is not an HTTP status`, `must be a probability`, `bad duration`,
	`(federation|service|scenario) name .*: use letters`,
	`must not be negative`, `needs a positive (bytes_per_second|, finite sigma)`, `needs exactly one of`,
	`uniform needs two durations`, `base_path .* must (start|not end|not contain '\?'|not contain empty|not contain spaces)`,
	`is not a valid header name`, `is not an HTTP method`, `must be an error status`,
	`has surrounding spaces`, `must hold only letters`, `has an empty label`, `must be a host name`,
	`must not include a port`, `a federation needs at least one service`, `only one YAML document`,
	`empty document`, `^[^ ]+: yaml: `, `timeout must be positive`,
	`neither a JSON path .* nor a header name`,
}, "|"))

func TestSchemaTestdata(t *testing.T) {
	var files []string
	for _, glob := range []string{"testdata/parse/*.yaml", examplesGlob} {
		m, err := schematest.Glob(glob)
		if err != nil || len(m) == 0 {
			t.Fatalf("glob %s: %v files, %v", glob, len(m), err)
		}
		files = append(files, m...)
	}
	refused := 0
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, why := true, "the parser accepts it"
			if golden, err := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".golden"); err == nil {
				if string(golden) != "ok\n" {
					why = "the parser's problems are all beyond a schema"
				}
				for line := range strings.SplitSeq(string(golden), "\n") {
					if structural.MatchString(line) {
						want, why = false, "the parser reports "+line
						break
					}
				}
			} else if _, perr := Parse(file, exampleSource(src)); perr != nil {
				t.Fatalf("Parse: %v (a file without a golden must parse)", perr)
			}
			err = validateYAML(t, file, src)
			switch {
			case want && err != nil:
				t.Errorf("schema refuses %s, yet %s:\n%v", file, why, err)
			case !want && err == nil:
				t.Errorf("schema accepts %s, yet %s", file, why)
			case !want:
				refused++
			}
		})
	}
	if refused < 15 {
		t.Errorf("schema refused %d structurally invalid files; the testdata holds more", refused)
	}
}

// exampleSource fills the quickstart's ${NAME} placeholders (upstream
// addresses known only at run time) as the quickstart does, so that the
// file parses on its own.
func exampleSource(src []byte) []byte {
	return regexp.MustCompile(`\$\{[A-Z_]+\}`).ReplaceAll(src, []byte("http://127.0.0.1:1"))
}

// TestSchemaInline holds one structural mistake per document; each is
// refused by both the parser and the schema, and the valid ones pass both.
func TestSchemaInline(t *testing.T) {
	const base = "name: shop\nservices:\n  - name: a\n    base_path: /a\n    reality: mock_v3\n"
	svc := func(extra string) string { return base + "    " + strings.ReplaceAll(extra, "\n", "\n    ") + "\n" }
	const mf = "federation:\n  name: shop\n  services:\n    - name: a\n      base_path: /a\n      reality_level: MockV3\n"
	tests := []struct {
		name  string
		src   string
		valid bool
	}{
		{"minimal", base, true},
		{"service everything", svc("description: d\nhost: api.example.com\nworkspace: ws\nupstream: http://127.0.0.1:9\ntimeout: 2s\nstrip_prefix: true\npreserve_host: false\nprotocol: http2\ndepends_on: []\nblend: { strategy: merge, prefer: mock, ignore: [$.a, X-Date], sample: 0.5, miss_header: X-Miss, miss_status: [404], max_body: 10, merge_methods: [GET], primary: real, compare_sample: 0, fallback_status: [502] }"), true},
		{"chaos everything", strings.Replace(svc("chaos: { base: mock, seed: 7, key_header: X-Id, header_faults: true, max_active_faults: 2, latency: { p: 0.1, lognormal: { median: 10ms, sigma: 0.5 } }, abort: { p: 0.1, status: 503, retry_after: 1s }, reset: { p: 0 }, empty: { p: 1 }, truncate: { p: 0.1, after: 10 }, bandwidth: { p: 0.1, bytes_per_second: 100 }, hang: { p: 0.1, duration: 1s } }"), "mock_v3", "chaos_driven", 1), true},
		{"scenario", base + "scenarios:\n  - name: outage\n    description: d\n    services: { a: { reality: chaos_driven, chaos: { reset: { p: 1 } }, blend: { strategy: mock_first } } }\n", true},
		{"mockforge", mf, true},
		{"mockforge config", mf + "      workspace_id: ws\n      dependencies: []\n      config: { blend_ratio: 0.5, anything: [1, 2] }\n", true},
		{"unknown top key", base + "service: x\n", false},
		{"unknown service key", svc("base: /x"), false},
		{"name with a space", strings.Replace(base, "name: shop", "name: my shop", 1), false},
		{"services empty", "name: shop\nservices: []\n", false},
		{"missing base_path", strings.Replace(base, "    base_path: /a\n", "", 1), false},
		{"base_path trailing slash", strings.Replace(base, "base_path: /a", "base_path: /a/", 1), false},
		{"base_path relative", strings.Replace(base, "base_path: /a", "base_path: a", 1), false},
		{"missing reality", strings.Replace(base, "    reality: mock_v3\n", "", 1), false},
		{"reality typo", strings.Replace(base, "mock_v3", "mock_v4", 1), false},
		{"reality and reality_level", svc("reality_level: real"), false},
		{"workspace and workspace_id", svc("workspace: w\nworkspace_id: w"), false},
		{"upstream and config.upstream_url", svc("upstream: http://x\nconfig: { upstream_url: http://x }"), false},
		{"timeout integer", svc("timeout: 5"), false},
		{"timeout words", svc("timeout: 2 seconds"), false},
		{"strip_prefix string", svc("strip_prefix: sure"), false},
		{"protocol typo", svc("protocol: grcp"), false},
		{"host with port", svc("host: api.example.com:80"), false},
		{"depends_on string", svc("depends_on: b"), false},
		{"blend unknown key", svc("blend: { ratoi: 1 }"), false},
		{"blend strategy typo", svc("blend: { strategy: real_frist }"), false},
		{"blend status 600", svc("blend: { fallback_status: [600] }"), false},
		{"blend sample 2", svc("blend: { sample: 2 }"), false},
		{"blend method lower case", svc("blend: { merge_methods: [get] }"), false},
		{"chaos fault without p", svc("chaos: { reset: {} }"), false},
		{"chaos abort status 200", svc("chaos: { abort: { p: 1, status: 200 } }"), false},
		{"chaos latency two kinds", svc("chaos: { latency: { p: 1, fixed: 1s, uniform: [1s, 2s] } }"), false},
		{"chaos latency one bound", svc("chaos: { latency: { p: 1, uniform: [1s] } }"), false},
		{"chaos seed string", svc("chaos: { seed: abc }"), false},
		{"chaos base prod", svc("chaos: { base: prod }"), false},
		{"chaos fault unknown key", svc("chaos: { hang: { p: 1, delay: 1s } }"), false},
		{"scenario unknown key", base + "scenarios:\n  - name: x\n    weight: 1\n", false},
		{"override unknown key", base + "scenarios:\n  - name: x\n    services: { a: { upstream: http://x } }\n", false},
		{"mockforge wrapper beside name", mf + "name: shop\n", false},
		{"mockforge reality_level typo", strings.Replace(mf, "MockV3", "MockV4", 1), false},
		{"mockforge blend_ratio 2", mf + "      config: { blend_ratio: 2 }\n", false},
		{"duplicate key", base + "name: other\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, perr := Parse("inline.yaml", []byte(tt.src))
			serr := validateYAML(t, "inline.yaml", []byte(tt.src))
			if (perr == nil) != tt.valid {
				t.Errorf("Parse = %v; want valid %v", perr, tt.valid)
			}
			if (serr == nil) != tt.valid {
				t.Errorf("schema validation = %v; want valid %v", serr, tt.valid)
			}
		})
	}
}

// examplesGlob names the quickstart's federations wherever the example
// keeps them (examples/quickstart/federations, formerly under config/).
const examplesGlob = "../examples/quickstart/{config/,}federations/*.yaml"

// TestSchemaCommentInExamples checks every `# yaml-language-server:
// $schema=` line of the examples names this package's schema, by a path
// relative to the file that resolves.
func TestSchemaCommentInExamples(t *testing.T) {
	files, err := schematest.Glob(examplesGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no example federations: %v", err)
	}
	schematest.CheckComments(t, files, jsonSchema)
}
