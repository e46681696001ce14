package ui

import (
	"html"
	"html/template"
	"strings"
)

// Builder writes an HTML fragment in Go, for the repeated parts of long
// pages (the rows of a 100-row table, the cards of a 50-step timeline).
// html/template calls its escapers and the page's functions through
// reflection for every action, about a microsecond each, which a table of
// a thousand actions turns into milliseconds; a Builder writes the same
// markup with the escaping done directly.
//
// Text and Attr escape what they are given; Raw is for markup the caller
// wrote (constants, Badge); URL accepts only relative references and
// http(s) URLs. The zero value is ready to use.
type Builder struct {
	b strings.Builder
}

// Grow reserves room for n more bytes.
func (b *Builder) Grow(n int) { b.b.Grow(n) }

// Raw writes trusted markup as is.
func (b *Builder) Raw(s string) { b.b.WriteString(s) }

// Text writes s escaped for element content or a quoted attribute value.
func (b *Builder) Text(s string) {
	if strings.ContainsAny(s, `<>&'"`) {
		s = html.EscapeString(s)
	}
	b.b.WriteString(s)
}

// Attr writes ` name="value"` with value escaped.
func (b *Builder) Attr(name, value string) {
	b.b.WriteByte(' ')
	b.b.WriteString(name)
	b.b.WriteString(`="`)
	b.Text(value)
	b.b.WriteByte('"')
}

// URL writes u escaped for a quoted href or action. Only a relative
// reference (a path, "?query" or "#fragment") or an http(s) URL is
// written; anything else (javascript:, data:) becomes "#", as
// html/template's URL filter does.
func (b *Builder) URL(u string) {
	if !SafeURL(u) {
		u = "#"
	}
	b.Text(u)
}

// SafeURL reports whether u is a relative reference or an http(s) URL.
func SafeURL(u string) bool {
	if i := strings.IndexAny(u, ":/?#"); i < 0 || u[i] != ':' {
		return true // no scheme
	}
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// Badge writes Badge(status).
func (b *Builder) Badge(status string) { b.b.WriteString(string(Badge(status))) }

// HTML returns what was written, as markup html/template inserts as is.
func (b *Builder) HTML() template.HTML { return template.HTML(b.b.String()) }
