package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawResponses writes req on a new connection to the proxy and reads the
// responses it sends until it closes the connection or goes quiet.
func rawResponses(t *testing.T, addr, req string) []string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var out []string
	for {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, resp.Status+" "+strings.TrimSpace(string(body)))
		if resp.Close {
			return out
		}
	}
}

// TestProxyRejectsSmugglingAndHugeHeaders sends hand-made requests to the
// real proxy in front of a deployed app over raw TCP: ambiguous framing
// (two Content-Lengths, Content-Length with Transfer-Encoding, odd
// Transfer-Encodings, obs-fold, whitespace before the colon, NUL) is
// refused with a 4xx/501 or re-framed so that the app can only see what
// the proxy saw (the "smuggled" request comes back as a response of its
// own); oversized headers get 431; and the proxy serves normally after.
func TestProxyRejectsSmugglingAndHugeHeaders(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:set", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	const head = "POST /slow?ms=1 HTTP/1.1\r\nHost: shop.test\r\n"
	const smuggled = "GET /slow?ms=7 HTTP/1.1\r\nHost: shop.test\r\n\r\n"
	refused := func(r []string) bool {
		return len(r) == 1 && (strings.HasPrefix(r[0], "400 ") || strings.HasPrefix(r[0], "501 "))
	}
	for _, tc := range []struct {
		name string
		req  string
		// reframed accepts the proxy answering the request and then the
		// smuggled one as a second request of its own.
		reframed bool
	}{
		{"two Content-Lengths", head + "Content-Length: 5\r\nContent-Length: 48\r\n\r\nhello" + smuggled, false},
		{"Content-Length list", head + "Content-Length: 5, 48\r\n\r\nhello" + smuggled, false},
		{"Content-Length and chunked", head + "Content-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, true},
		{"chunked and Content-Length", head + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" + smuggled, true},
		{"two Transfer-Encodings", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello" + smuggled, false},
		{"gzip, chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled, false},
		{"xchunked", head + "Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\nhello" + smuggled, false},
		{"space before the colon", head + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello" + smuggled, false},
		{"obs-fold of Transfer-Encoding", head + "Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 5\r\n\r\nhello" + smuggled, false},
		// RFC 9112, 5.2: a server replaces the obs-fold of other fields
		// with a space (the proxy then writes the field on one line) or
		// rejects it; the framing stays the proxy's own.
		{"obs-fold", head + "X-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello" + smuggled, true},
		{"NUL in a header", head + "X-A: a\x00b\r\nContent-Length: 5\r\n\r\nhello" + smuggled, false},
		{"signed Content-Length", head + "Content-Length: +5\r\n\r\nhello" + smuggled, false},
		{"chunk size overflow", head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nx\r\n0\r\n\r\n" + smuggled, false},
	} {
		r := rawResponses(t, d.proxyAddr, tc.req)
		t.Logf("%s: %q", tc.name, r)
		switch {
		case refused(r):
		case tc.reframed && len(r) == 2 && strings.HasPrefix(r[0], "200 ") && strings.Contains(r[0], "slept 1 ms") &&
			strings.HasPrefix(r[1], "200 ") && strings.Contains(r[1], "slept 7 ms"):
		default:
			t.Errorf("%s: responses %q; want 400/501 alone%s", tc.name, r, map[bool]string{true: ", or the request and the smuggled one answered apart", false: ""}[tc.reframed])
		}
	}
	// Headers beyond the limit (1 MiB) get 431, alone and as many.
	big := head + "X-Big: " + strings.Repeat("a", 2<<20) + "\r\nContent-Length: 0\r\n\r\n"
	var many strings.Builder
	many.WriteString(head)
	for range 40000 {
		many.WriteString("X-H" + strings.Repeat("h", 10) + ": " + strings.Repeat("v", 20) + "\r\n")
	}
	many.WriteString("Content-Length: 0\r\n\r\n")
	for name, req := range map[string]string{"one big header": big, "many headers": many.String()} {
		if r := rawResponses(t, d.proxyAddr, req); len(r) != 1 || !strings.HasPrefix(r[0], "431 ") {
			t.Errorf("%s: responses %q, want 431", name, r)
		}
	}
	// And it still serves.
	if r := rawResponses(t, d.proxyAddr, "GET / HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n"); len(r) != 1 || !strings.HasPrefix(r[0], "200 ") || !strings.Contains(r[0], "version=v1") {
		t.Errorf("a plain request after the attempts: %q", r)
	}
}
