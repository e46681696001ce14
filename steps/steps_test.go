package steps_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// TestAPIHasNoYAMLTypes checks that no exported method of the types a host
// or step author uses takes or returns a YAML library type (Type.Check
// took a *yaml.Node; the load-time check is internal now).
func TestAPIHasNoYAMLTypes(t *testing.T) {
	var mentions func(typ reflect.Type, seen map[reflect.Type]bool) bool
	mentions = func(typ reflect.Type, seen map[reflect.Type]bool) bool {
		if seen[typ] {
			return false
		}
		seen[typ] = true
		if strings.Contains(typ.PkgPath(), "yaml") {
			return true
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
			return mentions(typ.Elem(), seen)
		case reflect.Map:
			return mentions(typ.Key(), seen) || mentions(typ.Elem(), seen)
		case reflect.Func:
			for i := range typ.NumIn() {
				if mentions(typ.In(i), seen) {
					return true
				}
			}
			for i := range typ.NumOut() {
				if mentions(typ.Out(i), seen) {
					return true
				}
			}
		case reflect.Struct:
			for i := range typ.NumField() {
				if f := typ.Field(i); f.IsExported() && mentions(f.Type, seen) {
					return true
				}
			}
		}
		return false
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[*steps.Type](), reflect.TypeFor[*steps.Registry](), reflect.TypeFor[*steps.ConfigError](),
		reflect.TypeFor[steps.Input](), reflect.TypeFor[steps.Output](),
	} {
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			if mentions(m.Type, map[reflect.Type]bool{}) {
				t.Errorf("(%s).%s has a YAML type in its signature %s", typ, m.Name, m.Type)
			}
		}
		if mentions(typ, map[reflect.Type]bool{}) {
			t.Errorf("%s has an exported YAML-typed field", typ)
		}
	}
}

// TestRegisterRejectsStepTagTypo checks that a misspelt `step` tag option
// fails Register: accepted silently, it left a "required" field optional.
func TestRegisterRejectsStepTagTypo(t *testing.T) {
	type typo struct {
		Channel string `json:"channel" step:"requried"`
	}
	r := steps.NewRegistry()
	if err := steps.Register(r, "typo", func(typo) (steps.Step, error) { return steps.StepFunc(nopStep), nil }); err == nil {
		t.Errorf("Register(step:\"requried\") = nil; want an error")
	}
	if _, ok := r.Lookup("typo"); ok {
		t.Errorf("Lookup(typo) found a type that failed to register")
	}
}
