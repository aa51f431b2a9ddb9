package proxy

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// The HTTP/1.1 loop's request parser. It takes a strict subset of what
// net/http's server accepts: a request head it is not sure of is never
// rejected here but handed, byte for byte, to net/http's server
// (h1conn.go), which then answers exactly as it always did (its 400s and
// 431s included). So the parser needs no error messages, and what it
// accepts must be parsed exactly as http.ReadRequest parses it
// (FuzzH1Parse compares the two).

// h1head is a parsed request head.
type h1head struct {
	method, target, proto string
	minor                 int // 0 or 1 (HTTP/1.0, HTTP/1.1)
	host                  string
	u                     url.URL
	contentLength         int64
	close                 bool // the connection ends after this request
	keepAlive10           bool // HTTP/1.0 with Connection: keep-alive
}

// crlfLines counts the lines of head, each of which must end with CRLF,
// with no bare CR or LF anywhere (net/http takes a bare LF as a line end:
// such oddities are left to it); false when one does not.
func crlfLines(head string) (int, bool) {
	n := 0
	for i := 0; i < len(head); i++ {
		switch head[i] {
		case '\r':
			if i+1 >= len(head) || head[i+1] != '\n' {
				return 0, false
			}
			i++
			n++
		case '\n':
			return 0, false
		}
	}
	return n, true
}

// headerField splits a header line into its canonical name and its value
// (outer blanks trimmed); false when the name or the value is not one
// net/http would take as it is.
func headerField(line string) (key, value string, ok bool) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || !validName(name) {
		return "", "", false
	}
	value = strings.Trim(value, " \t")
	if !validValue(value) {
		return "", "", false
	}
	return textproto.CanonicalMIMEHeaderKey(name), value, true
}

// parseHead parses head, which ends with the blank line, into p and h
// (cleared first); vals is scratch for the header values, returned for
// reuse. It reports false for anything outside the subset the loop
// serves: the request then goes to net/http's server.
func parseHead(head string, p *h1head, h http.Header, vals []string) ([]string, bool) {
	clear(h)
	*p = h1head{}
	n, ok := crlfLines(head)
	if !ok {
		return vals, false
	}
	line, rest, _ := strings.Cut(head, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 {
		return vals, false
	}
	switch method {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH":
	default: // CONNECT, TRACE, extension methods: net/http
		return vals, false
	}
	switch proto {
	case "HTTP/1.1":
		p.minor = 1
	case "HTTP/1.0":
	default:
		return vals, false
	}
	p.method, p.target, p.proto = method, target, proto
	if !parseTarget(target, &p.u) {
		return vals, false
	}
	if cap(vals) < n {
		vals = make([]string, 0, n)
	}
	vals = vals[:0]
	var cl, hosts, conns int
	for {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if line == "" {
			break
		}
		k, value, ok := headerField(line)
		if !ok {
			return vals, false
		}
		switch k {
		case "Transfer-Encoding", "Expect", "Upgrade":
			// Bodies and upgrades the fast path leaves to the
			// ReverseProxy.
			return vals, false
		case "Content-Length":
			cl++
		case "Host":
			hosts++
		case "Connection":
			conns++
		}
		vals = append(vals, value)
		i := len(vals) - 1
		if vv := h[k]; vv != nil {
			h[k] = append(vv, value)
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	if hosts != 1 || cl > 1 || conns > 1 {
		return vals, false
	}
	p.host = h["Host"][0]
	if !plainHost(p.host) {
		return vals, false
	}
	delete(h, "Host") // as net/http's server: it is r.Host
	if cl == 1 {
		v := h["Content-Length"][0]
		if v == "" || len(v) > 5 {
			return vals, false
		}
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return vals, false
			}
			p.contentLength = p.contentLength*10 + int64(v[i]-'0')
		}
		if p.contentLength > fastMaxBody {
			return vals, false
		}
	}
	if c := h["Connection"]; c != nil {
		if p.minor == 1 {
			p.close = hasToken(c, "close")
		} else {
			p.keepAlive10 = hasToken(c, "keep-alive")
		}
	}
	if p.minor == 0 && !p.keepAlive10 {
		p.close = true
	}
	// As http.ReadRequest: Pragma: no-cache without Cache-Control.
	if pr := h["Pragma"]; len(pr) > 0 && pr[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"}
	}
	return vals, true
}

// parseTarget parses an origin-form request target (a path and an
// optional query) into u as url.ParseRequestURI does, allocating
// nothing for a plain one.
func parseTarget(t string, u *url.URL) bool {
	if t == "" || t[0] != '/' {
		return false // "*", absolute form: net/http
	}
	path, query, hasQuery := strings.Cut(t, "?")
	for i := 0; i < len(query); i++ {
		if c := query[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	if !plainQuery(query) {
		return false
	}
	plain := true
	for i := 0; i < len(path) && plain; i++ {
		c := path[i]
		plain = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~$&+,/:;=@", c) >= 0
	}
	if plain {
		*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
		return true
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	pu, err := url.ParseRequestURI(t)
	if err != nil {
		return false
	}
	*u = *pu
	return true
}

// plainHost: a host name, an IPv4 or bracketed IPv6 address, with an
// optional port (letters, digits and .-_:[] only).
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// validName: a header field name, a token (RFC 9110).
func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 0x80 || !tchar[c] {
			return false
		}
	}
	return true
}

// validValue: no control characters but horizontal tab (as net/http).
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
