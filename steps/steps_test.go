package steps_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/steps"
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

func nopStep(context.Context, steps.Input) (steps.Output, error) { return steps.Output{}, nil }

func newRegistry(t *testing.T) *steps.Registry {
	t.Helper()
	r := steps.NewRegistry()
	steps.MustRegister(r, "notify", func(cfg notifyConfig) (steps.Step, error) {
		return steps.StepFunc(func(context.Context, steps.Input) (steps.Output, error) {
			return steps.Output{Outputs: map[string]any{"channel": cfg.Channel}}, nil
		}), nil
	})
	return r
}

func TestRegistry(t *testing.T) {
	r := newRegistry(t)
	steps.MustRegister(r, "emit", func(struct{}) (steps.Step, error) { return steps.StepFunc(nopStep), nil })
	steps.MustRegister(r, "create_pr", func(struct{}) (steps.Step, error) { return steps.StepFunc(nopStep), nil })
	if diff := cmp.Diff([]string{"create_pr", "emit", "notify"}, r.Names()); diff != "" {
		t.Errorf("Names mismatch (-want +got):\n%s", diff)
	}
	if typ, ok := r.Lookup("notify"); !ok || typ.Name() != "notify" {
		t.Errorf("Lookup(notify) = %v, %v", typ, ok)
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Errorf("Lookup(nope) found a type")
	}
	err := steps.Register(r, "notify", func(struct{}) (steps.Step, error) { return nil, nil })
	if !errors.Is(err, steps.ErrDuplicate) {
		t.Errorf("Register(duplicate) = %v; want ErrDuplicate", err)
	}
	for _, name := range []string{"", "Notify", "1x", "a b"} {
		if err := steps.Register(r, name, func(struct{}) (steps.Step, error) { return nil, nil }); err == nil {
			t.Errorf("Register(%q) = nil; want an invalid name error", name)
		}
	}
	if err := steps.Register(r, "bad", func(int) (steps.Step, error) { return nil, nil }); err == nil {
		t.Errorf("Register(non-struct config) = nil")
	}
	if err := steps.Register(r, "bad", func(struct{ C chan int }) (steps.Step, error) { return nil, nil }); err == nil {
		t.Errorf("Register(chan field) = nil")
	}
	type twoNames struct {
		A string `json:"B"`
		B int
	}
	if err := steps.Register(r, "bad", func(twoNames) (steps.Step, error) { return nil, nil }); err == nil || !strings.Contains(err.Error(), `two fields are named "B"`) {
		t.Errorf("Register(two fields named B) = %v; want an error", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("MustRegister(duplicate) did not panic")
			}
		}()
		steps.MustRegister(r, "emit", func(struct{}) (steps.Step, error) { return nil, nil })
	}()
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
	typ, _ := newRegistry(t).Lookup("notify")
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
		{"hidden field", "channel: a\nEndpoint: x\n", []string{`2:1 with: unknown key "Endpoint"`}},
		{"null required", "channel: null\n", []string{`1:1 with: missing required field "channel"`}},
		{"not a mapping", "[1]\n", []string{"1:1 with: expected a mapping, got a list"}},
		// yaml.v3 tags a plain date as a timestamp; to a string field it is text.
		{"date in a string", "channel: 2024-01-01\nto: [2024-01-01T10:00:00Z]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range typ.Check(parseNode(t, tt.src)) {
				got = append(got, fmt.Sprintf("%d:%d %s", e.Line, e.Column, e.Error()))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
	if errs := typ.Check(nil); len(errs) != 1 || errs[0].Line != 0 || !strings.Contains(errs[0].Msg, `"channel"`) {
		t.Errorf("Check(nil) = %v; want one unpositioned missing channel", errs)
	}
}

func TestDecodeRendered(t *testing.T) {
	typ, _ := newRegistry(t).Lookup("notify")
	with := map[string]any{
		"channel": "ops", "retries": int64(3), "ratio": 2.0, "urgent": true, "timeout": "90s",
		"to": []any{"a", "b"}, "headers": map[string]any{"X": "y"}, "smtp": map[string]any{"host": "mx", "port": float64(25)},
		"extra": map[string]any{"k": []any{int64(1)}}, "files": []any{map[string]any{"path": "p"}},
	}
	got, err := typ.Decode(with)
	if err != nil {
		t.Fatal(err)
	}
	want := notifyConfig{
		Channel: "ops", Retries: 3, Ratio: 2, Urgent: true, Timeout: 90 * time.Second, To: []string{"a", "b"},
		Headers: map[string]string{"X": "y"}, SMTP: &smtpConfig{Host: "mx", Port: 25},
		Extra: map[string]any{"k": []any{1}}, Files: []fileConfig{{Path: "p"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
	// Rendered values are checked again: a template produced the wrong type.
	_, err = typ.Decode(map[string]any{"channel": []any{"x"}, "retries": 2.5, "bogus": 1})
	for _, want := range []string{"with.channel: expected a string, got a list", "with.retries: expected an integer", `unknown key "bogus"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(bad) = %v; want it to contain %q", err, want)
		}
	}
	step, err := typ.New(map[string]any{"channel": "c"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := step.Run(context.Background(), steps.Input{})
	if err != nil || out.Outputs["channel"] != "c" {
		t.Errorf("Run = %v, %v; want channel c", out, err)
	}
	if _, err := typ.New(map[string]any{}); !steps.IsPermanent(err) {
		t.Errorf("New(missing required) = %v; want a permanent error", err)
	}
	cfg, err := steps.DecodeConfig[smtpConfig](map[string]any{"host": "h", "port": int64(2525)})
	if err != nil || cfg != (smtpConfig{Host: "h", Port: 2525}) {
		t.Errorf("DecodeConfig = %+v, %v", cfg, err)
	}
}

func TestPermanent(t *testing.T) {
	base := io.ErrUnexpectedEOF
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{base, false},
		{steps.Permanent(base), true},
		{fmt.Errorf("wrapped: %w", steps.Permanent(base)), true},
	}
	for _, tt := range tests {
		if got := steps.IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
	if steps.Permanent(nil) != nil {
		t.Errorf("Permanent(nil) != nil")
	}
	if err := steps.Permanent(base); !errors.Is(err, base) || err.Error() != base.Error() {
		t.Errorf("Permanent(%v) = %v; want it to wrap and keep the message", base, err)
	}
}

func TestEnvSecrets(t *testing.T) {
	env := map[string]string{"MOCKOPS_SECRET_TOKEN": "t1", "APP_KEY": "k1", "AWS_SECRET": "no"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		src     steps.EnvSecrets
		name    string
		want    string
		missing bool
	}{
		{steps.EnvSecrets{Lookup: lookup}, "TOKEN", "t1", false},
		{steps.EnvSecrets{Prefix: "APP_", Lookup: lookup}, "KEY", "k1", false},
		{steps.EnvSecrets{Lookup: lookup}, "AWS_SECRET", "", true},
		{steps.EnvSecrets{Prefix: "APP_", Lookup: lookup}, "../KEY", "", true},
		{steps.EnvSecrets{Lookup: lookup}, "", "", true},
	}
	for _, tt := range tests {
		got, err := tt.src.Secret(context.Background(), tt.name)
		if tt.missing {
			if !errors.Is(err, steps.ErrSecretNotFound) {
				t.Errorf("Secret(%q) = %q, %v; want ErrSecretNotFound", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Secret(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}
