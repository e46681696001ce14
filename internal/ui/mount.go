package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// MountPrefix normalizes the path a host mounts a package's pages at: no
// trailing slash, "" meaning "/ui". ok is false for a prefix that is not
// absolute; the caller reports it in its own package's words.
func MountPrefix(prefix string) (p string, ok bool) {
	p = strings.TrimRight(prefix, "/")
	if p == "" {
		p = "/ui"
	}
	return p, strings.HasPrefix(p, "/")
}

// Link is the shape of the public PageLink types of the packages with
// pages: an item a host adds to their navigation.
type Link interface {
	~struct {
		Label string
		Path  string
	}
}

// NavWith returns a package's own navigation items followed by the
// host's links, so the packages' pages read as one site.
func NavWith[L Link](own []NavItem, links []L) []NavItem {
	nav := make([]NavItem, 0, len(own)+len(links))
	nav = append(nav, own...)
	for _, l := range links {
		nav = append(nav, NavItem(l))
	}
	return nav
}

// Mux routes a package's pages under their mount prefix: patterns are
// written relative to it, the prefix itself redirects to the home page,
// and any other path is the 404 error page.
type Mux struct {
	r      *Renderer
	prefix string
	mux    *http.ServeMux
}

// NewMux returns a Mux for pages mounted at prefix (as MountPrefix
// returns it) whose first page is home (an absolute path).
func (r *Renderer) NewMux(prefix, home string) *Mux {
	m := &Mux{r: r, prefix: prefix, mux: http.NewServeMux()}
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, home, http.StatusSeeOther)
	})
	m.mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		r.Error(w, req, http.StatusNotFound, "There is no page at this address.")
	})
	return m
}

// HandleFunc registers h for pattern, "METHOD /path" relative to the
// prefix ("GET /pipelines/{name}").
func (m *Mux) HandleFunc(pattern string, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	m.mux.HandleFunc(method+" "+m.prefix+path, h)
}

// Handler returns the routed pages behind Protect, trusting the origins
// given.
func (m *Mux) Handler(trusted ...string) (http.Handler, error) {
	return m.r.Protect(m.mux, trusted...)
}

// Denied answers the error page for a request the Authorizer refused
// with status (401 or 403); what names the refused request
// (access.Request.String). The Authorizer's reason is never shown.
func (r *Renderer) Denied(w http.ResponseWriter, req *http.Request, status int, what string) {
	msg := "You are not allowed to " + what + "."
	if status == http.StatusUnauthorized {
		msg = "Sign in to see this page."
	}
	r.Error(w, req, status, msg)
}

// ParseForm parses a POSTed form of at most limit bytes, answering the
// 413 or 400 error page itself when it cannot, and returning false then.
func (r *Renderer) ParseForm(w http.ResponseWriter, req *http.Request, limit int64) bool {
	req.Body = http.MaxBytesReader(w, req.Body, limit)
	if err := req.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			r.Error(w, req, http.StatusRequestEntityTooLarge, "The form is larger than "+byteSize(limit)+".")
		} else {
			r.Error(w, req, http.StatusBadRequest, "The form could not be read.")
		}
		return false
	}
	return true
}

// byteSize renders a limit in the largest binary unit that divides it.
func byteSize(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.unit
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
