package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProxyFastPathMatchesReverseProxy deploys an app and sends the same
// hand-made requests through the daemon's proxy (its HTTP/1.1 loop and
// fast path on, the default), through a second proxy of the same binary
// started with BERTH_PROXY_FASTPATH=0 on a copy of the routes (every
// request through httputil.ReverseProxy on net/http's server), and a
// third with BERTH_PROXY_H1LOOP=0 (the fast path on net/http's server):
// the app must see the same request (headers with hop-by-hop ones
// dropped, X-Forwarded-* chains, bodies), and the client the same
// answer, over one kept-alive connection each (which the loop hands to
// net/http's server at the chunked POST).
func TestProxyFastPathMatchesReverseProxy(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:set", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}

	// The same proxy with the fast path off, on the daemon's routes, and
	// one with the fast path on net/http's server instead of the HTTP/1.1
	// loop.
	rpAddr := startProxyCopy(t, d, "BERTH_PROXY_FASTPATH=0", "fast_path=false")
	netAddr := startProxyCopy(t, d, "BERTH_PROXY_H1LOOP=0", "h1_loop=false")

	const h = "Host: shop.test\r\nX-Request-Id: e2e-1\r\n"
	reqs := []string{
		"GET /headers?a=1&b=%20x HTTP/1.1\r\n" + h + "X-Multi: one\r\nX-Multi: two\r\nUser-Agent: e2e/1\r\n" +
			"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic x\r\nTe: trailers\r\n" +
			"Forwarded: for=1.2.3.4\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Proto: https\r\nX-Real-Ip: 6.6.6.6\r\n\r\n",
		"POST /headers HTTP/1.1\r\n" + h + "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
		"POST /headers HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HEAD /headers HTTP/1.1\r\n" + h + "\r\n",
		"GET /slow?ms=5 HTTP/1.1\r\n" + h + "\r\n",
		"GET /nothing-here HTTP/1.1\r\n" + h + "\r\n",
	}
	type answer struct {
		Status int
		Header http.Header
		Body   string
	}
	through := func(addr string) []answer {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		var out []answer
		for _, raw := range reqs { // one kept-alive connection
			if _, err := io.WriteString(c, raw); err != nil {
				t.Fatal(err)
			}
			method, _, _ := strings.Cut(raw, " ")
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				t.Fatalf("%s: %s: %v", addr, raw[:strings.IndexByte(raw, '\r')], err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("%s: %s: body: %v", addr, raw[:strings.IndexByte(raw, '\r')], err)
			}
			a := answer{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
			delete(a.Header, "Date")
			if strings.HasPrefix(a.Body, "{") { // the app's echo: the proxies' ports differ
				var v map[string]any
				json.Unmarshal(body, &v)
				hdr, _ := v["header"].(map[string]any)
				if hdr["X-Forwarded-Port"] == nil {
					t.Errorf("%s: no X-Forwarded-Port in %s", addr, body)
				}
				delete(hdr, "X-Forwarded-Port")
				a.Body = fmt.Sprint(v)
				delete(a.Header, "Content-Length")
			}
			out = append(out, a)
		}
		return out
	}
	fast, slow, onNet := through(d.proxyAddr), through(rpAddr), through(netAddr)
	for i := range reqs {
		if !reflect.DeepEqual(fast[i], slow[i]) {
			t.Errorf("%s\nHTTP/1.1 loop: %+v\nReverseProxy:  %+v", reqs[i][:strings.IndexByte(reqs[i], '\r')], fast[i], slow[i])
		}
		if !reflect.DeepEqual(onNet[i], slow[i]) {
			t.Errorf("%s\nnet/http:      %+v\nReverseProxy:  %+v", reqs[i][:strings.IndexByte(reqs[i], '\r')], onNet[i], slow[i])
		}
	}
	if fast[0].Status != 200 || !strings.Contains(fast[0].Body, "10.0.0.1, 10.0.0.2, ") || strings.Contains(fast[0].Body, "secret") || strings.Contains(fast[0].Body, "6.6.6.6") {
		t.Errorf("GET /headers: the app saw %s", fast[0].Body)
	}
	if fast[1].Status != 200 || !strings.Contains(fast[1].Body, "hello world") {
		t.Errorf("POST /headers: the app saw %s", fast[1].Body)
	}
}

// startProxyCopy starts `berth serve-proxy` on a copy of d's routes, on
// its own HTTP port, with env set; its start line must say want.
func startProxyCopy(t *testing.T, d *daemon, env, want string) string {
	t.Helper()
	dir := shortTempDir(t)
	routes, err := os.ReadFile(filepath.Join(d.dataDir, "proxy-routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proxy-routes.json"), routes, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logPath := filepath.Join(dir, "proxy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	p := exec.Command(filepath.Join(binDir, "berth"), "serve-proxy")
	p.Env = append(os.Environ(), "BERTH_DATA_DIR="+dir, "BERTH_HTTP_ADDR="+addr, "BERTH_HTTPS_ADDR=off", env)
	p.Stdout, p.Stderr = logFile, logFile
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Process.Signal(syscall.SIGTERM); p.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "proxy started") {
			if !strings.Contains(string(b), want) {
				t.Fatalf("%s: the proxy's start line does not say %s:\n%s", env, want, b)
			}
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy with %s did not start:\n%s", env, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
