package problem

import "net/http"

// ServeMux serves r with mux, answering as problems what mux would answer
// in plain text: 405 (with its Allow) for a route without that method, 404
// for no route. A redirect of mux to the cleaned path passes on, without
// its HTML body. show renders the request path in a detail; nil shows it
// as it is (a package that bounds what it echoes passes its clipping).
func ServeMux(mux *http.ServeMux, w http.ResponseWriter, r *http.Request, show func(string) string) {
	if _, pattern := mux.Handler(r); pattern != "" {
		mux.ServeHTTP(w, r)
		return
	}
	if show == nil {
		show = func(s string) string { return s }
	}
	// Let the mux decide between 404 and 405 (and compute Allow), but keep
	// only its verdict.
	rec := &verdict{header: http.Header{}}
	mux.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		Error(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+show(r.URL.Path))
		return
	}
	if loc := rec.header.Get("Location"); loc != "" && rec.status >= 300 && rec.status < 400 {
		w.Header().Set("Location", loc)
		w.WriteHeader(rec.status)
		return
	}
	Error(w, http.StatusNotFound, "no route for "+r.Method+" "+show(r.URL.Path))
}

// verdict records the status and headers ServeMux answers a request it
// has no handler for, dropping the plain-text body.
type verdict struct {
	header http.Header
	status int
}

func (v *verdict) Header() http.Header { return v.header }
func (v *verdict) WriteHeader(code int) {
	if v.status == 0 {
		v.status = code
	}
}
func (v *verdict) Write(b []byte) (int, error) {
	v.WriteHeader(http.StatusOK)
	return len(b), nil
}

// Denied answers a request an authorizer refused with status (401 or
// 403): the detail names the action and the resource refused, never the
// workspace nor the authorizer's reason.
func Denied(w http.ResponseWriter, status int, action, resource string) {
	detail := "not allowed to " + action + " " + resource
	if status == http.StatusUnauthorized {
		detail = "authentication required to " + action + " " + resource
	}
	Error(w, status, detail)
}
