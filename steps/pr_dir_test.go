package steps_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mockops/mockops/steps"
)

// TestCreatePRFromGeneratedSDK chains regenerate_sdk (the default command
// generator running a program built by the test) into create_pr, which
// commits the generated directory through the GitHub git data API.
func TestCreatePRFromGeneratedSDK(t *testing.T) {
	bin := buildGenerator(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "spec.yaml"), []byte("openapi: 3.1.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A symbolic link inside the output is not followed.
	outside := filepath.Join(t.TempDir(), "host-secret.txt")
	if err := os.WriteFile(outside, []byte("not for the repository"), 0o644); err != nil {
		t.Fatal(err)
	}
	gen, err := steps.NewCommandGenerator(steps.CommandConfig{
		Root:     root,
		Commands: map[string]steps.Command{"go": {Path: bin, Args: []string{"gen", "{spec}", "{output}"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := steps.NewRegistry()
	if err := steps.RegisterRegenerateSDK(r, gen); err != nil {
		t.Fatal(err)
	}
	if err := steps.RegisterCreatePRWith(r, steps.CreatePROptions{FilesRoot: root}); err != nil {
		t.Fatal(err)
	}
	sdkOut, err := runStep(t, r, "regenerate_sdk", map[string]any{"spec": "spec.yaml", "languages": []any{"go"}}, steps.Input{})
	if err != nil {
		t.Fatalf("regenerate_sdk = %v", err)
	}
	// What a pipeline writes as ${{ steps.sdk.outputs.languages.go.output_dir }}.
	outDir := sdkOut.Outputs["languages"].(map[string]any)["go"].(map[string]any)["output_dir"].(string)
	if err := os.Symlink(outside, filepath.Join(outDir, "link.txt")); err != nil {
		t.Fatal(err)
	}

	f, srv := newFakeGitHub(t)
	with := githubWith(srv.URL, f.token, file("README.md", "# sdk (regenerated)\n"))
	with["directories"] = []any{map[string]any{"from": outDir, "to": "clients/go"}}
	out, err := runStep(t, r, "create_pr", with, steps.Input{})
	if err != nil {
		t.Fatalf("create_pr = %v", err)
	}
	got := f.files("mockops/sdk-update")
	env, _ := os.ReadFile(filepath.Join(outDir, "env.txt"))
	want := map[string]string{
		"README.md": "# sdk (regenerated)\n", "old.txt": "old", "gen.sh": "#!/bin/sh\n",
		"clients/go/client.txt": "client for openapi: 3.1.0", "clients/go/env.txt": string(env), "clients/go/models/types.txt": "types",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("branch files mismatch (-want +got):\n%s", diff)
	}
	if out.Outputs["action"] != "created" {
		t.Errorf("action = %v; want created", out.Outputs["action"])
	}
}

func TestCreatePRDirectoryErrors(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"sdk/a.txt", "sdk/b.txt"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	escape := filepath.Join(root, "escape")
	if err := os.Symlink(t.TempDir(), escape); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     steps.CreatePROptions
		dirs     []any
		files    []any
		contains string
	}{
		{"no files root", steps.CreatePROptions{}, []any{map[string]any{"from": "sdk"}}, nil, "no FilesRoot"},
		{"outside the root", steps.CreatePROptions{FilesRoot: root}, []any{map[string]any{"from": "../"}}, nil, "not inside"},
		{"absolute outside", steps.CreatePROptions{FilesRoot: root}, []any{map[string]any{"from": os.TempDir()}}, nil, "not inside"},
		{"link out of the root", steps.CreatePROptions{FilesRoot: root}, []any{map[string]any{"from": "escape"}}, nil, "not inside"},
		{"missing directory", steps.CreatePROptions{FilesRoot: root}, []any{map[string]any{"from": "nope"}}, nil, "nope"},
		{"too many files", steps.CreatePROptions{FilesRoot: root, MaxDirectoryFiles: 1}, []any{map[string]any{"from": "sdk"}}, nil, "more than 1 files"},
		{"too many bytes", steps.CreatePROptions{FilesRoot: root, MaxDirectoryBytes: 1}, []any{map[string]any{"from": "sdk"}}, nil, "more than 1 bytes"},
		{"path given twice", steps.CreatePROptions{FilesRoot: root}, []any{map[string]any{"from": "sdk", "to": "d"}}, []any{file("d/a.txt", "y")}, "twice"},
		{"bad target", steps.CreatePROptions{FilesRoot: root}, []any{map[string]any{"from": "sdk", "to": "../x"}}, nil, "directories[0].to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := steps.NewRegistry()
			if err := steps.RegisterCreatePRWith(r, tt.opts); err != nil {
				t.Fatal(err)
			}
			with := map[string]any{"provider": "github", "base_url": "http://127.0.0.1:1", "repo": "o/r", "token": "t",
				"branch": "b", "title": "x", "directories": tt.dirs}
			if tt.files != nil {
				with["files"] = tt.files
			}
			_, err := runStep(t, r, "create_pr", with, steps.Input{})
			if err == nil || !steps.IsPermanent(err) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Run = %v; want a permanent error mentioning %q", err, tt.contains)
			}
			var apiErr *steps.APIError
			if errors.As(err, &apiErr) {
				t.Errorf("Run = %v; want the directory refused before any request", err)
			}
		})
	}
}
