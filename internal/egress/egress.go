package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy says which destinations may be dialled. The zero value (and a
// nil *Policy) applies the defaults only. A Policy must not be modified
// while it is in use.
type Policy struct {
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

// ErrDenied is matched (errors.Is) by every refusal of a Policy.
var ErrDenied = errors.New("egress: destination denied")

// Error is a refused destination. It names the host and the address, never
// a URL's credentials, path or query.
type Error struct {
	Host   string     // the name (or address) dialled; "" when unknown
	Addr   netip.Addr // the refused address; invalid when the name was refused
	Reason string     // why, naming the rule
}

func (e *Error) Error() string {
	switch {
	case !e.Addr.IsValid():
		return fmt.Sprintf("egress: refusing to connect to %s: %s", e.Host, e.Reason)
	case e.Host != "" && e.Host != e.Addr.String():
		return fmt.Sprintf("egress: refusing to connect to %s (%s): %s", e.Addr, e.Host, e.Reason)
	}
	return fmt.Sprintf("egress: refusing to connect to %s: %s", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *Error) Is(target error) bool { return target == ErrDenied }

// Loopback is the loopback ranges, for a Policy that denies them.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

type rule struct {
	prefix netip.Prefix
	why    string
}

// defaults are the ranges every Policy denies unless it allows them.
var defaults = []rule{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified address (reaches this host)"},
	{netip.MustParsePrefix("::/128"), "unspecified address (reaches this host)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata address"},
	{netip.MustParsePrefix("169.254.170.2/32"), "cloud metadata address (ECS task metadata)"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata address"},
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata address"},
	{netip.MustParsePrefix("168.63.129.16/32"), "cloud platform address (Azure wire server)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},
}

// defaultDenyNames are metadata service names, refused before resolving
// unless AllowNames lists them exactly.
var defaultDenyNames = []string{"metadata.google.internal", "metadata.goog", "instance-data.ec2.internal"}

// nat64 are the NAT64 prefixes whose last 32 bits are an IPv4 destination.
var nat64 = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}

// Validate reports prefixes and names the policy cannot use.
func (p *Policy) Validate() error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, list := range [][]netip.Prefix{p.Allow, p.Deny} {
		for _, pf := range list {
			if !pf.IsValid() {
				errs = append(errs, fmt.Errorf("egress: invalid prefix %v", pf))
			}
		}
	}
	for _, list := range [][]string{p.AllowNames, p.DenyNames} {
		for _, n := range list {
			if msg := checkPattern(n); msg != "" {
				errs = append(errs, fmt.Errorf("egress: name %q %s", n, msg))
			}
		}
	}
	return errors.Join(errs...)
}

func checkPattern(n string) string {
	n = strings.TrimPrefix(n, "*.")
	if n == "" || strings.HasPrefix(n, ".") || strings.Contains(n, "..") {
		return "is empty or has an empty label"
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "must hold only letters, digits, '-', '_' and '.' (with an optional leading \"*.\")"
		}
	}
	return ""
}

// CheckAddr decides an address.
func (p *Policy) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return &Error{Reason: "no valid address"}
	}
	a = a.WithZone("").Unmap()
	if why, ok := p.decide(a); !ok {
		return &Error{Addr: a, Reason: why}
	}
	if a.Is6() {
		for _, pf := range nat64 {
			if pf.Contains(a) {
				b := a.As16()
				v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
				if why, ok := p.decide(v4); !ok {
					return &Error{Addr: a, Reason: fmt.Sprintf("NAT64 address of %s, a %s", v4, why)}
				}
			}
		}
	}
	return nil
}

// decide applies the longest-prefix rule to an unmapped, zone-less address.
func (p *Policy) decide(a netip.Addr) (string, bool) {
	best, allow, host := -1, true, false
	why := ""
	consider := func(pf netip.Prefix, isAllow, isHost bool, reason string) {
		if !pf.IsValid() || !pf.Contains(a) {
			return
		}
		bits := pf.Bits()
		switch {
		case bits > best:
		case bits < best:
			return
		// equal length: host over default, host deny over host allow
		case isHost && !host:
		case isHost == host && !isAllow && allow:
		default:
			return
		}
		best, allow, host, why = bits, isAllow, isHost, reason
	}
	for _, r := range defaults {
		consider(r.prefix, false, false, fmt.Sprintf("%s (%s)", r.why, r.prefix))
	}
	if p != nil {
		for _, pf := range p.Allow {
			consider(pf, true, true, "")
		}
		for _, pf := range p.Deny {
			consider(pf, false, true, fmt.Sprintf("denied by the policy (%s)", pf.Masked()))
		}
	}
	return why, allow
}

// CheckName decides a host name before it is resolved; an IP literal is
// decided by CheckAddr.
func (p *Policy) CheckName(host string) error {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return p.CheckAddr(a)
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if p != nil {
		for _, pat := range p.DenyNames {
			if nameMatch(pat, name) {
				return &Error{Host: host, Reason: fmt.Sprintf("name denied by the policy (%s)", pat)}
			}
		}
		if len(p.AllowNames) > 0 {
			for _, pat := range p.AllowNames {
				if nameMatch(pat, name) {
					return nil
				}
			}
			return &Error{Host: host, Reason: "name not among the policy's allowed names"}
		}
	}
	for _, n := range defaultDenyNames {
		if n == name {
			return &Error{Host: host, Reason: "cloud metadata name"}
		}
	}
	return nil
}

func nameMatch(pattern, name string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(pattern), ".")
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(name, "."+suffix)
	}
	return pattern == name
}

// CheckURL decides what a URL shows before any dial: its host name, or its
// address when the host is an IP literal. Use it to reject a definition
// early; only the dial-time check (Control, DialFunc, WrapDial) is a
// boundary. The error never holds the URL's credentials.
func (p *Policy) CheckURL(u *url.URL) error {
	if err := p.CheckName(u.Hostname()); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Host == "" {
			e.Host = u.Hostname()
		}
		return err
	}
	return nil
}

// Control decides the resolved address a net.Dialer is about to connect
// to; use it as (or chain it into) net.Dialer.Control. Non-IP networks
// (unix sockets) are not its concern and pass.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	if strings.HasPrefix(network, "unix") {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &Error{Host: address, Reason: "not an IP address and port"}
	}
	return p.CheckAddr(ap.Addr())
}

// DialFunc returns a dial function for http.Transport.DialContext that
// decides the host name, then dials with d (nil: a net.Dialer with a 30s
// timeout) under Control, chained after d's own Control or ControlContext.
func (p *Policy) DialFunc(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	var dd net.Dialer
	if d != nil {
		dd = *d
	} else {
		dd = net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	}
	prevCtx, prev := dd.ControlContext, dd.Control
	dd.Control = nil
	dd.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := p.Control(network, address, c); err != nil {
			return err
		}
		switch {
		case prevCtx != nil:
			return prevCtx(ctx, network, address, c)
		case prev != nil:
			return prev(network, address, c)
		}
		return nil
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host := hostOf(address)
		if err := p.CheckName(host); err != nil {
			return nil, err
		}
		conn, err := dd.DialContext(ctx, network, address)
		if e := (*Error)(nil); errors.As(err, &e) && e.Host == "" {
			e.Host = host
		}
		return conn, err
	}
}

// WrapDial returns dial with the policy around it, for a dialer that is
// not a net.Dialer: the name is decided first, then the connected peer's
// address; a refused connection is closed before it is returned.
func (p *Policy) WrapDial(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host := hostOf(address)
		if err := p.CheckName(host); err != nil {
			return nil, err
		}
		conn, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		if err := p.checkPeer(conn, host); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

func (p *Policy) checkPeer(conn net.Conn, host string) error {
	addr := conn.RemoteAddr()
	if addr == nil {
		return &Error{Host: host, Reason: "the connection has no peer address"}
	}
	if addr.Network() == "unix" {
		return nil
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return &Error{Host: host, Reason: "the peer is not an IP address"}
	}
	if err := p.CheckAddr(ap.Addr()); err != nil {
		err.(*Error).Host = host
		return err
	}
	return nil
}

func hostOf(address string) string {
	if h, _, err := net.SplitHostPort(address); err == nil {
		return h
	}
	return address
}

// Transport returns a clone of base (nil: a transport like
// http.DefaultTransport without its environment proxy) whose dials go
// through the policy: DialContext through DialFunc when base has none,
// through WrapDial otherwise, and DialTLSContext through WrapDial. The
// deprecated Dial and DialTLS are dropped.
func (p *Policy) Transport(base *http.Transport) *http.Transport {
	var t *http.Transport
	if base == nil {
		t = http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		t.DialContext = nil
	} else {
		t = base.Clone()
	}
	if t.DialContext != nil {
		t.DialContext = p.WrapDial(t.DialContext)
	} else {
		t.DialContext = p.DialFunc(nil)
	}
	if t.DialTLSContext != nil {
		t.DialTLSContext = p.WrapDial(t.DialTLSContext)
	}
	// The deprecated Dial and DialTLS lose to the fields above, except
	// that DialTLS would still serve https dials: it must not bypass the
	// policy, so it is dropped (set DialTLSContext instead).
	t.Dial = nil    //lint:ignore SA1019 cleared so that it cannot bypass the policy
	t.DialTLS = nil //lint:ignore SA1019 cleared so that it cannot bypass the policy
	return t
}
