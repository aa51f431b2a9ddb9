package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
)

// readResponse reads the target's response head on the fast path. A
// plain one (a final status, at most one Content-Length, no
// Transfer-Encoding, well-formed fields, a head that fits the buffer) is
// parsed here into the connection's header map, costing three
// allocations; anything else is left to http.ReadResponse, which reads
// the same bytes, as nothing is consumed before the head is known to be
// plain. FuzzH1Response compares the two.
func (pc *upConn) readResponse(r *http.Request) (*http.Response, error) {
	br := pc.br
	if head := peekResponseHead(br); head != nil {
		if pc.rh == nil {
			pc.rh = http.Header{}
		}
		if resp, ok := parseResponseHead(string(head), r.Method, pc.rh); ok {
			br.Discard(len(head))
			resp.Request = r
			if resp.ContentLength > 0 && r.Method != http.MethodHead {
				pc.body = h1body{br: br, n: resp.ContentLength}
				resp.Body = &pc.body
			}
			return resp, nil
		}
	}
	return http.ReadResponse(br, r)
}

// peekResponseHead returns the buffered response head, reading more
// while it fits the buffer; nil: not all there (an error, or too long).
func peekResponseHead(br *bufio.Reader) []byte {
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			return buf[:i+4]
		}
		if len(buf) == br.Size() {
			return nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil
		}
	}
}

// parseResponseHead parses a plain response head into a new Response
// whose Header is h (cleared first); false: not plain.
func parseResponseHead(head, method string, h http.Header) (*http.Response, bool) {
	clear(h)
	n, ok := crlfLines(head)
	if !ok {
		return nil, false
	}
	line, rest, _ := strings.Cut(head, "\r\n")
	var minor int
	switch {
	case strings.HasPrefix(line, "HTTP/1.1 "):
		minor = 1
	case strings.HasPrefix(line, "HTTP/1.0 "):
	default:
		return nil, false
	}
	status := line[9:]
	if len(status) < 3 || len(status) > 3 && status[3] != ' ' {
		return nil, false
	}
	code := 0
	for i := 0; i < 3; i++ {
		c := status[i]
		if c < '0' || c > '9' {
			return nil, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code > 599 {
		return nil, false // 1xx, 101 and oddities: http.ReadResponse
	}
	vals := make([]string, 0, n)
	cls := 0
	for {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if line == "" {
			break
		}
		k, value, ok := headerField(line)
		if !ok {
			return nil, false
		}
		switch k {
		case "Transfer-Encoding", "Trailer":
			return nil, false
		case "Content-Length":
			cls++
		}
		vals = append(vals, value)
		i := len(vals) - 1
		if vv := h[k]; vv != nil {
			h[k] = append(vv, value)
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	if cls > 1 {
		return nil, false
	}
	resp := &http.Response{Status: status, StatusCode: code, Proto: line0(head), ProtoMajor: 1, ProtoMinor: minor,
		Header: h, ContentLength: -1, Body: http.NoBody}
	if cls == 1 {
		v := h["Content-Length"][0]
		if v == "" || len(v) > 18 {
			return nil, false
		}
		var cl int64
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return nil, false
			}
			cl = cl*10 + int64(v[i]-'0')
		}
		resp.ContentLength = cl
	}
	noBody := method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	switch {
	case method == http.MethodHead:
		// ContentLength is the header's (-1 without one), as net/http.
	case noBody:
		resp.ContentLength = 0
	case cls == 0:
		return nil, false // read to the close: http.ReadResponse
	}
	c := h["Connection"]
	closing := hasToken(c, "close")
	switch {
	case minor == 0:
		resp.Close = closing || !hasToken(c, "keep-alive")
	case closing:
		resp.Close = true
		delete(h, "Connection") // as http.ReadResponse
	}
	if pr := h["Pragma"]; len(pr) > 0 && pr[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"}
	}
	return resp, true
}

// line0 is the protocol of a status line.
func line0(head string) string { return head[:8] }
