package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mockops/mockops/events"
)

// Promoter moves an entity of the host platform (a scenario, a persona, a
// config) from one environment to the next. The auto_promote step calls it.
//
// Promote may be called again for the same request when an attempt is
// retried (for example because the promotion.completed event could not be
// published after the promotion succeeded): Request.IdempotencyKey is the
// same on every attempt of one step run, and a Promoter should treat a
// repeated key as the promotion it already did.
type Promoter interface {
	Promote(ctx context.Context, req PromotionRequest) (PromotionResult, error)
}

// PromoterFunc adapts a function to Promoter.
type PromoterFunc func(ctx context.Context, req PromotionRequest) (PromotionResult, error)

// Promote calls f.
func (f PromoterFunc) Promote(ctx context.Context, req PromotionRequest) (PromotionResult, error) {
	return f(ctx, req)
}

// PromotionRequest is what auto_promote asks a Promoter to do.
type PromotionRequest struct {
	Workspace       string
	EntityType      string
	EntityID        string
	EntityVersion   string // empty: the entity's current version
	FromEnvironment string
	ToEnvironment   string
	Comments        string
	// IdempotencyKey is "<execution>/<step id>": the same on every attempt.
	IdempotencyKey string
}

// PromotionResult is a Promoter's answer.
type PromotionResult struct {
	// ID identifies the promotion in the host (empty if it has none).
	ID string
	// Version is the entity version promoted, when the request left it
	// empty and the host resolved it.
	Version string
}

// AutoPromoteConfig is the `with:` block of the auto_promote step type.
type AutoPromoteConfig struct {
	EntityType      string `json:"entity_type" step:"required"`
	EntityID        string `json:"entity_id" step:"required"`
	EntityVersion   string `json:"entity_version"`
	FromEnvironment string `json:"from_environment" step:"required"`
	ToEnvironment   string `json:"to_environment" step:"required"`
	// Environments lists the environments in promotion order ("dev",
	// "staging", "prod"); from and to must both be in it. Pipelines usually
	// set it once in `defaults.with.auto_promote`.
	Environments []string `json:"environments" step:"required"`
	// AllowSkip permits promoting past the next environment (dev -> prod).
	AllowSkip bool `json:"allow_skip"`
	// AllowBackward permits promoting to an earlier environment (a rollback).
	AllowBackward bool `json:"allow_backward"`
	// Workspace defaults to the triggering event's workspace.
	Workspace string `json:"workspace"`
	Comments  string `json:"comments"`
}

// ErrPromotionOrder is returned (wrapped, permanent) when a promotion skips
// environments or moves backwards without being allowed to, or names an
// environment that is not in the list.
var ErrPromotionOrder = errors.New("steps: promotion not allowed by the environment order")

// RegisterAutoPromote registers the auto_promote step type, which asks p to
// promote an entity and, on success, publishes promotion.completed
// (events.PromotionCompleted) through Input.Publisher, caused by the
// triggering event. Outputs:
//
//	promotion_id      the Promoter's id for it (may be empty)
//	entity_type, entity_id, entity_version (as promoted), from_environment, to_environment
//	event_id          the id of the promotion.completed event
//
// The environment order is checked before p is called: a promotion to the
// same environment, past the next one (unless allow_skip) or to an earlier
// one (unless allow_backward) fails permanently with ErrPromotionOrder.
// Errors from p are returned as they are, so a Promoter marks the ones
// retrying cannot fix with Permanent.
func RegisterAutoPromote(r *Registry, p Promoter) error {
	if p == nil {
		return errors.New("steps: register auto_promote: nil Promoter")
	}
	return Register(r, "auto_promote", func(cfg AutoPromoteConfig) (Step, error) {
		if err := checkPromotionOrder(cfg); err != nil {
			return nil, Permanent(err)
		}
		return StepFunc(func(ctx context.Context, in Input) (Output, error) {
			return promote(ctx, in, p, cfg)
		}), nil
	})
}

func checkPromotionOrder(cfg AutoPromoteConfig) error {
	from := slices.Index(cfg.Environments, cfg.FromEnvironment)
	to := slices.Index(cfg.Environments, cfg.ToEnvironment)
	switch {
	case from < 0:
		return fmt.Errorf("%w: from_environment %q is not one of %q", ErrPromotionOrder, cfg.FromEnvironment, cfg.Environments)
	case to < 0:
		return fmt.Errorf("%w: to_environment %q is not one of %q", ErrPromotionOrder, cfg.ToEnvironment, cfg.Environments)
	case from == to:
		return fmt.Errorf("%w: from and to are both %q", ErrPromotionOrder, cfg.FromEnvironment)
	case to > from+1 && !cfg.AllowSkip:
		return fmt.Errorf("%w: %s -> %s skips %q (set allow_skip)", ErrPromotionOrder, cfg.FromEnvironment, cfg.ToEnvironment, cfg.Environments[from+1:to])
	case to < from && !cfg.AllowBackward:
		return fmt.Errorf("%w: %s -> %s moves backwards (set allow_backward)", ErrPromotionOrder, cfg.FromEnvironment, cfg.ToEnvironment)
	}
	return nil
}

func promote(ctx context.Context, in Input, p Promoter, cfg AutoPromoteConfig) (Output, error) {
	if in.Publisher == nil {
		// Checked first: a promotion whose event cannot be published would
		// leave the chain silently broken.
		return Output{}, Permanent(fmt.Errorf("steps: auto_promote: %w", ErrNoPublisher))
	}
	ws := cfg.Workspace
	if ws == "" {
		ws = in.Event.Workspace
	}
	req := PromotionRequest{
		Workspace:       ws,
		EntityType:      cfg.EntityType,
		EntityID:        cfg.EntityID,
		EntityVersion:   cfg.EntityVersion,
		FromEnvironment: cfg.FromEnvironment,
		ToEnvironment:   cfg.ToEnvironment,
		Comments:        cfg.Comments,
		IdempotencyKey:  in.Execution + "/" + in.StepID,
	}
	res, err := p.Promote(ctx, req)
	if err != nil {
		return Output{}, fmt.Errorf("steps: auto_promote %s %s (%s -> %s): %w",
			cfg.EntityType, cfg.EntityID, cfg.FromEnvironment, cfg.ToEnvironment, err)
	}
	version := cfg.EntityVersion
	if version == "" {
		version = res.Version
	}
	ev, err := events.PromotionCompleted(ws, events.Promotion{
		PromotionID:     res.ID,
		EntityType:      cfg.EntityType,
		EntityID:        cfg.EntityID,
		EntityVersion:   version,
		FromEnvironment: cfg.FromEnvironment,
		ToEnvironment:   cfg.ToEnvironment,
	})
	if err != nil {
		return Output{}, fmt.Errorf("steps: auto_promote: %w", err)
	}
	ev.Org = in.Event.Org
	ev, err = publishCaused(ctx, in, ev)
	if err != nil {
		return Output{}, fmt.Errorf("steps: auto_promote: promoted %s %s but promotion.completed was not published: %w",
			cfg.EntityType, cfg.EntityID, err)
	}
	return Output{Outputs: map[string]any{
		"promotion_id":     res.ID,
		"entity_type":      cfg.EntityType,
		"entity_id":        cfg.EntityID,
		"entity_version":   version,
		"from_environment": cfg.FromEnvironment,
		"to_environment":   cfg.ToEnvironment,
		"event_id":         ev.ID,
	}}, nil
}
