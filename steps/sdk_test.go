package steps_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/steps"
)

// buildGenerator builds testdata/sdkgen with `go build` into a temporary
// directory and returns the binary's path.
func buildGenerator(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the generator tests use Unix process groups")
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "sdkgen", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module sdkgen\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sdkgen")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build sdkgen: %v\n%s", err, out)
	}
	return bin
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// processGone reports, polling up to a bound, whether pid no longer runs
// (it may linger as a zombie until its new parent reaps it).
func processGone(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return true
		}
	}
	return false
}

func TestRegenerateSDKCommand(t *testing.T) {
	bin := buildGenerator(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "specs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "specs", "payments.yaml"), []byte("openapi: 3.1.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostEnv := map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/home/ops", "MOCKOPS_SECRET_TOKEN": "s3cr3t-token"}
	gen, err := steps.NewCommandGenerator(steps.CommandConfig{
		Root: root,
		Commands: map[string]steps.Command{
			"go":         {Path: bin, Args: []string{"gen", "{spec}", "{output}"}, Env: map[string]string{"SDK_LANG": "{language}"}},
			"typescript": {Path: bin, Args: []string{"gen", "{spec}", "{output}"}},
		},
		LookupEnv: func(k string) (string, bool) { v, ok := hostEnv[k]; return v, ok },
	})
	if err != nil {
		t.Fatal(err)
	}
	r := steps.NewRegistry()
	if err := steps.RegisterRegenerateSDK(r, gen); err != nil {
		t.Fatal(err)
	}
	with := map[string]any{"spec": "specs/payments.yaml", "languages": []any{"go", "typescript"}, "output_dir": "out"}
	out, err := runStep(t, r, "regenerate_sdk", with, steps.Input{Event: triggerEvent(t)})
	if err != nil {
		t.Fatalf("Run = %v; want success", err)
	}
	langOut := func(lang, env string) map[string]any {
		return map[string]any{
			"output_dir":      filepath.Join(root, "out", lang),
			"exit_code":       0,
			"output_tail":     "generated 3 files\nwarning: nothing\n",
			"files_truncated": false,
			"files": []any{
				map[string]any{"path": "client.txt", "sha256": sum("client for openapi: 3.1.0"), "size": int64(25)},
				map[string]any{"path": "env.txt", "sha256": sum(env), "size": int64(len(env))},
				map[string]any{"path": "models/types.txt", "sha256": sum("types"), "size": int64(5)},
			},
		}
	}
	want := map[string]any{
		"files": 6,
		"languages": map[string]any{
			// Only the allow-listed PATH and the command's own variables.
			"go":         langOut("go", "PATH=/usr/bin:/bin\nSDK_LANG=go"),
			"typescript": langOut("typescript", "PATH=/usr/bin:/bin"),
		},
	}
	if diff := cmp.Diff(want, out.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}

	// A placeholder inside event data is text, not expanded again: the
	// generator reads the file literally named "{language}.yaml".
	if err := os.WriteFile(filepath.Join(root, "{language}.yaml"), []byte("literal"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := gen.Generate(context.Background(), steps.SDKRequest{Language: "go", Spec: "{language}.yaml", OutputDir: "lit"})
	if err != nil {
		t.Fatalf("Generate(spec {language}.yaml) = %v", err)
	}
	if got, want := res.Files[0].SHA256, sum("client for literal"); got != want {
		t.Errorf("client.txt sha256 = %s; want %s (the spec named {language}.yaml)", got, want)
	}
}

func TestRegenerateSDKCommandFailures(t *testing.T) {
	bin := buildGenerator(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "spec.yaml"), []byte("openapi: 3.1.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	gen, err := steps.NewCommandGenerator(steps.CommandConfig{
		Root: root,
		Commands: map[string]steps.Command{
			"go":      {Path: bin, Args: []string{"gen", "{spec}", "{output}"}},
			"failing": {Path: bin, Args: []string{"fail"}},
			"hanging": {Path: bin, Args: []string{"hang", pidFile}, Timeout: 300 * time.Millisecond},
			"missing": {Path: filepath.Join(root, "no-such-generator")},
		},
		TailBytes: 1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := steps.NewRegistry()
	if err := steps.RegisterRegenerateSDK(r, gen); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		with      map[string]any
		wantErr   error // checked with errors.Is when set
		permanent bool
		contains  string
	}{
		{"non-zero exit", map[string]any{"spec": "spec.yaml", "languages": []any{"failing"}}, nil, true, "error: boom"},
		{"timeout kills the group", map[string]any{"spec": "spec.yaml", "languages": []any{"hanging"}}, steps.ErrSDKTimeout, false, "hanging"},
		{"unknown language", map[string]any{"spec": "spec.yaml", "languages": []any{"cobol"}}, steps.ErrUnknownLanguage, true, "cobol"},
		{"missing executable", map[string]any{"spec": "spec.yaml", "languages": []any{"missing"}}, nil, true, "start generator"},
		{"spec outside the root", map[string]any{"spec": "../etc/passwd", "languages": []any{"go"}}, nil, true, "inside the generator's root"},
		{"absolute spec", map[string]any{"spec": "/etc/passwd", "languages": []any{"go"}}, nil, true, "inside the generator's root"},
		{"output outside the root", map[string]any{"spec": "spec.yaml", "languages": []any{"go"}, "output_dir": "../x"}, nil, true, "inside the generator's root"},
		{"duplicate language", map[string]any{"spec": "spec.yaml", "languages": []any{"go", "go"}}, nil, true, "twice"},
		{"no languages", map[string]any{"spec": "spec.yaml", "languages": []any{}}, nil, true, "no languages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runStep(t, r, "regenerate_sdk", tt.with, steps.Input{})
			if err == nil {
				t.Fatalf("Run = nil; want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Run = %v; want %v", err, tt.wantErr)
			}
			if steps.IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v; want %v", err, steps.IsPermanent(err), tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Run = %v; want it to mention %q", err, tt.contains)
			}
		})
	}
	// The hanging generator's child was in its process group: it was
	// killed too, not left running.
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the hanging generator wrote no child pid: %v", err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the hanging generator's child %d still runs after the timeout", pid)
	}
}

func TestRegenerateSDKOutputsOnFailure(t *testing.T) {
	bin := buildGenerator(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "spec.yaml"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	gen, err := steps.NewCommandGenerator(steps.CommandConfig{
		Root: root,
		Commands: map[string]steps.Command{
			"go":      {Path: bin, Args: []string{"gen", "{spec}", "{output}"}},
			"failing": {Path: bin, Args: []string{"fail"}},
		},
		TailBytes: 100,
		MaxFiles:  2,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := steps.NewRegistry()
	if err := steps.RegisterRegenerateSDK(r, gen); err != nil {
		t.Fatal(err)
	}
	out, err := runStep(t, r, "regenerate_sdk", map[string]any{"spec": "spec.yaml", "languages": []any{"go", "failing"}}, steps.Input{})
	if err == nil || !strings.Contains(err.Error(), "regenerate_sdk failing") {
		t.Fatalf("Run = %v; want the failing language named", err)
	}
	langs, _ := out.Outputs["languages"].(map[string]any)
	goOut, _ := langs["go"].(map[string]any)
	if files, _ := goOut["files"].([]any); len(files) != 2 || goOut["files_truncated"] != true {
		t.Errorf("go outputs = %v; want 2 files, truncated", goOut)
	}
	if _, ok := langs["failing"]; ok {
		t.Errorf("outputs hold the failing language: %v", langs)
	}
	res, err := gen.Generate(context.Background(), steps.SDKRequest{Language: "failing", Spec: "spec.yaml"})
	if err == nil || res.ExitCode != 3 {
		t.Fatalf("Generate(failing) = exit %d, %v; want exit 3 and an error", res.ExitCode, err)
	}
	if wantTail := strings.Repeat("x", 100-len("\nerror: boom\n")) + "\nerror: boom\n"; res.OutputTail != wantTail {
		t.Errorf("OutputTail = %q; want %q", res.OutputTail, wantTail)
	}
}

func TestNewCommandGenerator(t *testing.T) {
	if _, err := steps.NewCommandGenerator(steps.CommandConfig{}); err == nil {
		t.Errorf("NewCommandGenerator(no root) = nil error")
	}
	if _, err := steps.NewCommandGenerator(steps.CommandConfig{Root: t.TempDir(), Commands: map[string]steps.Command{"go": {}}}); err == nil {
		t.Errorf("NewCommandGenerator(command without path) = nil error")
	}
	if err := steps.RegisterRegenerateSDK(steps.NewRegistry(), nil); err == nil {
		t.Errorf("RegisterRegenerateSDK(nil) = nil error")
	}
}

func TestGeneratorPresets(t *testing.T) {
	tests := []struct {
		got, want steps.Command
	}{
		{steps.OpenAPIGenerator("typescript-fetch"), steps.Command{Path: "openapi-generator-cli", Args: []string{"generate", "-i", "{spec}", "-g", "typescript-fetch", "-o", "{output}"}}},
		{steps.OAPICodegen("payments"), steps.Command{Path: "oapi-codegen", Args: []string{"-generate", "types,client", "-package", "payments", "-o", "{output}/client.gen.go", "{spec}"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("preset mismatch (-want +got):\n%s", diff)
		}
	}
}

func TestRegenerateSDKCleanOutput(t *testing.T) {
	bin := buildGenerator(t)
	tests := []struct {
		clean     bool
		wantStale bool
	}{
		{clean: false, wantStale: true},
		{clean: true, wantStale: false},
	}
	for _, tt := range tests {
		t.Run("clean="+strconv.FormatBool(tt.clean), func(t *testing.T) {
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, "spec.yaml"), []byte("s"), 0o644); err != nil {
				t.Fatal(err)
			}
			stale := filepath.Join(root, "sdk", "go", "stale.txt")
			if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(stale, []byte("from an earlier run"), 0o644); err != nil {
				t.Fatal(err)
			}
			gen, err := steps.NewCommandGenerator(steps.CommandConfig{
				Root:        root,
				Commands:    map[string]steps.Command{"go": {Path: bin, Args: []string{"gen", "{spec}", "{output}"}}},
				CleanOutput: tt.clean,
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := gen.Generate(context.Background(), steps.SDKRequest{Language: "go", Spec: "spec.yaml"})
			if err != nil {
				t.Fatalf("Generate = %v", err)
			}
			var paths []string
			for _, f := range res.Files {
				paths = append(paths, f.Path)
			}
			want := []string{"client.txt", "env.txt", "models/types.txt"}
			if tt.wantStale {
				want = []string{"client.txt", "env.txt", "models/types.txt", "stale.txt"}
			}
			if diff := cmp.Diff(want, paths); diff != "" {
				t.Errorf("files mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
