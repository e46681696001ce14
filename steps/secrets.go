package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrSecretNotFound is returned (wrapped) by a SecretSource that has no
// secret of the requested name.
var ErrSecretNotFound = errors.New("steps: secret not found")

// SecretSource resolves the names used as `${{ secrets.NAME }}`.
type SecretSource interface {
	Secret(ctx context.Context, name string) (string, error)
}

// DefaultSecretPrefix is the prefix EnvSecrets uses when Prefix is empty.
const DefaultSecretPrefix = "MOCKOPS_SECRET_"

// EnvSecrets reads secrets from environment variables: secrets.TOKEN is
// the variable Prefix+"TOKEN". The zero value reads MOCKOPS_SECRET_* from
// the process environment. A prefix is always applied so that a pipeline
// author cannot read arbitrary variables (cloud credentials, database
// passwords) of the host process.
type EnvSecrets struct {
	Prefix string
	// Lookup replaces os.LookupEnv (tests inject a map).
	Lookup func(key string) (string, bool)
}

var _ SecretSource = EnvSecrets{}

// Secret implements SecretSource. Names are restricted to letters, digits
// and underscores, as environment variables are.
func (s EnvSecrets) Secret(_ context.Context, name string) (string, error) {
	if !validSecretName(name) {
		return "", fmt.Errorf("steps: invalid secret name %q: %w", name, ErrSecretNotFound)
	}
	prefix := s.Prefix
	if prefix == "" {
		prefix = DefaultSecretPrefix
	}
	lookup := s.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(prefix + name)
	if !ok {
		return "", fmt.Errorf("steps: secret %q (variable %s%s): %w", name, prefix, name, ErrSecretNotFound)
	}
	return v, nil
}

func validSecretName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
