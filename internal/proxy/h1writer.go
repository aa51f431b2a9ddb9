package proxy

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// h1writer is the ResponseWriter of the HTTP/1.1 loop. It frames a
// response as net/http's server does (its response and chunkWriter, whose
// rules are copied here): the first 2 KiB are held back, so that a
// handler that finishes within them gets a Content-Length; otherwise a
// response without one is chunked (HTTP/1.1) or ends with the connection
// (HTTP/1.0); a missing Content-Type is sniffed; a Date is added; HEAD
// gets no body; 1xx are sent at once; trailers are announced with
// "Trailer" or set with http.TrailerPrefix. One per connection, reused.
type h1writer struct {
	bw     *bufio.Writer
	noKeep *atomic.Bool // the server's: keep-alives are off
	header http.Header
	head   h1head // the request's
	isHEAD bool

	status        int  // 0: WriteHeader not called
	committed     bool // the status line and headers are in bw
	handlerDone   bool
	closeAfter    bool
	chunking      bool
	contentLength int64 // declared; -1: none
	written       int64
	pending       []byte // the body held back before the headers are written
	err           error  // writing to the client failed

	// What WriteHeader saw (net/http clones the header there).
	lines          []byte // the header fields, as written, but those below
	clen, te, conn string
	hasType        bool
	hasDate        bool
	hasCE          bool
	trailers       []string // announced
	prefixed       bool     // some http.TrailerPrefix fields
}

const h1HoldBack = 2048 // net/http's bufferBeforeChunkingSize

func (w *h1writer) reset(p *h1head) {
	clear(w.header)
	w.head, w.isHEAD = *p, p.method == http.MethodHead
	w.status, w.committed, w.handlerDone, w.closeAfter, w.chunking = 0, false, false, false, false
	w.contentLength, w.written = -1, 0
	w.pending, w.lines, w.trailers = w.pending[:0], w.lines[:0], w.trailers[:0]
	w.clen, w.te, w.conn = "", "", ""
	w.hasType, w.hasDate, w.hasCE, w.prefixed = false, false, false, false
}

func (w *h1writer) Header() http.Header { return w.header }

func (w *h1writer) WriteHeader(code int) {
	if w.status != 0 {
		return // superfluous, as net/http ignores it
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		// Informational: sent now, with the header as it is.
		w.statusLine(code)
		for k, vv := range w.header {
			if k != "Content-Length" && k != "Transfer-Encoding" {
				w.appendField(k, vv)
			}
		}
		w.bw.Write(w.lines)
		w.lines = w.lines[:0]
		w.bw.WriteString("\r\n")
		if err := w.bw.Flush(); err != nil && w.err == nil {
			w.err = err
		}
		return
	}
	w.status = code
	h := w.header
	if cl := first(h["Content-Length"]); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength, w.clen = v, cl
		}
	}
	w.te, w.conn = first(h["Transfer-Encoding"]), first(h["Connection"])
	_, w.hasType = h["Content-Type"]
	_, w.hasDate = h["Date"]
	w.hasCE = first(h["Content-Encoding"]) != ""
	for _, v := range h["Trailer"] {
		for v != "" {
			var k string
			k, v, _ = strings.Cut(v, ",")
			if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" && validTrailer(k) {
				w.trailers = append(w.trailers, k)
			}
		}
	}
	for k, vv := range h {
		switch {
		case strings.HasPrefix(k, http.TrailerPrefix):
			w.prefixed = true
		case k == "Content-Length" || k == "Transfer-Encoding" || k == "Connection":
		case !bodyAllowed(code) && k == "Content-Type" && code == http.StatusNotModified:
		default:
			w.appendField(k, vv)
		}
	}
}

func first(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func (w *h1writer) statusLine(code int) {
	if w.head.minor == 1 {
		w.bw.WriteString("HTTP/1.1 ")
	} else {
		w.bw.WriteString("HTTP/1.0 ")
	}
	var num [8]byte
	w.bw.Write(strconv.AppendInt(num[:0], int64(code), 10))
	w.bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		w.bw.WriteString(text)
	} else {
		w.bw.WriteString("status code ")
		w.bw.Write(strconv.AppendInt(num[:0], int64(code), 10))
	}
	w.bw.WriteString("\r\n")
}

// appendField adds a header field to w.lines as net/http writes it:
// invalid names dropped, line breaks in values made spaces, values
// trimmed.
func (w *h1writer) appendField(k string, vv []string) {
	if !validName(k) {
		return
	}
	for _, v := range vv {
		if strings.ContainsAny(v, "\r\n") {
			v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
		}
		v = strings.Trim(v, " \t\r\n")
		w.lines = append(w.lines, k...)
		w.lines = append(w.lines, ": "...)
		w.lines = append(w.lines, v...)
		w.lines = append(w.lines, "\r\n"...)
	}
}

func (w *h1writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.committed {
		if len(w.pending)+len(p) <= h1HoldBack {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.commit(w.pending, p)
		w.body(w.pending)
	}
	w.body(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// body writes p to the client, as a chunk when chunking.
func (w *h1writer) body(p []byte) {
	if len(p) == 0 || w.isHEAD || w.err != nil {
		return
	}
	if w.chunking {
		var num [16]byte
		w.bw.Write(strconv.AppendInt(num[:0], int64(len(p)), 16))
		w.bw.WriteString("\r\n")
	}
	_, err := w.bw.Write(p)
	if w.chunking {
		_, err = w.bw.WriteString("\r\n")
	}
	if err != nil {
		w.err = err
	}
}

func (w *h1writer) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(w.pending, nil)
		w.body(w.pending)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

func (w *h1writer) Flush() { w.FlushError() }

// finish ends the response once the handler returned, and reports
// whether the connection may serve another request.
func (w *h1writer) finish(keepAlives bool) bool {
	w.handlerDone = true
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(w.pending, nil)
		w.body(w.pending)
	}
	if w.chunking && w.err == nil {
		w.bw.WriteString("0\r\n")
		w.lines = w.lines[:0]
		for k, vv := range w.header {
			if kk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				w.appendField(kk, vv)
			}
		}
		for _, k := range w.trailers {
			w.appendField(k, w.header[k])
		}
		w.bw.Write(w.lines)
		w.bw.WriteString("\r\n")
	}
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	if w.closeAfter || w.err != nil || !keepAlives {
		return false
	}
	return w.isHEAD || w.contentLength == -1 || !bodyAllowed(w.status) || w.contentLength == w.written
}

// commit writes the status line and the headers, framing the body as
// net/http's chunkWriter.writeHeader does; p and more are the first of
// the body.
func (w *h1writer) commit(p, more []byte) {
	w.committed = true
	code := w.status
	trailers := len(w.trailers) > 0 || w.prefixed
	var setCL, setConn, setTE, setType string
	if w.handlerDone && !trailers && w.te == "" && bodyAllowed(code) && w.clen == "" && (!w.isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		setCL = strconv.Itoa(len(p))
	}
	hasCL := w.contentLength != -1
	keepAlives := !w.noKeep.Load()
	if w.head.keepAlive10 && keepAlives && w.clen != "" && w.conn == "keep-alive" {
		w.closeAfter = false
	}
	if w.head.keepAlive10 && (w.isHEAD || hasCL || !bodyAllowed(code)) {
		if w.conn == "" && w.header["Connection"] == nil {
			setConn = "keep-alive"
		}
	} else if w.head.minor == 0 || w.head.close {
		w.closeAfter = true
	}
	if w.conn == "close" || !keepAlives {
		w.closeAfter = true
	}
	if bodyAllowed(code) {
		if !w.hasCE && !w.hasType && w.te == "" {
			if b := sniffable(p, more); len(b) > 0 {
				setType = http.DetectContentType(b)
			}
		}
	}
	clen := w.clen
	if setCL != "" {
		clen = setCL
	}
	if !bodyAllowed(code) {
		clen = ""
	}
	if hasCL && w.te != "" && w.te != "identity" {
		clen, hasCL = "", false
	}
	// The handler's Transfer-Encoding is never written as it is: the
	// fast path drops the target's (hop-by-hop) and frames the body here.
	switch {
	case w.isHEAD || !bodyAllowed(code), hasCL:
	case w.head.minor == 1:
		if w.te == "identity" {
			w.closeAfter = true
		} else {
			w.chunking, setTE = true, "chunked"
		}
	default:
		w.closeAfter = true
	}
	if w.chunking {
		clen = ""
	}
	conn := w.conn
	if w.closeAfter && (!keepAlives || !hasToken(w.header["Connection"], "close")) {
		conn = ""
		if w.head.minor == 1 {
			setConn = "close"
		}
	}
	w.statusLine(code)
	w.bw.Write(w.lines)
	if clen != "" {
		writeField(w.bw, "Content-Length", clen)
	}
	if conn != "" {
		for _, v := range w.header["Connection"] {
			writeField(w.bw, "Connection", v)
		}
	}
	if !w.hasDate {
		w.bw.WriteString("Date: ")
		w.bw.Write(httpDate())
		w.bw.WriteString("\r\n")
	}
	if setType != "" {
		writeField(w.bw, "Content-Type", setType)
	}
	if setConn != "" {
		writeField(w.bw, "Connection", setConn)
	}
	if setTE != "" {
		writeField(w.bw, "Transfer-Encoding", setTE)
	}
	w.bw.WriteString("\r\n")
}

// sniffable is the start of the body DetectContentType looks at.
func sniffable(p, more []byte) []byte {
	if len(p) > 0 || len(more) == 0 {
		return p
	}
	return more
}

// validTrailer: a header a trailer may carry (net/http's list).
func validTrailer(k string) bool {
	switch k {
	case "Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
		"Content-Range", "Content-Type", "Expect", "Host", "Keep-Alive", "Max-Forwards",
		"Pragma", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Range",
		"Realm", "Te", "Trailer", "Transfer-Encoding", "Www-Authenticate":
		return false
	}
	return true
}

// httpDate is the Date header's value, made once a second.
func httpDate() []byte {
	now := time.Now().Unix()
	if d := dateCache.Load(); d != nil && d.sec == now {
		return d.b
	}
	d := &cachedDate{sec: now, b: time.Unix(now, 0).UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}

type cachedDate struct {
	sec int64
	b   []byte
}

var dateCache atomic.Pointer[cachedDate]
