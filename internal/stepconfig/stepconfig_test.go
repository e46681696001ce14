package stepconfig

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

type notifyConfig struct {
	Channel  string            `json:"channel" step:"required"`
	Message  string            `json:"message"`
	Retries  int               `json:"retries"`
	Ratio    float64           `json:"ratio"`
	Urgent   bool              `json:"urgent"`
	Timeout  time.Duration     `json:"timeout"`
	To       []string          `json:"to"`
	Headers  map[string]string `json:"headers"`
	SMTP     *smtpConfig       `json:"smtp"`
	Extra    any               `json:"extra"`
	Endpoint *url.URL          `json:"-"`
	Files    []fileConfig      `json:"files"`
}

type smtpConfig struct {
	Host string `json:"host" step:"required"`
	Port uint16 `json:"port"`
}

type fileConfig struct {
	Path string `json:"path" step:"required"`
}

func parseNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestCheck(t *testing.T) {
	typ := reflect.TypeFor[notifyConfig]()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"valid", "channel: ops\nretries: 3\nratio: 0.5\nurgent: true\ntimeout: 5m\nto: [a, b]\nheaders: {X: y}\nsmtp: {host: h, port: 25}\nextra: {any: [1]}\n", nil},
		{"templates", "channel: ${{ event.data.c }}\nretries: ${{ event.data.n }}\nto: ${{ event.data.to }}\nmessage: 'hi ${{ event.workspace }}'\n", nil},
		{"unknown key", "channel: a\nchanel: b\n", []string{`2:1 with: unknown key "chanel" (did you mean "channel"?)`}},
		{"missing required", "message: x\n", []string{`1:1 with: missing required field "channel"`}},
		{"wrong types", "channel: [a]\nretries: many\nurgent: 1\ntimeout: 10\nto: x\nratio: yes\n", []string{
			"1:10 with.channel: expected a string, got a list",
			"2:10 with.retries: expected an integer that fits int, got a string",
			"3:9 with.urgent: expected a boolean, got an integer",
			`4:10 with.timeout: expected a duration such as "30s" or "5m", got an integer`,
			"5:5 with.to: expected a list, got a string",
			"6:8 with.ratio: expected a number, got a string",
		}},
		{"nested", "channel: a\nsmtp: {port: 70000, hots: x}\nfiles: [{path: a}, {}]\n", []string{
			"2:14 with.smtp.port: expected a non-negative integer that fits uint16, got 70000",
			"2:21 with.smtp: unknown key \"hots\" (did you mean \"host\"?)",
			"2:7 with.smtp: missing required field \"host\"",
			"3:20 with.files[1]: missing required field \"path\"",
		}},
		{"mixed template into int", "channel: a\nretries: 'n=${{ event.data.n }}'\n", []string{
			"2:10 with.retries: a template mixed with text renders a string, but this field takes an integer",
		}},
		{"yaml tag", "channel: !ops\nmessage: !important read me\n", []string{
			"1:10 with.channel: YAML reads !ops as a tag (a plain value that starts with '!'), not as text; quote the whole value: '!ops'",
			"2:10 with.message: YAML reads !important as a tag (a plain value that starts with '!'), not as text; quote the whole value: '!important read me'",
		}},
		{"hidden field", "channel: a\nEndpoint: x\n", []string{`2:1 with: unknown key "Endpoint"`}},
		{"null required", "channel: null\n", []string{`1:1 with: missing required field "channel"`}},
		{"not a mapping", "[1]\n", []string{"1:1 with: expected a mapping, got a list"}},
		// yaml.v3 tags a plain date as a timestamp; to a string field it is text.
		{"date in a string", "channel: 2024-01-01\nto: [2024-01-01T10:00:00Z]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range Check(typ, parseNode(t, tt.src)) {
				got = append(got, fmt.Sprintf("%d:%d %s", e.Line, e.Column, e.Error()))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
	if errs := Check(typ, nil); len(errs) != 1 || errs[0].Line != 0 || !strings.Contains(errs[0].Msg, `"channel"`) {
		t.Errorf("Check(nil) = %v; want one unpositioned missing channel", errs)
	}
}

// TestCheckTypeNamesTheField checks that registration-time errors say
// which field is wrong, and that a misspelt `step` tag option is an error
// rather than a silently optional field.
func TestCheckTypeNamesTheField(t *testing.T) {
	type inner struct {
		C chan int `json:"c"`
	}
	tests := []struct {
		name string
		typ  reflect.Type
		want string // "" = accepted
	}{
		{"top-level chan", reflect.TypeFor[struct{ C chan int }](), "config field C: type chan int is not supported"},
		{"nested chan", reflect.TypeFor[struct{ Files []inner }](), "config field Files[].C: type chan int is not supported"},
		{"map key", reflect.TypeFor[struct{ M map[int]string }](), "config field M: type map[int]string: map keys must be strings"},
		{"interface", reflect.TypeFor[struct{ S fmt.Stringer }](), "config field S: type fmt.Stringer: only the empty interface is supported"},
		{"tag typo", reflect.TypeFor[struct {
			Name string `json:"name" step:"requried"`
		}](), `config field Name: unknown step tag option "requried" (did you mean "required"?) (the only option is "required")`},
		{"empty tag option", reflect.TypeFor[struct {
			Name string `step:""`
		}](), `config field Name: unknown step tag option "" (the only option is "required")`},
		{"required", reflect.TypeFor[struct {
			Name string `json:"name" step:"required"`
		}](), ""},
		{"untagged", reflect.TypeFor[notifyConfig](), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckType(tt.typ)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("CheckType(%s) = %q; want %q", tt.typ, got, tt.want)
			}
		})
	}
}
