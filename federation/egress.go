package federation

import (
	"net/netip"

	"github.com/mockops/mockops/internal/egress"
)

// EgressPolicy says which addresses the Router may connect to for a
// service's upstream. It is enforced when a connection is dialled, on the
// address the upstream's name resolved to, so a name that resolves to a
// denied address (DNS rebinding, "localhost" when loopback is denied) is
// refused too; an upstream whose URL already shows a denied address or
// name is rejected when the snapshot is built.
//
// The zero value denies link-local addresses (169.254.0.0/16, fe80::/10),
// the cloud metadata services (169.254.169.254, fd00:ec2::254,
// 100.100.100.200, ...), unspecified, multicast and broadcast addresses,
// and the metadata host names (metadata.google.internal, ...). Loopback
// and private addresses are allowed: hosts proxy to loopback upstreams in
// tests and to private services in production. To deny loopback, list
// 127.0.0.0/8 and ::1/128 in Deny.
//
// An address is decided by the longest matching prefix among Allow, Deny
// and the defaults; at equal length Allow and Deny beat a default and
// Deny beats Allow. So Allow 169.254.0.0/16 opens link-local but not the
// metadata addresses (allow their /32 to reach one), and Deny 0.0.0.0/0
// and ::/0 with Allow 10.0.0.0/8 is an allow-list. IPv4-mapped IPv6
// addresses are decided as IPv4; NAT64 addresses (64:ff9b::/96) as
// themselves and as the IPv4 address they embed.
//
// Names are decided before resolution, then their addresses: DenyNames
// refuses a name, and a non-empty AllowNames refuses every name it does not
// list ("api.example.com", or "*.example.com" for the names below it).
// IP literals are decided by the address rules alone.
//
// The policy applies to the Router's own transports (the default ones and
// clones of RouterConfig.Transport; a Transport with a Proxy dials the
// proxy, so the policy then decides the proxy's address). A transport from
// RouterConfig.NewTransport is used as given: only the URL-level check at
// build time applies to it.
type EgressPolicy struct {
	// Allow lists address ranges allowed even inside a denied range.
	Allow []netip.Prefix
	// Deny lists address ranges refused besides the defaults.
	Deny []netip.Prefix
	// AllowNames, when not empty, is the only host names that may be
	// dialled ("api.example.com", "*.example.com"); their addresses are
	// still checked.
	AllowNames []string
	// DenyNames lists host names that are never dialled.
	DenyNames []string
}

// ErrEgressDenied is matched (errors.Is) by every refusal of the egress
// policy: an upstream rejected when a snapshot is built, and, in
// Exchange.Err, a dial refused at request time.
var ErrEgressDenied = egress.ErrDenied

// policy returns the internal form of p; both types have the same fields.
func (p EgressPolicy) policy() *egress.Policy {
	ep := egress.Policy(p)
	return &ep
}
