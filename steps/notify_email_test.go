package steps

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// testCert is a self-signed certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mail.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// mailbox is a go-smtp backend that accepts mail for a user and records it.
type mailbox struct {
	user, pass string
	rejectRcpt map[string]*smtp.SMTPError

	mu       sync.Mutex
	received []received
}

type received struct {
	From string
	To   []string
	Auth string // the mechanism used
	TLS  bool
	Data []byte
}

func (m *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &mailSession{m: m, tls: isTLS}, nil
}

type mailSession struct {
	m    *mailbox
	tls  bool
	auth string
	cur  received
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.m.user || pass != s.m.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.auth = mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of LOGIN (go-sasl has only the client).
type loginServer struct {
	check      func(user, pass string) error
	step       int
	user, pass string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	}
	l.pass = string(resp)
	return nil, true, l.check(l.user, l.pass)
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.m.user != "" && s.auth == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from, Auth: s.auth, TLS: s.tls}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := s.m.rejectRcpt[to]; e != nil {
		return e
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.m.mu.Lock()
	s.m.received = append(s.m.received, s.cur)
	s.m.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.cur = received{} }
func (s *mailSession) Logout() error { return nil }

// startSMTP serves mb with go-smtp on 127.0.0.1: STARTTLS when starttls,
// TLS from the first byte when implicit, neither otherwise.
func startSMTP(t *testing.T, mb *mailbox, cert tls.Certificate, starttls, implicit bool) int {
	t.Helper()
	s := smtp.NewServer(mb)
	s.Domain = "mail.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if starttls {
		s.TLSConfig = cfg
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		ln = tls.NewListener(ln, cfg)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.Serve(ln) })
	t.Cleanup(func() { s.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

// parsedMail is what a reader of the received message sees.
type parsedMail struct {
	From, To, Cc, Subject, Bcc string
	Parts                      map[string]string // media type -> decoded body
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v\n%s", err, data)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decoding Subject %q: %v", m.Header.Get("Subject"), err)
	}
	addrs := func(k string) string {
		if m.Header.Get(k) == "" {
			return ""
		}
		list, err := m.Header.AddressList(k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		s := make([]string, len(list))
		for i, a := range list {
			s[i] = a.Name + " <" + a.Address + ">"
		}
		return strings.Join(s, ", ")
	}
	p := parsedMail{From: addrs("From"), To: addrs("To"), Cc: addrs("Cc"), Bcc: m.Header.Get("Bcc"), Subject: subject, Parts: map[string]string{}}
	if m.Header.Get("MIME-Version") != "1.0" || m.Header.Get("Message-ID") == "" || m.Header.Get("Date") == "" {
		t.Errorf("headers %v; want MIME-Version 1.0, a Message-ID and a Date", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	readPart := func(ctype, cte string, r io.Reader) {
		if cte == "quoted-printable" {
			r = quotedprintable.NewReader(r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(ctype)
		p.Parts[pt] = string(b)
	}
	if mt != "multipart/alternative" {
		readPart(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
		return p
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		readPart(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
	}
	return p
}

func emailRegistry(t *testing.T, pool *x509.CertPool) *Registry {
	t.Helper()
	r := NewRegistry()
	deps := Deps{Now: func() time.Time { return testNow }}
	if pool != nil {
		deps.TLSConfig = &tls.Config{RootCAs: pool}
	}
	if err := RegisterNotify(r, deps); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNotifyEmail(t *testing.T) {
	cert, pool := testCert(t)
	const pass = "p4ss-w0rd-secret"
	text := "Drift on /payments passed its budget.\nSee the dashboard: a long line " + strings.Repeat("é", 60) + "\n"
	tests := []struct {
		name               string
		mb                 *mailbox
		starttls, implicit bool
		email              map[string]any
		untrusted          bool
		wantRcpt           []string
		wantAuth           string
		want               parsedMail
		wantErr            bool
		permanent          bool
	}{
		{
			name: "STARTTLS, PLAIN, several recipients, encoded headers",
			mb:   &mailbox{user: "ops", pass: pass}, starttls: true,
			email: map[string]any{"username": "ops", "password": pass,
				"from": "Équipe Ops <ops@example.com>", "to": []any{"Zoë <zoe@example.com>", "dev@example.com"},
				"cc": []any{"lead@example.com"}, "bcc": []any{"audit@example.com"},
				"subject": "Dérive détectée: paiements ✓", "text": text},
			wantRcpt: []string{"zoe@example.com", "dev@example.com", "lead@example.com", "audit@example.com"},
			wantAuth: "PLAIN",
			want: parsedMail{From: "Équipe Ops <ops@example.com>", To: "Zoë <zoe@example.com>,  <dev@example.com>", Cc: " <lead@example.com>",
				Subject: "Dérive détectée: paiements ✓", Parts: map[string]string{"text/plain": strings.ReplaceAll(text, "\n", "\r\n")}},
		},
		{
			name: "STARTTLS, LOGIN, text and HTML",
			mb:   &mailbox{user: "ops", pass: pass}, starttls: true,
			email: map[string]any{"username": "ops", "password": pass, "auth": "login",
				"from": "ops@example.com", "to": []any{"dev@example.com"}, "subject": "plain subject", "text": "hello", "html": "<p>hello</p>"},
			wantRcpt: []string{"dev@example.com"}, wantAuth: "LOGIN",
			want: parsedMail{From: " <ops@example.com>", To: " <dev@example.com>", Subject: "plain subject",
				Parts: map[string]string{"text/plain": "hello", "text/html": "<p>hello</p>"}},
		},
		{
			name: "implicit TLS",
			mb:   &mailbox{user: "ops", pass: pass}, implicit: true,
			email:    map[string]any{"tls": "implicit", "username": "ops", "password": pass, "from": "ops@example.com", "to": []any{"dev@example.com"}, "text": "hi"},
			wantRcpt: []string{"dev@example.com"}, wantAuth: "PLAIN",
			want: parsedMail{From: " <ops@example.com>", To: " <dev@example.com>", Parts: map[string]string{"text/plain": "hi\r\n"}}, // SMTP ends a message with a line break
		},
		{
			name:     "in clear when explicitly allowed",
			mb:       &mailbox{},
			email:    map[string]any{"tls": "none", "from": "ops@example.com", "to": []any{"dev@example.com"}, "text": "hi"},
			wantRcpt: []string{"dev@example.com"},
			want:     parsedMail{From: " <ops@example.com>", To: " <dev@example.com>", Parts: map[string]string{"text/plain": "hi\r\n"}},
		},
		{
			name:    "a server without STARTTLS is refused",
			mb:      &mailbox{},
			email:   map[string]any{"from": "ops@example.com", "to": []any{"dev@example.com"}, "text": "hi"},
			wantErr: true, permanent: true,
		},
		{
			name: "wrong password",
			mb:   &mailbox{user: "ops", pass: "other"}, starttls: true,
			email:   map[string]any{"username": "ops", "password": pass, "from": "ops@example.com", "to": []any{"dev@example.com"}, "text": "hi"},
			wantErr: true, permanent: true,
		},
		{
			name: "an untrusted certificate",
			mb:   &mailbox{user: "ops", pass: pass}, starttls: true, untrusted: true,
			email:   map[string]any{"username": "ops", "password": pass, "from": "ops@example.com", "to": []any{"dev@example.com"}, "text": "hi"},
			wantErr: true,
		},
		{
			name: "a recipient rejected for good",
			mb: &mailbox{user: "ops", pass: pass, rejectRcpt: map[string]*smtp.SMTPError{
				"gone@example.com": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}}}, starttls: true,
			email:   map[string]any{"username": "ops", "password": pass, "from": "ops@example.com", "to": []any{"dev@example.com", "gone@example.com"}, "text": "hi"},
			wantErr: true, permanent: true,
		},
		{
			name: "a recipient deferred",
			mb: &mailbox{user: "ops", pass: pass, rejectRcpt: map[string]*smtp.SMTPError{
				"busy@example.com": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try later"}}}, starttls: true,
			email:   map[string]any{"username": "ops", "password": pass, "from": "ops@example.com", "to": []any{"busy@example.com"}, "text": "hi"},
			wantErr: true, permanent: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := startSMTP(t, tt.mb, cert, tt.starttls, tt.implicit)
			email := map[string]any{"host": "127.0.0.1", "port": int64(port)}
			for k, v := range tt.email {
				email[k] = v
			}
			roots := pool
			if tt.untrusted {
				roots = nil
			}
			out, err := runStep(t, emailRegistry(t, roots), "notify", map[string]any{"targets": []any{map[string]any{"email": email}}}, notifyInput())
			if (err != nil) != tt.wantErr || err != nil && IsPermanent(err) != tt.permanent {
				t.Fatalf("Run = %v (permanent %v); want error %v, permanent %v", err, IsPermanent(err), tt.wantErr, tt.permanent)
			}
			if err != nil {
				if strings.Contains(err.Error(), pass) {
					t.Errorf("error %q shows the password", err)
				}
				for _, r := range tt.mb.received {
					if len(tt.mb.rejectRcpt) == 0 {
						t.Errorf("server received %+v; want nothing", r)
					}
				}
				return
			}
			if len(tt.mb.received) != 1 {
				t.Fatalf("server received %d mails; want 1", len(tt.mb.received))
			}
			got := tt.mb.received[0]
			if diff := cmp.Diff(tt.wantRcpt, got.To); diff != "" {
				t.Errorf("envelope recipients (-want +got):\n%s", diff)
			}
			if got.Auth != tt.wantAuth || got.TLS != (tt.starttls || tt.implicit) {
				t.Errorf("auth %q over TLS %v; want %q over TLS %v", got.Auth, got.TLS, tt.wantAuth, tt.starttls || tt.implicit)
			}
			if diff := cmp.Diff(tt.want, parseMail(t, got.Data)); diff != "" {
				t.Errorf("received mail (-want +got):\n%s", diff)
			}
			res := out.Outputs["targets"].(map[string]any)["email"].(map[string]any)
			if res["recipients"] != len(tt.wantRcpt) || !strings.HasPrefix(res["message_id"].(string), "<") {
				t.Errorf("outputs.targets.email = %v; want %d recipients and a message id", res, len(tt.wantRcpt))
			}
		})
	}
}

func TestNotifyEmailEgress(t *testing.T) {
	r := NewRegistry()
	if err := RegisterNotify(r, Deps{Egress: EgressPolicy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"169.254.169.254", "127.0.0.1"} {
		email := map[string]any{"host": host, "port": int64(25), "tls": "none", "from": "a@example.com", "to": []any{"b@example.com"}, "text": "x"}
		_, err := runStep(t, r, "notify", map[string]any{"targets": []any{map[string]any{"email": email}}}, notifyInput())
		if !errors.Is(err, ErrEgressDenied) || !IsPermanent(err) {
			t.Errorf("Run(email to %s) = %v; want a permanent ErrEgressDenied", host, err)
		}
	}
}

func TestNotifyEmailConfig(t *testing.T) {
	base := func(kv ...any) map[string]any {
		m := map[string]any{"host": "mail.example.com", "from": "a@example.com", "to": []any{"b@example.com"}, "text": "x"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		email map[string]any
	}{
		{"credentials in clear", base("tls", "none", "username", "u", "password", "p")},
		{"unknown tls mode", base("tls", "ssl")},
		{"unknown auth", base("auth", "cram-md5", "username", "u")},
		{"password without user", base("password", "p")},
		{"a bad sender", base("from", "not an address")},
		{"a bad recipient", base("to", []any{"b@example.com", "nope"})},
		{"no recipient", base("to", []any{})},
		{"a port out of range", base("port", int64(70000))},
		{"a host with a port", base("host", "mail.example.com:25")},
		{"no text", map[string]any{"host": "h", "from": "a@example.com", "to": []any{"b@example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runStep(t, emailRegistry(t, nil), "notify", map[string]any{"targets": []any{map[string]any{"email": tt.email}}}, notifyInput())
			var ce *ConfigError
			if !errors.As(err, &ce) || !IsPermanent(err) {
				t.Errorf("Run = %v; want a permanent *ConfigError", err)
			}
		})
	}
}

func TestNotifyEmailHonoursContext(t *testing.T) {
	// A server that accepts the connection and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		<-done
		conn.Close()
	})
	defer wg.Wait()
	defer close(done)
	defer ln.Close()

	typ, _ := emailRegistry(t, nil).Lookup("notify")
	s, err := typ.New(map[string]any{"targets": []any{map[string]any{"email": map[string]any{
		"host": "127.0.0.1", "port": int64(ln.Addr().(*net.TCPAddr).Port),
		"from": "a@example.com", "to": []any{"b@example.com"}, "text": "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = s.Run(ctx, notifyInput())
	if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
		t.Errorf("Run against a silent server = %v; want a retryable context.DeadlineExceeded", err)
	}
}
