package steps

import (
	"context"
	"errors"
)

// EmailTarget sends mail over SMTP. (Being built.)
type EmailTarget struct {
	Host string `json:"host" step:"required"`
}

func (n *notifier) email(path string, t EmailTarget) (func(context.Context, Input) (map[string]any, error), error) {
	return nil, &ConfigError{Path: path, Msg: errors.New("the email target is not implemented yet").Error()}
}
