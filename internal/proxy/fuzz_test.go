package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoWeb is a backend that answers with what the proxy sent it.
type echoed struct {
	App, Host, RealIP, RequestID string
	ForwardedFor                 []string
}

func newEchoWeb(t testing.TB, app string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(echoed{App: app, Host: r.Host, RealIP: r.Header.Get("X-Real-Ip"),
			RequestID: r.Header.Get("X-Request-Id"), ForwardedFor: r.Header.Values("X-Forwarded-For")})
	}))
	t.Cleanup(s.Close)
	return s
}

// fuzzHostApp is the app a request's Host header must reach, decided here
// without the proxy's table: lower-case, port and one trailing dot
// dropped; "shop" for shop.test and one non-empty label under it, "blog"
// for blog.test, "redirect" for old.test, else "".
func fuzzHostApp(host string) string {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	switch h {
	case "shop.test":
		return "shop"
	case "blog.test":
		return "blog"
	case "old.test":
		return "redirect"
	}
	if label, rest, ok := strings.Cut(h, "."); ok && label != "" && rest == "shop.test" {
		return "shop"
	}
	return ""
}

// FuzzProxyHostAndHeaders sends requests with arbitrary Host,
// X-Forwarded-For, X-Real-Ip and X-Request-Id headers to a real proxy over
// one raw connection: a request reaches the app whose hosts cover its Host
// and no other (else 404, or 400 from the HTTP parser), the app always sees
// the proxy's X-Real-Ip and X-Forwarded-For ending in the client's
// address, and request ids are the client's only when they are sane.
func FuzzProxyHostAndHeaders(f *testing.F) {
	for _, s := range [][4]string{
		{"shop.test", "", "", ""}, {"SHOP.TEST.", "1.2.3.4", "6.6.6.6", "abc"}, {"x.shop.test:8080", "", "", ""},
		{".shop.test", "", "", ""}, {"a.b.shop.test", "", "", ""}, {"blog.test", "", "", "x y"}, {"old.test", "", "", ""},
		{"[::1]:80", "", "", ""}, {"shop.test:", "", "", strings.Repeat("a", 129)}, {"", "", "", ""},
		{"shop.test\x00", "", "", ""}, {"blog.test.shop.test", "", "", ""}, {"*.shop.test", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	p := startProxy(f, "", func(c *Config) { c.Log = slog.New(slog.DiscardHandler) })
	shop, blog := newEchoWeb(f, "shop"), newEchoWeb(f, "blog")
	p.set(Route{App: "shop", Hosts: []string{"shop.test", "*.shop.test"}, Targets: []Target{target(shop, "shop.web.1")},
		Redirects: []Redirect{{From: "old.test", To: "shop.test"}}})
	p.set(Route{App: "blog", Hosts: []string{"blog.test"}, Targets: []Target{target(blog, "blog.web.1")}})
	var conn net.Conn
	var br *bufio.Reader
	f.Cleanup(func() {
		if conn != nil {
			conn.Close()
		}
	})
	f.Fuzz(func(t *testing.T, host, xff, realIP, reqID string) {
		if strings.ContainsAny(host+xff+realIP+reqID, "\r\n") {
			t.Skip("line breaks make another request (the e2e smuggling tests cover them)")
		}
		req := "GET /p?q=1 HTTP/1.1\r\nHost: " + host + "\r\nX-Forwarded-For: " + xff + "\r\nX-Real-Ip: " + realIP +
			"\r\nX-Request-Id: " + reqID + "\r\n\r\n"
		// The connection is kept between inputs; one the proxy closed
		// (an idle timeout, a refused request) is replaced once.
		var resp *http.Response
		var body []byte
		for attempt := 0; ; attempt++ {
			if conn == nil {
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					t.Fatal(err)
				}
				conn, br = c, bufio.NewReader(c)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err := io.WriteString(conn, req)
			if err == nil {
				if resp, err = http.ReadResponse(br, nil); err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
			}
			if err == nil {
				break
			}
			conn.Close()
			conn = nil
			if attempt > 0 {
				t.Fatalf("%q: %v", req, err)
			}
		}
		if resp.Close || resp.StatusCode >= 400 && resp.StatusCode != http.StatusNotFound {
			conn.Close()
			conn = nil
		}
		host = strings.Trim(host, " \t") // optional whitespace around a header value is not part of it
		want := fuzzHostApp(host)
		switch resp.StatusCode {
		case http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge:
			return // the HTTP parser refused the request
		case http.StatusNotFound:
			if want != "" {
				t.Fatalf("Host %q: 404, want app %s", host, want)
			}
			return
		case http.StatusMovedPermanently:
			if want != "redirect" || resp.Header.Get("Location") != "http://shop.test/p?q=1" {
				t.Fatalf("Host %q: redirected to %q, want app %q", host, resp.Header.Get("Location"), want)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("Host %q: status %d %q", host, resp.StatusCode, body)
		}
		var e echoed
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("Host %q: body %q: %v", host, body, err)
		}
		if e.App != want {
			t.Fatalf("Host %q reached app %q, want %q", host, e.App, want)
		}
		if e.Host != host {
			t.Fatalf("Host %q reached the app as %q", host, e.Host)
		}
		if e.RealIP != "127.0.0.1" {
			t.Fatalf("X-Real-Ip %q reached the app as %q", realIP, e.RealIP)
		}
		if n := len(e.ForwardedFor); n == 0 || !strings.HasSuffix(e.ForwardedFor[n-1], "127.0.0.1") {
			t.Fatalf("X-Forwarded-For %q reached the app as %q", xff, e.ForwardedFor)
		}
		if got := resp.Header.Get("X-Request-Id"); got != e.RequestID || got == "" || got != reqID && requestID(reqID) == reqID {
			t.Fatalf("X-Request-Id %q: the app saw %q, the client %q", reqID, e.RequestID, got)
		}
	})
}
