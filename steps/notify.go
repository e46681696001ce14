package steps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// NotifyConfig is the `with:` block of the "notify" step: one message
// delivered to every target in Targets, in order.
//
// As a shorthand for one Slack (or generic webhook) target, WebhookURL
// with Message (and Channel "slack", the default, or "webhook") stands for
// Targets: [{slack: {webhook_url: WebhookURL, text: Message}}] (a webhook
// target gets payload {"message": Message}). Channel alone is ignored, so
// a pipeline's `defaults.with.notify.channel` does not clash with steps
// that list targets.
//
// Outputs: targets (per target name: kind, and what the target reported:
// status, webhook_id, message_id, recipients), delivered and failed (the
// target names, in order). Every target is tried; if one fails the step
// fails with an error naming each failed target, permanently only when
// every failure is permanent. A retried step sends to every target again:
// webhook receivers deduplicate on webhook-id, which is the same on every
// attempt; Slack and mail recipients may see a message twice.
type NotifyConfig struct {
	Targets []NotifyTarget `json:"targets"`

	Channel    string `json:"channel"`
	WebhookURL string `json:"webhook_url"`
	Message    string `json:"message"`
}

// NotifyTarget is one destination; exactly one of Slack, Webhook and
// Email is set. Name (default: the kind, or kind_N for the N-th target
// when a kind repeats) keys the target's outputs and errors.
type NotifyTarget struct {
	Name    string         `json:"name"`
	Slack   *SlackTarget   `json:"slack"`
	Webhook *WebhookTarget `json:"webhook"`
	Email   *EmailTarget   `json:"email"`
}

// RegisterNotify registers the "notify" step type in r.
func RegisterNotify(r *Registry, deps Deps) error {
	if err := deps.check(); err != nil {
		return err
	}
	n := &notifier{deps: deps, client: deps.client(), log: deps.logger()}
	return Register(r, "notify", func(cfg NotifyConfig) (Step, error) {
		return &notifyStep{n: n, cfg: cfg}, nil
	})
}

// notifier holds what every notify step of one registration shares.
type notifier struct {
	deps   Deps
	client *http.Client
	log    *slog.Logger
}

type notifyStep struct {
	n   *notifier
	cfg NotifyConfig
}

// target is a resolved, named target.
type target struct {
	name, kind string
	send       func(ctx context.Context, in Input) (map[string]any, error)
}

func (s *notifyStep) targets() ([]target, error) {
	cfg := s.cfg
	list := cfg.Targets
	if cfg.WebhookURL != "" {
		if len(list) > 0 {
			return nil, &ConfigError{Path: "with.webhook_url", Msg: "the shorthand excludes targets: list the target there instead"}
		}
		switch cfg.Channel {
		case "", "slack":
			list = []NotifyTarget{{Slack: &SlackTarget{WebhookURL: cfg.WebhookURL, Text: cfg.Message}}}
		case "webhook":
			list = []NotifyTarget{{Webhook: &WebhookTarget{URL: cfg.WebhookURL, Payload: map[string]any{"message": cfg.Message}}}}
		default:
			return nil, &ConfigError{Path: "with.channel", Msg: fmt.Sprintf("the shorthand channel is \"slack\" or \"webhook\", not %q", cfg.Channel)}
		}
	}
	if len(list) == 0 {
		return nil, &ConfigError{Path: "with.targets", Msg: "no target: list at least one (or set webhook_url)"}
	}
	kinds := map[string]int{}
	for _, t := range list {
		kinds[kindOf(t)]++
	}
	var errs []error
	out := make([]target, 0, len(list))
	seen := map[string]bool{}
	for i, t := range list {
		path := fmt.Sprintf("with.targets[%d]", i)
		kind := kindOf(t)
		n := 0
		for _, p := range []bool{t.Slack != nil, t.Webhook != nil, t.Email != nil} {
			if p {
				n++
			}
		}
		if n != 1 {
			errs = append(errs, &ConfigError{Path: path, Msg: "set exactly one of slack, webhook and email"})
			continue
		}
		name := t.Name
		if name == "" {
			name = kind
			if kinds[kind] > 1 {
				name = kind + "_" + strconv.Itoa(i+1)
			}
		}
		if seen[name] {
			errs = append(errs, &ConfigError{Path: path + ".name", Msg: fmt.Sprintf("target name %q is used twice", name)})
			continue
		}
		seen[name] = true
		var send func(ctx context.Context, in Input) (map[string]any, error)
		var err error
		switch {
		case t.Slack != nil:
			send, err = s.n.slack(path+".slack", *t.Slack)
		case t.Webhook != nil:
			send, err = s.n.webhook(path+".webhook", *t.Webhook, name)
		case t.Email != nil:
			send, err = s.n.email(path+".email", *t.Email)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, target{name: name, kind: kind, send: send})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func kindOf(t NotifyTarget) string {
	switch {
	case t.Slack != nil:
		return "slack"
	case t.Webhook != nil:
		return "webhook"
	case t.Email != nil:
		return "email"
	}
	return "target"
}

// TargetError is the failure of one notify target.
type TargetError struct {
	Target string // the target's name
	Kind   string // "slack", "webhook", "email"
	Err    error
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("target %q (%s): %v", e.Target, e.Kind, e.Err)
}

func (e *TargetError) Unwrap() error { return e.Err }

func (s *notifyStep) Run(ctx context.Context, in Input) (Output, error) {
	targets, err := s.targets()
	if err != nil {
		return Output{}, Permanent(fmt.Errorf("steps: notify: %w", err))
	}
	log := in.Logger
	if log == nil {
		log = s.n.log
	}
	results := map[string]any{}
	delivered, failed := []string{}, []string{}
	var terrs []*TargetError
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			terrs = append(terrs, &TargetError{Target: t.name, Kind: t.kind, Err: err})
			failed = append(failed, t.name)
			continue
		}
		res, err := t.send(ctx, in)
		if res == nil {
			res = map[string]any{}
		}
		res["kind"] = t.kind
		results[t.name] = res
		if err != nil {
			terrs = append(terrs, &TargetError{Target: t.name, Kind: t.kind, Err: err})
			failed = append(failed, t.name)
			log.LogAttrs(ctx, slog.LevelWarn, "steps: notify target failed", slog.String("target", t.name), slog.String("kind", t.kind), slog.String("error", err.Error()))
			continue
		}
		delivered = append(delivered, t.name)
		log.LogAttrs(ctx, slog.LevelInfo, "steps: notify target delivered", slog.String("target", t.name), slog.String("kind", t.kind))
	}
	out := Output{Outputs: map[string]any{"targets": results, "delivered": delivered, "failed": failed}}
	if len(terrs) == 0 {
		return out, nil
	}
	return out, notifyErr(terrs, len(targets))
}

// notifyErr joins the failed targets' errors: permanent when each is,
// otherwise with their own permanent marks removed, so that IsPermanent
// (which looks through every joined error) does not stop the engine
// retrying a target that may still pass.
func notifyErr(terrs []*TargetError, total int) error {
	all := true
	for _, te := range terrs {
		all = all && IsPermanent(te.Err)
	}
	errs := make([]error, len(terrs))
	for i, te := range terrs {
		if !all {
			var pe *permanentError
			for errors.As(te.Err, &pe) && te.Err == error(pe) {
				te.Err = pe.err
			}
		}
		errs[i] = te
	}
	err := fmt.Errorf("steps: notify: %d of %d targets failed: %w", len(terrs), total, errors.Join(errs...))
	if all {
		return Permanent(err)
	}
	return err
}
