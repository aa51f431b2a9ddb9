package proxy

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
)

var respSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 404 Not Found\r\nX-Multi: a\r\nx-multi: b\r\nContent-Length: 3\r\n\r\nnop",
	"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nETag: \"v\"\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\n\r\nread to the close",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nBad Name: a\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
	"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 99 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/1.1 200 OK\r\nTrailer: X-T\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
}

// checkResponse fails if readResponse reads data otherwise than
// http.ReadResponse (for a GET, or a HEAD when head is set).
func checkResponse(t *testing.T, data []byte, head bool) {
	t.Helper()
	method := http.MethodGet
	if head {
		method = http.MethodHead
	}
	req := &http.Request{Method: method}
	pc := &upConn{br: bufio.NewReaderSize(bytes.NewReader(data), 4<<10)}
	mine, myErr := pc.readResponse(req)
	theirs, theirErr := http.ReadResponse(bufio.NewReaderSize(bytes.NewReader(data), 4<<10), req)
	if (myErr == nil) != (theirErr == nil) {
		t.Fatalf("%q: error %v, net/http %v", data, myErr, theirErr)
	}
	if myErr != nil {
		return
	}
	type view struct {
		Status             string
		Code, Minor        int
		Header             http.Header
		ContentLength      int64
		Close              bool
		Trailer            http.Header
		TE                 []string
		Body               string
		BodyErr, NoBodyErr bool
	}
	see := func(r *http.Response) view {
		b, err := io.ReadAll(r.Body)
		return view{r.Status, r.StatusCode, r.ProtoMinor, r.Header, r.ContentLength, r.Close, r.Trailer, r.TransferEncoding, string(b), err != nil, r.Body == http.NoBody}
	}
	m, th := see(mine), see(theirs)
	if len(th.Header) == 0 && len(m.Header) == 0 {
		m.Header, th.Header = nil, nil
	}
	if !reflect.DeepEqual(m, th) {
		t.Fatalf("%q (%s): read otherwise\nfast path: %+v\nnet/http:  %+v", data, method, m, th)
	}
}

// FuzzH1Response: `go test -fuzz FuzzH1Response ./internal/proxy`.
func FuzzH1Response(f *testing.F) {
	for _, s := range respSeeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) { checkResponse(t, data, head) })
}

// TestH1ResponseAgreesWithNetHTTP runs the seeds and 100,000 mutations of
// them through checkResponse, for GET and HEAD.
func TestH1ResponseAgreesWithNetHTTP(t *testing.T) {
	t.Parallel()
	pc := &upConn{br: bufio.NewReader(bytes.NewReader([]byte(respSeeds[0])))}
	if resp, err := pc.readResponse(&http.Request{Method: "GET"}); err != nil || resp.Body != &pc.body {
		t.Fatal("the fast path's parser does not take a plain response: the comparison compares nothing")
	}
	for _, s := range respSeeds {
		checkResponse(t, []byte(s), false)
		checkResponse(t, []byte(s), true)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	special := []byte("\r\n :\t,;0123456789\x00\x7f\x80aZ-")
	for i := range 100_000 {
		d := mutate(rng, []byte(respSeeds[rng.IntN(len(respSeeds))]), special, false)
		checkResponse(t, d, i%5 == 0)
	}
}
