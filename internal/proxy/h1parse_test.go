package proxy

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// h1Seeds are request heads the parser must agree on with net/http:
// plain ones, and the ambiguous framings and malformed heads
// TestProxyRejectsSmugglingAndHugeHeaders (e2e) sends.
var h1Seeds = []string{
	"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n",
	"GET /p/a/t/h?q=1&r=%20x HTTP/1.1\r\nHost: a.example.com:8080\r\nUser-Agent: ua\r\nAccept: */*\r\n\r\n",
	"GET /a%2Fb/c%20d?x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a!b'(c)*?  HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /? HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD /x HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
	"GET /x HTTP/1.0\r\nHost: a\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5 \r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nBad\x01: v\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX : v\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX:\tv\t\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nx-lower: v\r\nCONTENT-type: t\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\nX-DUP: 3\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET /x HTTP/1.1\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	"GET /x HTTP/1.1\nHost: a\n\n",
	"GET /x HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
	"GET  /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x  HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x HTTP/1.1 \r\nHost: a\r\n\r\n",
	"GET /x HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET /x HTTP/1.2\r\nHost: a\r\n\r\n",
	"GET /x http/1.1\r\nHost: a\r\n\r\n",
	"get /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"G@T /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x?a=%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /x?a;b HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	"GET /x HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: a\r\nTe: trailers\r\nTrailer: X-T\r\n\r\n",
	"\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"DELETE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n",
}

// checkH1Parse fails if parseHead accepts data's head and net/http's
// http.ReadRequest either rejects it or reads it otherwise: method,
// target, URL, protocol, Host, headers, body framing, Close.
func checkH1Parse(t *testing.T, data []byte) {
	t.Helper()
	i := bytes.Index(data, crlfcrlf)
	if i < 0 {
		return
	}
	head := string(data[:i+4])
	var p h1head
	h := http.Header{}
	if _, ok := parseHead(head, &p, h, nil); !ok {
		return // net/http's server gets it: nothing to compare
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("%q: the loop accepts it, net/http rejects it: %v", head, err)
	}
	// What net/http's server adds to ReadRequest's checks (which drops
	// Host from the header, and fails on two; r.Host is compared below).
	for k, vv := range r.Header {
		if !validName(k) {
			t.Fatalf("%q: the loop accepts header name %q", head, k)
		}
		for _, v := range vv {
			if !validValue(v) {
				t.Fatalf("%q: the loop accepts header value %q", head, v)
			}
		}
	}
	type view struct {
		Method, URI, Proto, Host, Path, RawPath, RawQuery, Escaped string
		ForceQuery, Close                                          bool
		Minor                                                      int
		Header                                                     http.Header
		ContentLength                                              int64
		TE                                                         []string
	}
	mine := view{p.method, p.target, p.proto, p.host, p.u.Path, p.u.RawPath, p.u.RawQuery, p.u.EscapedPath(),
		p.u.ForceQuery, p.close, p.minor, h, p.contentLength, nil}
	theirs := view{r.Method, r.RequestURI, r.Proto, r.Host, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.URL.EscapedPath(),
		r.URL.ForceQuery, r.Close, r.ProtoMinor, r.Header, r.ContentLength, r.TransferEncoding}
	if len(theirs.Header) == 0 {
		theirs.Header = http.Header{}
	}
	if !reflect.DeepEqual(mine, theirs) {
		t.Fatalf("%q: parsed otherwise\nloop:     %+v\nnet/http: %+v", head, mine, theirs)
	}
	if r.URL.Host != "" || r.URL.Scheme != "" || r.URL.Opaque != "" || r.ProtoMajor != 1 || p.keepAlive10 != (p.minor == 0 && !p.close) {
		t.Fatalf("%q: URL %+v, proto %d.%d", head, r.URL, r.ProtoMajor, r.ProtoMinor)
	}
	theirBody, theirErr := io.ReadAll(r.Body)
	b := h1body{br: bufio.NewReader(bytes.NewReader(data[i+4:])), n: p.contentLength}
	myBody, myErr := io.ReadAll(&b)
	if !bytes.Equal(myBody, theirBody) || (myErr == nil) != (theirErr == nil) {
		t.Fatalf("%q: body %q (%v), net/http %q (%v)", head, myBody, myErr, theirBody, theirErr)
	}
	if !fast(r) {
		t.Fatalf("%q: the loop takes what the fast path would not", head)
	}
}

// FuzzH1Parse: `go test -fuzz FuzzH1Parse ./internal/proxy` looks for a
// request head the loop reads otherwise than net/http.
func FuzzH1Parse(f *testing.F) {
	for _, s := range h1Seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkH1Parse(t, data) })
}

// TestH1ParseAgreesWithNetHTTP runs the seeds and 200,000 random
// mutations of them (bytes replaced, inserted, deleted, with the bytes
// that matter to HTTP framing most likely) through checkH1Parse, and
// checks that the parser takes the plain requests at all.
func TestH1ParseAgreesWithNetHTTP(t *testing.T) {
	t.Parallel()
	accepted := 0
	for _, s := range h1Seeds {
		var p h1head
		if _, ok := parseHead(s[:strings.Index(s, "\r\n\r\n")+4], &p, http.Header{}, nil); ok {
			accepted++
		}
		checkH1Parse(t, []byte(s))
	}
	if accepted < 15 {
		t.Fatalf("the parser takes only %d of the seeds", accepted)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte("\r\n :\t,;?#%/\x00\x7f\x80\xffaZ0-_")
	took := 0
	for range 200_000 {
		d := mutate(rng, []byte(h1Seeds[rng.IntN(len(h1Seeds))]), special, true)
		if i := bytes.Index(d, crlfcrlf); i >= 0 {
			var p h1head
			if _, ok := parseHead(string(d[:i+4]), &p, http.Header{}, nil); ok {
				took++
			}
		}
		checkH1Parse(t, d)
	}
	t.Logf("the parser took %d of 200,000 mutated requests", took)
	if took == 0 {
		t.Fatal("the parser took none of the mutated requests: the comparison compared nothing")
	}
}

// mutate makes one to three random edits to d (a byte replaced, inserted
// or removed), the bytes drawn from special, or with anyByte one time in
// four any byte.
func mutate(rng *rand.Rand, d, special []byte, anyByte bool) []byte {
	for range 1 + rng.IntN(3) {
		pos := rng.IntN(len(d) + 1)
		c := special[rng.IntN(len(special))]
		if anyByte && rng.IntN(4) == 0 {
			c = byte(rng.IntN(256))
		}
		switch rng.IntN(3) {
		case 0:
			if pos < len(d) {
				d[pos] = c
			}
		case 1:
			d = append(d[:pos], append([]byte{c}, d[pos:]...)...)
		case 2:
			if pos < len(d) {
				d = append(d[:pos], d[pos+1:]...)
			}
		}
	}
	return d
}
