package steps

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The SDK generator runs processes (os/exec copies their output in
// goroutines) and the HTTP steps use test servers: every test must leave
// no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRegisterBuiltins(t *testing.T) {
	r := NewRegistry()
	if err := RegisterBuiltins(r, Deps{}); err != nil {
		t.Fatalf("RegisterBuiltins = %v; want nil", err)
	}
	for _, name := range []string{"http", "notify", "emit", "create_pr"} {
		if _, ok := r.Lookup(name); !ok {
			t.Errorf("Lookup(%q) after RegisterBuiltins = false; want true", name)
		}
	}
	// The types that call a host system are there only when the host
	// gives that system.
	for _, name := range []string{"auto_promote", "regenerate_sdk"} {
		if _, ok := r.Lookup(name); ok {
			t.Errorf("Lookup(%q) after RegisterBuiltins(Deps{}) = true; want false (no host dependency)", name)
		}
	}
	full := NewRegistry()
	promoter := PromoterFunc(func(context.Context, PromotionRequest) (PromotionResult, error) { return PromotionResult{}, nil })
	gen, err := NewCommandGenerator(CommandConfig{Root: t.TempDir(), Commands: map[string]Command{"go": {Path: "true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterBuiltins(full, Deps{Promoter: promoter, SDKGenerator: gen}); err != nil {
		t.Fatalf("RegisterBuiltins(with Promoter and SDKGenerator) = %v; want nil", err)
	}
	for _, name := range []string{"http", "notify", "emit", "create_pr", "auto_promote", "regenerate_sdk"} {
		if _, ok := full.Lookup(name); !ok {
			t.Errorf("Lookup(%q) after RegisterBuiltins(with every dependency) = false; want true", name)
		}
	}
	if err := RegisterBuiltins(r, Deps{}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second RegisterBuiltins = %v; want ErrDuplicate", err)
	}
	bad := Deps{Egress: EgressPolicy{Deny: []netip.Prefix{{}}}}
	for name, register := range map[string]func(*Registry, Deps) error{"RegisterBuiltins": RegisterBuiltins, "RegisterHTTP": RegisterHTTP, "RegisterNotify": RegisterNotify} {
		if err := register(NewRegistry(), bad); err == nil {
			t.Errorf("%s with an invalid prefix = nil; want an error", name)
		}
	}
}

// fakeDNS is a net.Resolver answering A queries from a table, speaking
// DNS over an in-memory stream (RFC 1035 4.2.2 framing), so a test can
// make a name resolve to any address without touching the network.
func fakeDNS(t *testing.T, table map[string]netip.Addr) *net.Resolver {
	t.Helper()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, table)
			return client, nil
		},
	}
}

func serveDNS(c net.Conn, table map[string]netip.Addr) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		// The question: labels up to a zero byte, then type and class.
		i, labels := 12, []string{}
		for i < len(q) && q[i] != 0 {
			l := int(q[i])
			if i+1+l > len(q) {
				return
			}
			labels = append(labels, string(q[i+1:i+1+l]))
			i += 1 + l
		}
		end := i + 5
		if end > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[i+1:])
		name := strings.ToLower(strings.Join(labels, "."))
		addr, found := table[name]
		resp := append([]byte{}, q[:2]...) // id
		rcode := byte(0)
		if !found {
			rcode = 3 // NXDOMAIN
		}
		answers := 0
		if found && qtype == 1 && addr.Is4() {
			answers = 1
		}
		resp = append(resp, 0x81, 0x80|rcode, 0, 1, 0, byte(answers), 0, 0, 0, 0)
		resp = append(resp, q[12:end]...)
		if answers == 1 {
			a := addr.As4()
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, a[0], a[1], a[2], a[3])
		}
		var out [2]byte
		binary.BigEndian.PutUint16(out[:], uint16(len(resp)))
		if _, err := c.Write(append(out[:], resp...)); err != nil {
			return
		}
	}
}
