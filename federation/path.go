package federation

import (
	"strings"
)

// Paths are matched in a "match form": the request's segments
// percent-decoded, except that a decoded '/' stays "%2F" and a decoded '%'
// stays "%25". A literal '/' therefore only ever separates segments, so
// "/api%2Fadmin" is one segment and can never match the prefix "/api", and
// "%2e%2e" is recognised as "..". Dot segments are resolved (RFC 3986
// remove_dot_segments) and empty segments dropped before matching, so
// "/api/../admin" matches "/admin" and is forwarded as "/admin": no path
// reaches a service whose prefix it does not have after cleaning.
//
// The forwarded path keeps each remaining segment in the client's own
// escaping (raw form), so "%2F" reaches the service as "%2F".

// cleanPath turns an escaped request path into its match form and its raw
// form (same segments, original escaping). ok is false for a path that is
// not absolute or holds a malformed escape. A path that is already clean
// comes back unchanged, without allocating.
//
// The work is linear in the length of the path whatever it holds: kept
// segments are remembered as spans of escaped, so ".." pops one in constant
// time, and both forms are written once at the end. (Rewriting the output
// on every ".." made a path of many segments and as many ".." quadratic: a
// 100 KB request line cost a second of CPU.)
func cleanPath(escaped string) (match, raw string, ok bool) {
	if escaped == "" {
		return "/", "/", true
	}
	if escaped[0] != '/' {
		return "", "", false
	}
	if isClean(escaped) {
		return escaped, escaped, true
	}
	return cleanSlow(escaped)
}

// cleanSlow is cleanPath for a path that needs decoding or has dot or
// empty segments. It is a function of its own so that the common clean
// path does not pay for this one's stack frame.
func cleanSlow(escaped string) (match, raw string, ok bool) {
	type span struct{ start, end int } // a kept segment: escaped[start:end]
	var spans [16]span
	kept := spans[:0]
	trailing := false // the path ends on a segment boundary: keep the slash
	for start := 1; ; {
		end := strings.IndexByte(escaped[start:], '/')
		last := end < 0
		if last {
			end = len(escaped)
		} else {
			end += start
		}
		kind, good := classifySegment(escaped[start:end])
		if !good {
			return "", "", false
		}
		switch kind {
		case segEmpty:
			trailing = last // "/a/" ends in an empty segment
		case segDot:
			trailing = true
		case segDotDot:
			if n := len(kept); n > 0 {
				kept = kept[:n-1]
			}
			trailing = true
		default:
			kept = append(kept, span{start, end})
			trailing = false
		}
		if last {
			break
		}
		start = end + 1
	}
	var r strings.Builder
	r.Grow(len(escaped) + 1)
	for _, s := range kept {
		r.WriteByte('/')
		r.WriteString(escaped[s.start:s.end])
	}
	if trailing || len(kept) == 0 {
		r.WriteByte('/')
	}
	raw = r.String()
	if strings.IndexByte(raw, '%') < 0 {
		return raw, raw, true // nothing to decode: both forms are the same
	}
	var m strings.Builder
	m.Grow(len(raw))
	for _, s := range kept {
		m.WriteByte('/')
		writeMatchSegment(&m, escaped[s.start:s.end])
	}
	if trailing || len(kept) == 0 {
		m.WriteByte('/')
	}
	return m.String(), raw, true
}

// isClean reports whether p needs no decoding and no dot or empty segment
// removal: the common case, served without allocating.
func isClean(p string) bool {
	if strings.IndexByte(p, '%') >= 0 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		if rest == "" {
			return true // a trailing slash is kept as is
		}
		switch {
		case rest[0] == '/':
			return false
		case rest == "." || rest == "..",
			strings.HasPrefix(rest, "./"), strings.HasPrefix(rest, "../"):
			return false
		}
	}
	return true
}

type segKind int

const (
	segName   segKind = iota
	segEmpty          // "" (from "//" or a trailing "/")
	segDot            // "." in any escaping
	segDotDot         // ".." in any escaping ("%2e%2E", ".%2e", ...)
)

// classifySegment says what one escaped segment is once decoded, without
// allocating; ok is false for a malformed percent-escape.
func classifySegment(s string) (kind segKind, ok bool) {
	n := 0 // decoded length
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return 0, false
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if c == '.' {
			dots++
		}
		n++
	}
	switch {
	case n == 0:
		return segEmpty, true
	case n == 1 && dots == 1:
		return segDot, true
	case n == 2 && dots == 2:
		return segDotDot, true
	}
	return segName, true
}

// writeMatchSegment writes a valid escaped segment decoded, except that
// '/' and '%' stay encoded ("%2F", "%25") so that they cannot be confused
// with separators or escapes.
func writeMatchSegment(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		switch c = unhex(s[i+1])<<4 | unhex(s[i+2]); c {
		case '/':
			b.WriteString("%2F")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
		i += 2
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// segmentCount is the number of segments of a clean prefix ("/" has none).
func segmentCount(prefix string) int {
	if prefix == "/" {
		return 0
	}
	return strings.Count(prefix, "/")
}

// stripSegments removes the first n segments of a clean path, keeping the
// leading slash: stripSegments("/auth/x", 1) = "/x", ("/auth", 1) = "/".
func stripSegments(p string, n int) string {
	i := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(p[i+1:], '/')
		if j < 0 {
			return "/"
		}
		i += 1 + j
	}
	return p[i:]
}

// hostKey normalises a Host header or a configured host for matching: the
// port and a trailing dot are dropped and letters lowered. It allocates
// only when the host has upper-case letters.
func hostKey(host string) string {
	if strings.HasPrefix(host, "[") { // [v6]:port
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[:i+1]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if 'A' <= host[i] && host[i] <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
