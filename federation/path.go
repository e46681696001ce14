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
	var m, r strings.Builder
	m.Grow(len(escaped))
	r.Grow(len(escaped))
	type seg struct{ mEnd, rEnd int }
	var stack []seg // lengths of m and r before each kept segment
	trailing := false
	for rest := escaped[1:]; ; {
		i := strings.IndexByte(rest, '/')
		part := rest
		if i >= 0 {
			part = rest[:i]
		}
		dec, good := unescapeSegment(part)
		if !good {
			return "", "", false
		}
		switch dec {
		case "":
			trailing = i < 0 // "/a/" ends in an empty segment: keep the slash
		case ".":
			trailing = true
		case "..":
			if n := len(stack); n > 0 {
				mb, rb := m.String()[:stack[n-1].mEnd], r.String()[:stack[n-1].rEnd]
				m.Reset()
				r.Reset()
				m.WriteString(mb)
				r.WriteString(rb)
				stack = stack[:n-1]
			}
			trailing = true
		default:
			stack = append(stack, seg{m.Len(), r.Len()})
			m.WriteByte('/')
			writeMatchSegment(&m, dec)
			r.WriteByte('/')
			r.WriteString(part)
			trailing = false
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if trailing || m.Len() == 0 {
		m.WriteByte('/')
		r.WriteByte('/')
	}
	return m.String(), r.String(), true
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

// unescapeSegment percent-decodes one segment.
func unescapeSegment(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", false
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return string(b), true
}

// writeMatchSegment writes a decoded segment, keeping '/' and '%' encoded
// so that they cannot be confused with separators or escapes.
func writeMatchSegment(b *strings.Builder, dec string) {
	for i := 0; i < len(dec); i++ {
		switch dec[i] {
		case '/':
			b.WriteString("%2F")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(dec[i])
		}
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

// hasSegmentPrefix reports whether the clean path p lies under prefix on a
// segment boundary.
func hasSegmentPrefix(p, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
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
