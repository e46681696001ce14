package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// EmailTarget sends one mail over SMTP (net/smtp).
//
// Transport security: TLS "starttls" (the default) requires the server to
// offer STARTTLS and fails permanently when it does not; "implicit" (the
// default on port 465) speaks TLS from the first byte; "none" sends in
// clear and is refused together with a password. Certificates are
// verified against Deps.TLSConfig's roots (the system's by default). The
// connection passes the egress policy like HTTP does.
//
// Auth "plain" (the default when Username is set) or "login". The mail is
// MIME: text/plain, or multipart/alternative with HTML, quoted-printable
// UTF-8 bodies and RFC 2047 encoded headers; Bcc recipients are in the
// envelope only. Outputs: message_id and recipients (the count). A 5xx
// reply fails permanently, a 4xx for the engine to retry; the password
// never appears in errors, outputs or logs.
type EmailTarget struct {
	Host string `json:"host" step:"required"`
	// Port defaults to 587 (465 when TLS is "implicit").
	Port     int    `json:"port"`
	TLS      string `json:"tls"`
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
	// From, To, Cc and Bcc are RFC 5322 addresses ("Ops <ops@example.com>").
	From    string   `json:"from" step:"required"`
	To      []string `json:"to" step:"required"`
	Cc      []string `json:"cc"`
	Bcc     []string `json:"bcc"`
	Subject string   `json:"subject"`
	// Text is the plain body (required); HTML, when set, is its
	// alternative.
	Text string `json:"text" step:"required"`
	HTML string `json:"html"`
}

// mailPlan is a validated EmailTarget.
type mailPlan struct {
	t          EmailTarget
	addr       string // host:port
	tls        string
	from       *mail.Address
	to, cc     []*mail.Address
	recipients []string // envelope: to, cc and bcc
}

func planMail(path string, t EmailTarget) (*mailPlan, error) {
	p := &mailPlan{t: t}
	var errs []error
	bad := func(field, msg string) { errs = append(errs, &ConfigError{Path: path + field, Msg: msg}) }
	p.tls = t.TLS
	if p.tls == "" {
		p.tls = "starttls"
		if t.Port == 465 {
			p.tls = "implicit"
		}
	}
	port := t.Port
	switch p.tls {
	case "starttls", "none":
		if port == 0 {
			port = 587
		}
	case "implicit":
		if port == 0 {
			port = 465
		}
	default:
		bad(".tls", fmt.Sprintf("is \"starttls\", \"implicit\" or \"none\", not %q", t.TLS))
	}
	if port < 1 || port > 65535 {
		bad(".port", "is not a TCP port")
	}
	if strings.ContainsAny(t.Host, "/:@ \r\n") && net.ParseIP(strings.Trim(t.Host, "[]")) == nil {
		bad(".host", "is a host name or address, without a port or scheme")
	}
	p.addr = net.JoinHostPort(strings.Trim(t.Host, "[]"), strconv.Itoa(port))
	switch t.Auth {
	case "", "plain", "login":
	default:
		bad(".auth", fmt.Sprintf("is \"plain\" or \"login\", not %q", t.Auth))
	}
	if t.Password != "" && t.Username == "" {
		bad(".username", "is required with a password")
	}
	if t.Username != "" && p.tls == "none" {
		bad(".tls", "\"none\" would send the credentials in clear: use starttls or implicit")
	}
	var err error
	if p.from, err = mail.ParseAddress(t.From); err != nil {
		bad(".from", "is not an address")
	}
	parse := func(field string, list []string) []*mail.Address {
		var out []*mail.Address
		for i, s := range list {
			a, err := mail.ParseAddress(s)
			if err != nil {
				bad(fmt.Sprintf(".%s[%d]", field, i), "is not an address")
				continue
			}
			out = append(out, a)
			p.recipients = append(p.recipients, a.Address)
		}
		return out
	}
	p.to = parse("to", t.To)
	p.cc = parse("cc", t.Cc)
	parse("bcc", t.Bcc)
	if len(t.To) == 0 {
		bad(".to", "lists no recipient")
	}
	for _, s := range append([]string{t.From}, p.recipients...) {
		if strings.ContainsAny(s, "\r\n") {
			bad("", "an address holds a line break")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func (n *notifier) email(path string, t EmailTarget) (func(context.Context, Input) (map[string]any, error), error) {
	p, err := planMail(path, t)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, in Input) (map[string]any, error) {
		id := messageID(p.from.Address)
		msg, err := p.message(id, n.deps.now())
		if err != nil {
			return nil, Permanent(fmt.Errorf("steps: mail: %w", err))
		}
		res := map[string]any{"message_id": id, "recipients": len(p.recipients)}
		if err := n.sendMail(ctx, p, msg); err != nil {
			if t.Password != "" && strings.Contains(err.Error(), t.Password) {
				err = errors.New("steps: smtp " + p.addr + ": failed (the server's reply held the credentials, so it is not shown)")
			}
			return res, err
		}
		return res, nil
	}, nil
}

func messageID(from string) string {
	var b [12]byte
	rand.Read(b[:])
	domain := "mockops.localhost"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">"
}

// message renders the MIME message.
func (p *mailPlan) message(id string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	list := func(as []*mail.Address) string {
		s := make([]string, len(as))
		for i, a := range as {
			s[i] = a.String()
		}
		return strings.Join(s, ", ")
	}
	h("From", p.from.String())
	h("To", list(p.to))
	if len(p.cc) > 0 {
		h("Cc", list(p.cc))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", p.t.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", id)
	h("MIME-Version", "1.0")
	if p.t.HTML == "" {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, p.t.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	h("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", p.t.Text}, {"text/html; charset=utf-8", p.t.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, part.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return err
	}
	return qp.Close()
}

// smtpTimeout bounds a conversation whose context has no deadline.
const smtpTimeout = 2 * time.Minute

// sendMail holds one SMTP conversation, bounded by ctx.
func (n *notifier) sendMail(ctx context.Context, p *mailPlan, msg []byte) (err error) {
	fail := func(stage string, err error) error {
		e := fmt.Errorf("steps: smtp %s: %s: %w", p.addr, stage, err)
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 || errors.Is(err, ErrEgressDenied) {
			return Permanent(e)
		}
		return e
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, smtpTimeout)
		defer cancel()
	}
	dial := n.deps.Egress.policy().DialFunc(&net.Dialer{Timeout: 10 * time.Second, Resolver: n.deps.Resolver})
	conn, err := dial(ctx, "tcp", p.addr)
	if err != nil {
		return fail("dial", err)
	}
	defer conn.Close()
	// The conversation ends when ctx does: a past deadline fails the
	// blocked read or write (set only once ctx.Err is, so the error below
	// can say why).
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer func() {
		if ctx.Err() != nil && err != nil {
			err = fmt.Errorf("steps: smtp %s: %w (%v)", p.addr, ctx.Err(), err)
		}
	}()
	host := strings.Trim(p.t.Host, "[]")
	tlsCfg := &tls.Config{}
	if n.deps.TLSConfig != nil {
		tlsCfg = n.deps.TLSConfig.Clone()
	}
	tlsCfg.ServerName = host
	if p.tls == "implicit" {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("tls", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fail("greeting", err)
	}
	defer c.Close()
	if err := c.Hello("mockops.localhost"); err != nil {
		return fail("ehlo", err)
	}
	if p.tls == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Permanent(fmt.Errorf("steps: smtp %s: the server does not offer STARTTLS (set tls: none to send in clear)", p.addr))
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return fail("starttls", err)
		}
	}
	if p.t.Username != "" {
		var a smtp.Auth = &plainAuth{user: p.t.Username, pass: p.t.Password}
		if p.t.Auth == "login" {
			a = &loginAuth{user: p.t.Username, pass: p.t.Password}
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return Permanent(fmt.Errorf("steps: smtp %s: the server does not offer AUTH", p.addr))
		}
		if err := c.Auth(a); err != nil {
			return fail("auth", err)
		}
	}
	if err := c.Mail(p.from.Address); err != nil {
		return fail("mail from", err)
	}
	for _, r := range p.recipients {
		if err := c.Rcpt(r); err != nil {
			return fail("rcpt to "+r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("data", err)
	}
	if err := w.Close(); err != nil {
		return fail("data", err)
	}
	if err := c.Quit(); err != nil {
		return fail("quit", err)
	}
	return nil
}

// errClearAuth refuses credentials over an unencrypted connection.
var errClearAuth = errors.New("refusing to send credentials over an unencrypted connection")

// plainAuth is SASL PLAIN (RFC 4616) that insists on TLS, with no
// exception for localhost (unlike smtp.PlainAuth).
type plainAuth struct{ user, pass string }

func (a *plainAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS {
		return "", nil, errClearAuth
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism: the server prompts for the user name,
// then for the password.
type loginAuth struct {
	user, pass string
	step       int
}

func (a *loginAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS {
		return "", nil, errClearAuth
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	}
	return nil, errors.New("unexpected server challenge")
}
