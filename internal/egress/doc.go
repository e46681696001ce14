// Package egress decides which network destinations MockOps may connect
// to on behalf of a definition (a federation's upstreams, and the built-in
// HTTP steps), and enforces that decision when a connection is dialled,
// on the address the name resolved to. Checking a URL once, before it is
// used, is not enough: a name can resolve to another address at dial time
// (DNS rebinding), and "localhost" or a wildcard DNS name is an address
// in disguise.
//
// # Rules
//
// A Policy's zero value denies the addresses no definition should reach:
// link-local (169.254.0.0/16, fe80::/10), the cloud metadata services
// (169.254.169.254, 169.254.170.2, fd00:ec2::254, 100.100.100.200,
// 168.63.129.16), unspecified (0.0.0.0/8, ::), multicast and broadcast.
// Loopback and private ranges are allowed by default: hosts proxy to
// loopback upstreams in tests and in the quickstart, and to private
// services in production. Deny them with Deny (Loopback lists loopback's
// prefixes).
//
// Addresses are decided by the longest matching prefix among the host's
// Allow and Deny and the defaults. At equal length a host's entry wins
// over a default one, and a host's Deny over its Allow. So Allow
// 169.254.0.0/16 opens link-local but not the metadata addresses (their
// defaults are /32s: allow those exactly to reach them), Deny 0.0.0.0/0
// and ::/0 with Allow 10.0.0.0/8 is an allow-list, and a Deny inside an
// Allow carves a hole. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
// decided as its IPv4 address; a NAT64 address (64:ff9b::/96 and
// 64:ff9b:1::/48) must pass both as itself and as the IPv4 address it
// embeds.
//
// Names are decided before they are resolved, then their addresses are:
// a dial passes only when both do. DenyNames refuses a name; a non-empty
// AllowNames refuses every name it does not list. "*.example.com" matches
// every name below example.com, not example.com itself. Matching ignores
// case and a trailing dot. IP literals are not names: the address rules
// alone decide them. A few cloud metadata names are denied by default
// unless AllowNames lists them; their addresses stay denied regardless.
//
// # Enforcement
//
// Control is a net.Dialer Control function: the dialer calls it with each
// resolved address before connecting, so a refused address sees no packet.
// DialFunc wraps a net.Dialer with the name check and Control; WrapDial
// wraps any other dial function, checking the connected peer (the
// connection is closed before a byte is written). Transport builds an
// http.Transport whose dials go through the policy. A transport with a
// Proxy dials the proxy, so the policy then decides the proxy's address,
// not the target's.
package egress
