// Package ui is the shared frame of the MockOps admin pages: one layout
// (landmarks, navigation, skip link, inline CSS), the template helpers every
// page uses (durations, times, status badges, JSON), friendly error pages
// that turn into RFC 9457 problem+json for clients that ask for it, and the
// cross-origin protection of forms.
//
// Each domain package (pipeline, federation, coverage) serves its own pages
// with its own templates, so the layering of DESIGN.md holds and a host
// mounts only what it uses; they share this package so the pages look and
// behave as one site. A page template defines "content"; New parses it
// into a copy of the layout, once, at construction.
//
// Pages work without JavaScript. A page may ask to be refreshed (Page.Refresh)
// while something it shows is running, through <meta http-equiv=refresh>.
//
// Rendering executes into a pooled buffer and writes only a complete page,
// so a template error never sends half a page with a 200 status.
package ui

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/mockops/mockops/internal/problem"
)

//go:embed layout.html
var layoutSrc string

//go:embed style.css
var styleSrc string

// NavItem is one link of the main navigation. Path is absolute (it
// includes the host's mount prefix).
type NavItem struct {
	Label string
	Path  string
}

// Config configures a Renderer. The zero value works: a site named
// "MockOps" whose home is "/".
type Config struct {
	// Site is the name in the header and in every title. "": "MockOps".
	Site string
	// Home is the path of the brand link and of the error pages' way back.
	// "": "/".
	Home string
	// Nav is the main navigation, in order.
	Nav []NavItem
	// Funcs are extra template functions for the pages (added to Funcs).
	Funcs template.FuncMap
	// Logger receives template failures. Nil discards.
	Logger *slog.Logger
}

// Page is what every page gives the layout besides its own data.
type Page struct {
	Title string
	// Current is the path of the navigation item this page belongs to
	// (marked aria-current); "" marks none.
	Current string
	// Refresh, when positive, reloads the page every Refresh seconds: the
	// no-JavaScript way of following a running execution.
	Refresh int
	// Flash is a one-line status message shown above the content.
	Flash string
}

// Renderer renders the pages of one package inside the shared layout.
// It is safe for concurrent use.
type Renderer struct {
	cfg   Config
	pages map[string]*template.Template
	errT  *template.Template
	css   template.CSS
	bufs  sync.Pool
}

// New parses the layout and, for every file of pages matching one of
// patterns, a page named by its file name without extension ("list.html"
// is page "list"); each file defines the template "content". Files whose
// name starts with "_" are partials: the templates they define are shared
// by every page. It fails
// when a template does not parse: a programmer's error found at wiring.
func New(cfg Config, pages fs.FS, patterns ...string) (*Renderer, error) {
	if cfg.Site == "" {
		cfg.Site = "MockOps"
	}
	if cfg.Home == "" {
		cfg.Home = "/"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	funcs := Funcs()
	for k, v := range cfg.Funcs {
		funcs[k] = v
	}
	base, err := template.New("layout").Funcs(funcs).Parse(layoutSrc)
	if err != nil {
		return nil, fmt.Errorf("ui: layout: %w", err)
	}
	r := &Renderer{cfg: cfg, pages: map[string]*template.Template{}, css: template.CSS(styleSrc)}
	r.bufs.New = func() any { return new(bytes.Buffer) }
	if r.errT, err = base.Clone(); err != nil {
		return nil, fmt.Errorf("ui: layout: %w", err)
	}
	if _, err := r.errT.New("content").Parse(`{{template "error" .}}`); err != nil {
		return nil, fmt.Errorf("ui: error page: %w", err)
	}
	var files []string
	for _, pat := range patterns {
		m, err := fs.Glob(pages, pat)
		if err != nil {
			return nil, fmt.Errorf("ui: pattern %q: %w", pat, err)
		}
		files = append(files, m...)
	}
	// Partials (files named _*.html) define templates every page may use.
	for _, f := range files {
		if !strings.HasPrefix(path.Base(f), "_") {
			continue
		}
		src, err := fs.ReadFile(pages, f)
		if err != nil {
			return nil, fmt.Errorf("ui: %w", err)
		}
		if _, err := base.New(path.Base(f)).Parse(string(src)); err != nil {
			return nil, fmt.Errorf("ui: %w", err)
		}
	}
	{
		for _, f := range files {
			if strings.HasPrefix(path.Base(f), "_") {
				continue
			}
			src, err := fs.ReadFile(pages, f)
			if err != nil {
				return nil, fmt.Errorf("ui: %w", err)
			}
			t, err := base.Clone()
			if err != nil {
				return nil, fmt.Errorf("ui: %w", err)
			}
			if _, err := t.New(path.Base(f)).Parse(string(src)); err != nil {
				return nil, fmt.Errorf("ui: %w", err)
			}
			if t.Lookup("content") == nil {
				return nil, fmt.Errorf("ui: %s defines no \"content\" template", f)
			}
			r.pages[strings.TrimSuffix(path.Base(f), path.Ext(f))] = t
		}
	}
	return r, nil
}

// view is what the layout executes with.
type view struct {
	Site, Home string
	CSS        template.CSS
	Nav        []navView
	Page       Page
	Data       any
}

type navView struct {
	Label, Path string
	Current     bool
}

func (r *Renderer) view(p Page, data any) view {
	nav := make([]navView, len(r.cfg.Nav))
	for i, n := range r.cfg.Nav {
		nav[i] = navView{Label: n.Label, Path: n.Path, Current: n.Path == p.Current}
	}
	return view{Site: r.cfg.Site, Home: r.cfg.Home, CSS: r.css, Nav: nav, Page: p, Data: data}
}

// Execute renders page name with data into w, without any HTTP concern:
// what Render does after the headers, and what benchmarks measure.
func (r *Renderer) Execute(w io.Writer, name string, p Page, data any) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("ui: no page %q", name)
	}
	if err := t.ExecuteTemplate(w, "layout", r.view(p, data)); err != nil {
		return fmt.Errorf("ui: page %s: %w", name, err)
	}
	return nil
}

// Render answers req with page name at status. The page is rendered in
// full before anything is written; a template failure is logged and
// answered with the error page (500) instead.
func (r *Renderer) Render(w http.ResponseWriter, req *http.Request, status int, name string, p Page, data any) {
	buf := r.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer r.putBuf(buf)
	if err := r.Execute(buf, name, p, data); err != nil {
		r.cfg.Logger.Error("ui: render failed", "page", name, "path", req.URL.Path, "err", err)
		r.Error(w, req, http.StatusInternalServerError, "The page could not be rendered.")
		return
	}
	writeHTML(w, status, buf.Bytes())
}

// putBuf returns buf to the pool unless a huge page grew it.
func (r *Renderer) putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		r.bufs.Put(buf)
	}
}

func writeHTML(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "same-origin")
	// No script runs on these pages: say so, and keep them out of frames.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Error answers an error: problem+json when the client prefers JSON
// (WantsProblem), else a friendly HTML page in the layout. detail is shown
// to the caller, so it must not carry secrets or internals.
func (r *Renderer) Error(w http.ResponseWriter, req *http.Request, status int, detail string) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if WantsProblem(req) {
		problem.Write(w, problem.Details{Status: status, Detail: detail, Instance: req.URL.Path})
		return
	}
	title := http.StatusText(status)
	data := struct{ Title, Detail, Home string }{title, detail, r.cfg.Home}
	buf := r.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer r.putBuf(buf)
	if err := r.errT.ExecuteTemplate(buf, "layout", r.view(Page{Title: title}, data)); err != nil {
		// The error page is fixed text; failing here is a bug in this package.
		r.cfg.Logger.Error("ui: error page failed", "err", err)
		problem.Error(w, status, detail)
		return
	}
	writeHTML(w, status, buf.Bytes())
}

// WantsProblem reports whether req's Accept header prefers JSON
// (application/json or application/problem+json) to HTML: API clients get
// RFC 9457 problem details, browsers a page.
func WantsProblem(req *http.Request) bool {
	best, bestQ := "", -1.0
	for part := range strings.SplitSeq(req.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if _, err := fmt.Sscanf(s, "%g", &q); err != nil {
				continue
			}
		}
		if q > bestQ || (q == bestQ && specific(mt) && !specific(best)) {
			best, bestQ = mt, q
		}
	}
	return best == "application/json" || best == problem.ContentType
}

func specific(mt string) bool { return mt != "" && !strings.HasSuffix(mt, "/*") }

// Protect wraps h in Go's http.CrossOriginProtection: a POST (or any
// unsafe method) a browser sends from another origin (Sec-Fetch-Site
// cross-site, or an Origin whose host is not the request's) is refused
// with the 403 error page, so no form can be submitted from another site.
// Requests without those headers (curl, API clients) pass: they carry no
// ambient browser credentials to abuse. trusted origins
// ("https://admin.example.com") are allowed.
func (r *Renderer) Protect(h http.Handler, trusted ...string) (http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("ui: trusted origin: %w", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Error(w, req, http.StatusForbidden, "This form was sent from another site, so it was refused. Open the page here and submit it again.")
	}))
	return cop.Handler(h), nil
}
