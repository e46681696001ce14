package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/mockops/mockops/steps"
)

// logConfig configures the quickstart's own step type: hosts register
// their step types in a Registry they own, and pipelines are checked
// against them when they are stored.
type logConfig struct {
	Message string `json:"message" step:"required"`
}

// newSteps returns the host's step types: the built-ins (notify,
// create_pr, http, emit) and "log", which writes its message as a log
// record carrying the run's ids.
func newSteps() (*steps.Registry, error) {
	reg := steps.NewRegistry()
	if err := steps.RegisterBuiltins(reg, steps.Deps{}); err != nil {
		return nil, err
	}
	err := steps.Register(reg, "log", func(cfg logConfig) (steps.Step, error) {
		return steps.StepFunc(func(ctx context.Context, in steps.Input) (steps.Output, error) {
			in.Logger.InfoContext(ctx, "quickstart log", "message", cfg.Message)
			return steps.Output{Outputs: map[string]any{"message": cfg.Message}}, nil
		}), nil
	})
	return reg, err
}

// secretMap is the quickstart's SecretSource: hosts resolve
// `${{ secrets.NAME }}` from wherever they keep secrets (the default,
// steps.EnvSecrets, reads the environment).
type secretMap map[string]string

func (m secretMap) Secret(_ context.Context, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", fmt.Errorf("quickstart: no secret %q", name)
	}
	return v, nil
}

// demoSecrets points the pipelines at the platform's own stand-ins for a
// webhook receiver and GitHub, with a signing key and a token made up for
// this run: nothing outside the process is called.
func demoSecrets(baseURL string) secretMap {
	key := make([]byte, 24)
	rand.Read(key)
	tok := make([]byte, 16)
	rand.Read(tok)
	return secretMap{
		"WEBHOOK_URL":    baseURL + "/demo/webhook",
		"WEBHOOK_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(key),
		"GITHUB_API":     baseURL + "/demo/github",
		"GITHUB_TOKEN":   "ghp_demo" + hex.EncodeToString(tok),
	}
}
