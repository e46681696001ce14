package steps

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/mockops/mockops/internal/egress"
)

// Deps is what the built-in step types need from their host. The zero
// value works: the default outbound HTTP client (NewHTTPClient) with the
// default egress policy, a discarding logger and the wall clock.
//
// Hosts register every built-in at once with RegisterBuiltins, or only
// some with the per-type functions (RegisterHTTP, RegisterNotify), which
// take the same Deps.
type Deps struct {
	// HTTPClient is used as given by every HTTP-based step. Nil means a
	// client from NewHTTPClient built from Egress, UserAgent, TLSConfig,
	// Resolver and Logger. A host's client is not wrapped: it replaces
	// the default client's retries and egress policy with its own.
	HTTPClient *http.Client
	// Egress decides every outbound connection (HTTP when HTTPClient is
	// nil, and always SMTP), at dial time on the resolved address.
	Egress EgressPolicy
	// UserAgent is sent on outbound HTTP requests; empty means
	// DefaultUserAgent.
	UserAgent string
	// TLSConfig is the base of outbound TLS (HTTPS when HTTPClient is nil,
	// SMTP always): set RootCAs for a private CA. Nil means the system's.
	TLSConfig *tls.Config
	// Resolver resolves outbound names (nil: net.DefaultResolver). The
	// egress policy decides the addresses it returns.
	Resolver *net.Resolver
	// Logger receives the steps' own records (retries, deliveries); nil
	// discards. The engine's per-run logger (Input.Logger) is used where
	// a record belongs to one run.
	Logger *slog.Logger
	// Now is the clock for signatures and mail dates (nil: time.Now).
	Now func() time.Time

	// Promoter carries out auto_promote's promotions. Nil leaves
	// auto_promote unregistered: a pipeline that uses it is then refused
	// at load ("unknown step type"), not at run time.
	Promoter Promoter
	// SDKGenerator produces regenerate_sdk's SDKs (NewCommandGenerator
	// runs a command per language). Nil leaves regenerate_sdk
	// unregistered, as Promoter does auto_promote.
	SDKGenerator SDKGenerator
	// PRFilesRoot is the only host directory create_pr's `directories:`
	// may commit from (typically the CommandGenerator's Root); empty
	// refuses `directories:` (see CreatePROptions.FilesRoot).
	PRFilesRoot string
}

// EgressPolicy says which addresses outbound steps may connect to,
// enforced when a connection is dialled, on the address the name resolved
// to (so a name resolving to 169.254.169.254 is refused as the address
// itself is).
//
// The zero value denies link-local addresses (169.254.0.0/16, fe80::/10),
// the cloud metadata services (169.254.169.254, fd00:ec2::254,
// 100.100.100.200, ...), unspecified, multicast and broadcast addresses,
// and the metadata host names (metadata.google.internal, ...). Loopback
// and private addresses are allowed; list 127.0.0.0/8 and ::1/128 in Deny
// to refuse loopback. Rules combine by longest matching prefix, exactly as
// federation.EgressPolicy's (the same mechanism decides both).
type EgressPolicy struct {
	// Allow lists address ranges allowed even inside a denied range.
	Allow []netip.Prefix
	// Deny lists address ranges refused besides the defaults.
	Deny []netip.Prefix
	// AllowNames, when not empty, is the only host names that may be
	// dialled ("api.example.com", "*.example.com").
	AllowNames []string
	// DenyNames lists host names that are never dialled.
	DenyNames []string
}

// ErrEgressDenied is matched (errors.Is) by every refusal of the egress
// policy. Such an error is also Permanent.
var ErrEgressDenied = egress.ErrDenied

func (p EgressPolicy) policy() *egress.Policy {
	ep := egress.Policy(p)
	return &ep
}

// RegisterBuiltins registers the built-in step types in r, all sharing one
// outbound HTTP client: http, notify, emit and create_pr always;
// auto_promote when deps.Promoter is set and regenerate_sdk when
// deps.SDKGenerator is, since they act on the host's own systems. It stops
// at, and returns, the first error (a name already taken).
func RegisterBuiltins(r *Registry, deps Deps) error {
	if err := deps.check(); err != nil {
		return err
	}
	deps.HTTPClient = deps.client()
	registers := []func() error{
		func() error { return RegisterHTTP(r, deps) },
		func() error { return RegisterNotify(r, deps) },
		func() error { return RegisterEmit(r) },
		func() error {
			return RegisterCreatePRWith(r, CreatePROptions{Client: deps.HTTPClient, FilesRoot: deps.PRFilesRoot})
		},
	}
	if deps.Promoter != nil {
		registers = append(registers, func() error { return RegisterAutoPromote(r, deps.Promoter) })
	}
	if deps.SDKGenerator != nil {
		registers = append(registers, func() error { return RegisterRegenerateSDK(r, deps.SDKGenerator) })
	}
	for _, register := range registers {
		if err := register(); err != nil {
			return err
		}
	}
	return nil
}

// check reports Deps no step could use.
func (d Deps) check() error {
	if err := d.Egress.policy().Validate(); err != nil {
		return errors.Join(errors.New("steps: invalid egress policy"), err)
	}
	return nil
}

// client returns the HTTP client every HTTP-based step uses.
func (d Deps) client() *http.Client {
	if d.HTTPClient != nil {
		return d.HTTPClient
	}
	return NewHTTPClient(HTTPConfig{
		UserAgent: d.UserAgent,
		Egress:    d.Egress,
		TLSConfig: d.TLSConfig,
		Resolver:  d.Resolver,
		Logger:    d.Logger,
	})
}

func (d Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
