package egress

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestCheckAddr(t *testing.T) {
	allowLinkLocal := &Policy{Allow: prefixes("169.254.0.0/16")}
	allowMetadata := &Policy{Allow: prefixes("169.254.169.254/32")}
	noLoopback := &Policy{Deny: Loopback}
	allowList := &Policy{Deny: prefixes("0.0.0.0/0", "::/0"), Allow: prefixes("10.0.0.0/8")}
	hole := &Policy{Allow: prefixes("169.254.0.0/16"), Deny: prefixes("169.254.10.0/24")}
	sameLength := &Policy{Allow: prefixes("10.0.0.0/8"), Deny: prefixes("10.0.0.0/8")}
	for _, tc := range []struct {
		policy *Policy
		addr   string
		allow  bool
	}{
		{nil, "127.0.0.1", true},
		{nil, "::1", true},
		{nil, "10.1.2.3", true},
		{nil, "192.168.1.1", true},
		{nil, "8.8.8.8", true},
		{nil, "2001:db8::1", true},
		{nil, "169.254.169.254", false},
		{nil, "169.254.1.1", false},
		{nil, "169.254.170.2", false},
		{nil, "100.100.100.200", false},
		{nil, "100.100.100.201", true},
		{nil, "168.63.129.16", false},
		{nil, "fd00:ec2::254", false},
		{nil, "fe80::1", false},
		{nil, "fe80::1%eth0", false},
		{nil, "0.0.0.0", false},
		{nil, "::", false},
		{nil, "224.0.0.1", false},
		{nil, "ff02::1", false},
		{nil, "255.255.255.255", false},
		{nil, "::ffff:169.254.169.254", false},
		{nil, "::ffff:127.0.0.1", true},
		{nil, "64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{nil, "64:ff9b::808:808", true},    // NAT64 of 8.8.8.8
		{nil, "64:ff9b:1::a9fe:a9fe", false},
		{&Policy{}, "169.254.169.254", false},
		{allowLinkLocal, "169.254.1.1", true},
		{allowLinkLocal, "169.254.169.254", false}, // the /32 default is more specific
		{allowMetadata, "169.254.169.254", true},
		{allowMetadata, "169.254.1.1", false},
		{noLoopback, "127.0.0.1", false},
		{noLoopback, "127.9.9.9", false},
		{noLoopback, "::1", false},
		{noLoopback, "::ffff:127.0.0.1", false},
		{noLoopback, "10.0.0.1", true},
		{allowList, "10.0.0.1", true},
		{allowList, "11.0.0.1", false},
		{allowList, "127.0.0.1", false},
		{allowList, "2001:db8::1", false},
		{allowList, "169.254.169.254", false},
		{hole, "169.254.1.1", true},
		{hole, "169.254.10.1", false},
		{sameLength, "10.0.0.1", false}, // a host's Deny beats its Allow at equal length
		{&Policy{Deny: prefixes("64:ff9b::/96")}, "64:ff9b::808:808", false},
		{&Policy{Deny: prefixes("8.8.8.0/24")}, "64:ff9b::808:808", false}, // the embedded address too
	} {
		err := tc.policy.CheckAddr(netip.MustParseAddr(tc.addr))
		if (err == nil) != tc.allow || err != nil && !errors.Is(err, ErrDenied) {
			t.Errorf("%+v.CheckAddr(%s) = %v; want allowed %v", tc.policy, tc.addr, err, tc.allow)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		policy *Policy
		host   string
		allow  bool
	}{
		{nil, "api.example.com", true},
		{nil, "localhost", true},
		{nil, "metadata.google.internal", false},
		{nil, "METADATA.google.internal.", false},
		{nil, "169.254.169.254", false}, // a literal goes to the address rules
		{nil, "[fe80::1]", false},
		{&Policy{AllowNames: []string{"metadata.google.internal"}}, "metadata.google.internal", true},
		{&Policy{DenyNames: []string{"evil.example"}}, "evil.example", false},
		{&Policy{DenyNames: []string{"evil.example"}}, "EVIL.example.", false},
		{&Policy{DenyNames: []string{"*.evil.example"}}, "a.b.evil.example", false},
		{&Policy{DenyNames: []string{"*.evil.example"}}, "evil.example", true},
		{&Policy{DenyNames: []string{"*.evil.example"}}, "notevil.example", true},
		{&Policy{AllowNames: []string{"*.corp.example", "api.example.com"}}, "svc.corp.example", true},
		{&Policy{AllowNames: []string{"*.corp.example", "api.example.com"}}, "api.example.com", true},
		{&Policy{AllowNames: []string{"*.corp.example", "api.example.com"}}, "localhost", false},
		{&Policy{AllowNames: []string{"api.example.com"}, DenyNames: []string{"api.example.com"}}, "api.example.com", false},
		{&Policy{AllowNames: []string{"api.example.com"}}, "10.0.0.1", true}, // literals are not names
	} {
		err := tc.policy.CheckName(tc.host)
		if (err == nil) != tc.allow || err != nil && !errors.Is(err, ErrDenied) {
			t.Errorf("%+v.CheckName(%q) = %v; want allowed %v", tc.policy, tc.host, err, tc.allow)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		policy Policy
		ok     bool
	}{
		{Policy{}, true},
		{Policy{Allow: prefixes("10.0.0.0/8"), AllowNames: []string{"*.example.com", "a_b.example"}}, true},
		{Policy{Allow: []netip.Prefix{{}}}, false},
		{Policy{DenyNames: []string{""}}, false},
		{Policy{DenyNames: []string{"a..b"}}, false},
		{Policy{DenyNames: []string{"http://x"}}, false},
		{Policy{DenyNames: []string{"*"}}, false},
	} {
		if err := tc.policy.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v; want ok %v", tc.policy, err, tc.ok)
		}
	}
}

// deniedByDefault are the default ranges, for the property tests.
func deniedByDefault() []netip.Prefix {
	out := make([]netip.Prefix, len(defaults))
	for i, r := range defaults {
		out[i] = r.prefix
	}
	return out
}

// randomIn returns a random address inside pf.
func randomIn(rng *rand.Rand, pf netip.Prefix) netip.Addr {
	b := pf.Addr().AsSlice()
	for i := range b {
		keep := min(max(pf.Bits()-8*i, 0), 8) // prefix bits in this byte
		mask := byte(0xff) << (8 - keep)
		if keep == 0 {
			mask = 0
		}
		b[i] = b[i]&mask | byte(rng.UintN(256))&^mask
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// forms returns a the ways an address in a denied range can be written:
// itself, and for IPv4 its IPv4-mapped and NAT64 forms.
func forms(a netip.Addr) []netip.Addr {
	if !a.Is4() {
		return []netip.Addr{a}
	}
	v4 := a.As4()
	mapped := netip.AddrFrom16(a.As16())
	var n [16]byte
	copy(n[:], netip.MustParseAddr("64:ff9b::").AsSlice())
	copy(n[12:], v4[:])
	return []netip.Addr{a, mapped, netip.AddrFrom16(n)}
}

// For random addresses in every default denied range, written every way,
// the dialer's Control refuses, and so does a real dial through DialFunc,
// which therefore sends nothing.
func TestDeniedRangesAlwaysRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var p Policy
	dial := p.DialFunc(&net.Dialer{Timeout: time.Second})
	for _, pf := range deniedByDefault() {
		for i := range 500 {
			for _, a := range forms(randomIn(rng, pf)) {
				addr := netip.AddrPortFrom(a, 80).String()
				if err := p.Control("tcp", addr, nil); !errors.Is(err, ErrDenied) {
					t.Fatalf("Control(%s) = %v; want ErrDenied (range %s)", addr, err, pf)
				}
				if i%50 == 0 {
					conn, err := dial(context.Background(), "tcp", addr)
					if !errors.Is(err, ErrDenied) {
						if conn != nil {
							conn.Close()
						}
						t.Fatalf("dial %s = %v; want ErrDenied", addr, err)
					}
				}
			}
		}
	}
}

// FuzzControl: whatever the address and its form, an address inside a
// default denied range (decided independently, by prefix containment on
// its IPv4 form) is refused by the zero Policy.
func FuzzControl(f *testing.F) {
	f.Add([]byte{169, 254, 169, 254}, uint8(0))
	f.Add([]byte{169, 254, 169, 254}, uint8(1))
	f.Add([]byte{169, 254, 169, 254}, uint8(2))
	f.Add(netip.MustParseAddr("fe80::1").AsSlice(), uint8(0))
	f.Add(netip.MustParseAddr("fd00:ec2::254").AsSlice(), uint8(0))
	f.Add([]byte{127, 0, 0, 1}, uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, form uint8) {
		a, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		base := a.Unmap()
		denied := false
		for _, pf := range deniedByDefault() {
			if pf.Contains(base) {
				denied = true
			}
		}
		fs := forms(base)
		written := fs[int(form)%len(fs)]
		err := (&Policy{}).Control("tcp", netip.AddrPortFrom(written, 443).String(), nil)
		if denied && !errors.Is(err, ErrDenied) {
			t.Fatalf("Control(%s) = %v; want ErrDenied", written, err)
		}
		if err != nil && !errors.Is(err, ErrDenied) {
			t.Fatalf("Control(%s) = %v; want nil or ErrDenied", written, err)
		}
	})
}

// listen returns the address of a loopback listener.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// A real name that resolves to a denied address is refused at dial time,
// although the name itself passes.
func TestDialRefusesNameResolvingToDeniedAddress(t *testing.T) {
	addr := listen(t)
	_, port, _ := net.SplitHostPort(addr)
	p := &Policy{Deny: Loopback}
	if err := p.CheckName("localhost"); err != nil {
		t.Fatalf("CheckName(localhost) = %v; want the name itself to pass", err)
	}
	conn, err := p.DialFunc(nil)(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	if conn != nil {
		conn.Close()
	}
	var e *Error
	if !errors.Is(err, ErrDenied) || !errors.As(err, &e) || e.Host != "localhost" || !e.Addr.IsLoopback() {
		t.Fatalf("dial localhost = %v; want ErrDenied naming localhost and a loopback address", err)
	}
	// The default policy allows loopback.
	conn, err = (&Policy{}).DialFunc(nil)(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	if err != nil {
		t.Fatalf("default policy: dial localhost = %v; want allowed", err)
	}
	conn.Close()
}

// fakeDNS answers every A query with addr, as a rebinding name would.
func fakeDNS(t *testing.T, addr netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], addr); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer builds the response to one query: an A record for A queries,
// no records otherwise.
func dnsAnswer(q []byte, addr netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 5 // the root label, type and class
	if end > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[end-4:])
	resp := append([]byte(nil), q[:end]...)
	binary.BigEndian.PutUint16(resp[2:], 0x8180) // response, recursion available
	binary.BigEndian.PutUint16(resp[6:], 0)      // answers
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0) // no additional (EDNS) records
	if qtype == 1 {
		binary.BigEndian.PutUint16(resp[6:], 1)
		ip := addr.As4()
		resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		resp = append(resp, ip[:]...)
	}
	return resp
}

// DNS rebinding: a name the policy cannot know is bad resolves, at dial
// time, to the metadata address.
func TestDialRefusesRebindingName(t *testing.T) {
	r := fakeDNS(t, netip.MustParseAddr("169.254.169.254"))
	addrs, err := r.LookupNetIP(context.Background(), "ip4", "rebind.test")
	if err != nil || len(addrs) != 1 {
		t.Fatalf("fake resolver: %v %v", addrs, err)
	}
	var p Policy
	if err := p.CheckURL(&url.URL{Scheme: "http", Host: "rebind.test"}); err != nil {
		t.Fatalf("CheckURL = %v; want the name to pass before resolution", err)
	}
	dial := p.DialFunc(&net.Dialer{Resolver: r, Timeout: time.Second})
	conn, err := dial(context.Background(), "tcp4", "rebind.test:80")
	if conn != nil {
		conn.Close()
	}
	var e *Error
	if !errors.As(err, &e) || e.Addr != netip.MustParseAddr("169.254.169.254") || e.Host != "rebind.test" {
		t.Fatalf("dial rebind.test = %v; want a refusal of 169.254.169.254 naming rebind.test", err)
	}
	if !strings.Contains(err.Error(), "metadata") {
		t.Errorf("error %q does not say why", err)
	}
}

func TestTransportEnforcesPolicy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	localhost := "http://localhost:" + u.Port()
	// A custom dialer is checked on the connected peer instead.
	custom := &http.Transport{DialContext: (&net.Dialer{}).DialContext}
	for _, tc := range []struct {
		name  string
		base  *http.Transport
		deny  bool
		allow bool
	}{
		{"default allows loopback", nil, false, true},
		{"default, loopback denied", nil, true, false},
		{"custom dialer allows loopback", custom, false, true},
		{"custom dialer, loopback denied", custom, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Policy{}
			if tc.deny {
				p.Deny = Loopback
			}
			tr := p.Transport(tc.base)
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(localhost)
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != tc.allow || err != nil && !errors.Is(err, ErrDenied) {
				t.Fatalf("GET %s = %v; want allowed %v", localhost, err, tc.allow)
			}
		})
	}
}

// A URL's credentials, path and query never appear in a refusal, for
// random ones.
func TestCheckURLRedactsCredentials(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func() string {
		b := make([]byte, 8+rng.IntN(9))
		for i := range b {
			b[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZqwxz"[rng.IntN(30)]
		}
		return string(b)
	}
	hosts := []string{"169.254.169.254", "metadata.google.internal", "[fe80::1%25eth0]:8080", "[::ffff:169.254.1.1]", "0.0.0.0:9"}
	p := &Policy{DenyNames: []string{"*.internal.example"}}
	hosts = append(hosts, "svc.internal.example")
	for i := range 1000 {
		user, pass, path, query := word(), word(), word(), word()
		raw := "http://" + user + ":" + pass + "@" + hosts[i%len(hosts)] + "/" + path + "?token=" + query
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		err = p.CheckURL(u)
		if !errors.Is(err, ErrDenied) {
			t.Fatalf("CheckURL(%s) = %v; want ErrDenied", u.Redacted(), err)
		}
		for _, secret := range []string{user, pass, path, query} {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("CheckURL error %q holds %q", err, secret)
			}
		}
	}
}
