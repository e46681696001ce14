// Package steps is the contract between the pipeline engine and the things
// a pipeline step does: a Step runs once per execution of a pipeline step,
// with the event, its rendered configuration (`with:`), the outputs of the
// steps before it, a logger and a Publisher.
//
// # Step types and their configuration
//
// A host registers each step type with a Go struct describing its `with:`
// block, in a Registry it owns (there is no global registry):
//
//	type NotifyConfig struct {
//		Channel string        `json:"channel" step:"required"`
//		Message string        `json:"message"`
//		Timeout time.Duration `json:"timeout"`
//	}
//
//	r := steps.NewRegistry()
//	steps.MustRegister(r, "notify", func(cfg NotifyConfig) (steps.Step, error) {
//		return &notifier{cfg: cfg}, nil
//	})
//
// Keys are the fields' json names (the rendered configuration is stored as
// JSON, so one name serves both); `json:"-"` hides a field; the `step` tag
// option "required" makes a field mandatory. It is the only option: any
// other `step` tag, such as a misspelt "requried", fails Register, as does
// a field of an unsupported type (the error names the field). Supported
// field types are strings, booleans, integers, floats, time.Duration
// (written "5m"), encoding.TextUnmarshaler implementations, slices,
// string-keyed maps, nested structs, pointers and `any`.
//
// The configuration is checked twice:
//
//   - when a pipeline is loaded (by the pipeline parser, against
//     Type.ConfigType): unknown keys (with a "did you mean"), literal
//     values of the wrong type and missing required fields are reported
//     with their YAML position. A value holding a
//     `${{ }}` template cannot be type-checked yet: a lone `${{ expr }}`
//     may produce any type and is accepted; a template mixed with text
//     always renders a string, so it is rejected where a string does not fit.
//   - when the step runs (Type.Decode, DecodeConfig): the rendered values
//     are decoded into the struct with the same rules, then the factory
//     builds the Step from it. Factories are called on every run and should
//     be cheap: capture long-lived dependencies (HTTP clients, credentials
//     sources) in the closure.
//
// # Errors
//
// A Step reports failure by returning an error. Wrap it with Permanent when
// retrying cannot help (a 400 from an API, an invalid configuration): the
// engine then does not retry.
//
// # Secrets
//
// `${{ secrets.NAME }}` values come from a SecretSource the host provides;
// EnvSecrets, the default, reads environment variables under a prefix.
//
// Built-in steps treat every field that may hold a secret (URLs, headers,
// signing keys, passwords, tokens) as one: errors and logs name a URL by
// its scheme and host only, and no configured value is copied into an
// output.
//
// # Built-in steps
//
// RegisterBuiltins(r, Deps{...}) registers the built-in types, sharing one
// outbound client; a host that wants only some calls the per-type
// registrars:
//
//   - http (RegisterHTTP): one request; outputs status, headers, body and
//     the parsed JSON body; expected statuses.
//   - notify (RegisterNotify): Slack incoming webhooks, Standard
//     Webhooks-signed webhooks and SMTP mail, several targets per step,
//     outputs and errors per target.
//   - emit (RegisterEmit): publishes an event through Input.Publisher,
//     caused by the triggering event (causationid, depth), so pipelines
//     chain.
//   - auto_promote (RegisterAutoPromote, registered by RegisterBuiltins
//     when Deps.Promoter is set): checks the environment order (no
//     skipping or moving backwards unless allowed), calls the host's
//     Promoter with an idempotency key, then emits promotion.completed
//     caused by the trigger.
//   - regenerate_sdk (RegisterRegenerateSDK, registered when
//     Deps.SDKGenerator is set): asks the host's SDKGenerator for each
//     language. The default, CommandGenerator, runs a configured command
//     per language (argument list, no shell, {spec}/{output} placeholders,
//     paths confined to a root, environment allow-list, timeout that kills
//     the process group) and reports the files produced with their
//     SHA-256, the exit status and a bounded output tail. OpenAPIGenerator
//     and OAPICodegen are argument presets.
//   - create_pr (RegisterCreatePR, RegisterCreatePRWith): GitHub (REST v3
//     git data API: one commit of creates, updates and deletes, then the
//     pull request, labels and reviewers; GitHub Enterprise base URLs;
//     X-RateLimit-* honoured) and GitLab (branch, one commit of actions,
//     merge request). Running it again for a branch updates the branch and
//     its open PR/MR instead of opening another. The token is a Bearer
//     header, never in outputs or errors. With a files root
//     (Deps.PRFilesRoot), `directories:` commits the files of a host
//     directory, such as the SDK regenerate_sdk produced.
//
// Each type's config struct (HTTPStepConfig, NotifyConfig, EmitConfig,
// AutoPromoteConfig, RegenerateSDKConfig, CreatePRConfig) documents its
// keys, outputs and failure semantics.
//
// # Outbound connections
//
// Every HTTP-based step uses one *http.Client: Deps.HTTPClient, or by
// default NewHTTPClient's, which bounds each call, sets a User-Agent,
// retries 429/502/503/504 honouring Retry-After (bounded, within the
// context's deadline, only for bodies it can replay, keeping an
// Idempotency-Key), follows no redirects, and dials through the egress
// policy (Deps.Egress): link-local and cloud metadata addresses are refused
// by default, decided on the resolved address at dial time, so a name that
// resolves to 169.254.169.254 is refused too. SMTP connections pass the same
// policy. A refusal matches ErrEgressDenied and is Permanent.
package steps
