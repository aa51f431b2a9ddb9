package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
)

// zdtApp is the test app with a CHECKS file, as the seed's has.
func zdtApp(version string, extra map[string]string) map[string]string {
	files := map[string]string{
		"Dockerfile": dockerfile(version),
		"Procfile":   "web: testapp web\nworker: testapp worker\n",
		"CHECKS":     "WAIT=1\nATTEMPTS=10\n/health ok\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

// served returns what the app answers through the proxy.
func served(t *testing.T, d *daemon, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.proxyAddr+path, nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s%s through the proxy: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestZeroDowntime runs every kind of deploy and restart under a steady
// stream of requests (keep-alive and fresh connections) through the proxy,
// and requires that none fails.
func TestZeroDowntime(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "1")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("first deploy: %d\n%s", code, out)
	}
	if code, body := served(t, d, "shop.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Fatalf("v1 not served: %d %q", code, body)
	}
	// Unknown hosts and apps without web get pages, not hangs.
	if code, body := served(t, d, "nope.test", "/"); code != 404 || !strings.Contains(body, "nope.test") {
		t.Errorf("unknown host: %d %q", code, body)
	}

	load := loadgen.Start(loadgen.Config{Addr: d.proxyAddr, Host: "shop.test", KeepAlive: 3, Fresh: 3, Interval: 5 * time.Millisecond})
	defer load.Stop()
	scenario := func(name string, run func()) {
		t.Helper()
		load.Snapshot()
		run()
		time.Sleep(200 * time.Millisecond) // requests sent right after it count too
		st := load.Snapshot()
		t.Logf("%-28s %s", name, st)
		if st.Failed() != 0 || st.Sent == 0 {
			t.Errorf("%s: %d of %d requests failed: %v", name, st.Failed(), st.Sent, st.Errors)
		}
	}
	deploy := func(files map[string]string, wantOK bool) string {
		out, code := d.deployTar(t, "shop", appTar(t, files))
		if (code == 0) != wantOK {
			t.Errorf("deploy: exit %d (want success %v)\n%s", code, wantOK, out)
		}
		return out
	}
	expectVersion := func(v string) {
		t.Helper()
		if code, body := served(t, d, "shop.test", "/"); code != 200 || !strings.HasPrefix(body, "version="+v) {
			t.Errorf("served %d %q, want %s", code, body, v)
		}
	}

	scenario("good deploy", func() { deploy(zdtApp("v2", nil), true) })
	expectVersion("v2")
	scenario("deploy with failing checks", func() {
		out := deploy(zdtApp("v3", map[string]string{"CHECKS": "WAIT=0\nATTEMPTS=2\nTIMEOUT=1\n/health content-that-never-comes\n"}), false)
		if !strings.Contains(out, "Deploy failed at step check") || !strings.Contains(out, "/health") {
			t.Errorf("failing checks output:\n%s", out)
		}
	})
	expectVersion("v2")
	scenario("failing predeploy", func() {
		out := deploy(zdtApp("v3", map[string]string{"app.json": `{"scripts": {"dokku": {"predeploy": "echo migrating && exit 4"}}}`}), false)
		if !strings.Contains(out, "migrating") || !strings.Contains(out, "Deploy failed at step predeploy") {
			t.Errorf("failing predeploy output:\n%s", out)
		}
	})
	scenario("failing release command", func() {
		files := zdtApp("v3", nil)
		files["Procfile"] += "release: testapp exit 6\n"
		out := deploy(files, false)
		if !strings.Contains(out, "Deploy failed at step release-command") {
			t.Errorf("failing release command output:\n%s", out)
		}
	})
	expectVersion("v2")
	scenario("rollback", func() {
		out := d.mustBerth(t, "releases:rollback", "shop")
		if !strings.Contains(out, "Rolling shop back to release 1") {
			t.Errorf("rollback output:\n%s", out)
		}
	})
	expectVersion("v1")
	scenario("config:set", func() { d.mustBerth(t, "config:set", "shop", "FOO=bar") })
	scenario("ps:scale web=3 then web=1", func() {
		d.mustBerth(t, "ps:scale", "shop", "web=3")
		if got := dynos(containers(t, eng, d, "shop")); !strings.Contains(got, "web.3") {
			t.Errorf("after web=3: %q", got)
		}
		d.mustBerth(t, "ps:scale", "shop", "web=1")
	})
	scenario("ps:restart", func() { d.mustBerth(t, "ps:restart", "shop") })

	// A slow request in flight during the switch completes.
	slow := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+d.proxyAddr+"/slow?ms=2500", nil)
		req.Host = "shop.test"
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	time.Sleep(100 * time.Millisecond)
	scenario("ps:restart with a slow request", func() { d.mustBerth(t, "ps:restart", "shop") })
	if got := <-slow; !strings.HasPrefix(got, "200 slept 2500 ms") {
		t.Errorf("slow request across the switch: %s", got)
	}

	// Restarting the daemon drops nothing; killing it leaves apps up.
	scenario("daemon restart (SIGTERM)", func() {
		if err := d.stop(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		d2, err := startDaemon(d.dataDir, d.extraEnv...)
		if err != nil {
			t.Fatal(err)
		}
		d = d2
	})
	scenario("daemon killed (SIGKILL)", func() {
		if err := d.stop(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
	})
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.stop(syscall.SIGKILL) })
	d = d2
	scenario("good deploy after the restarts", func() { deploy(zdtApp("v4", nil), true) })
	expectVersion("v4")
}

// TestWebSocketAcrossDeploy keeps a WebSocket open through the proxy while
// the app restarts: it ends with a close frame after the drain, not a reset.
func TestWebSocketAcrossDeploy(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "1")
	// The open socket counts as a request in flight: the drain waits for it
	// until its timeout, then the old container stops and closes it.
	d.mustBerth(t, "checks:set", "--global", "drain-timeout", "2")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	conn, err := net.Dial("tcp", d.proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: shop.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade through the proxy: %v %v", err, resp)
	}
	readFrame := func() (byte, string, error) {
		h := make([]byte, 2)
		if _, err := io.ReadFull(br, h); err != nil {
			return 0, "", err
		}
		n := int(h[1] & 0x7f)
		if n == 126 {
			ext := make([]byte, 2)
			io.ReadFull(br, ext)
			n = int(ext[0])<<8 | int(ext[1])
		}
		p := make([]byte, n)
		_, err := io.ReadFull(br, p)
		return h[0] & 0x0f, string(p), err
	}
	if op, msg, err := readFrame(); err != nil || op != 1 || !strings.Contains(msg, "from v1") {
		t.Fatalf("first message: %d %q %v", op, msg, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.mustBerth(t, "ps:restart", "shop")
	}()
	conn.SetReadDeadline(time.Now().Add(90 * time.Second))
	messages := 0
	for {
		op, _, err := readFrame()
		if err != nil {
			t.Fatalf("the socket ended without a close frame after %d messages: %v", messages, err)
		}
		if op == 8 {
			// The closing handshake's answer (masked, as a client's
			// frames are): the app then closes the connection.
			conn.Write([]byte{0x88, 0x80, 1, 2, 3, 4})
			break
		}
		messages++
	}
	<-done
	if messages == 0 {
		t.Errorf("no message arrived during the restart")
	}
}

// TestGitPushUnderLoad is issue 5's "done when": a git push of a new version
// under steady load drops nothing, and a broken one never gets traffic.
func TestGitPushUnderLoad(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, key, port := sshDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "1")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	r := newRepo(t, key, port, zdtApp("v1", nil))
	r.git("remote", "add", "dokku", "dokku@127.0.0.1:shop")
	r.git("push", "dokku", "main")
	load := loadgen.Start(loadgen.Config{Addr: d.proxyAddr, Host: "shop.test", KeepAlive: 3, Fresh: 3, Interval: 5 * time.Millisecond})
	defer load.Stop()

	r.write(zdtApp("v2", nil))
	r.commit("v2")
	if out, code := r.try("push", "dokku", "main"); code != 0 {
		t.Fatalf("push v2: %d\n%s", code, out)
	}
	if code, body := served(t, d, "shop.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v2") {
		t.Errorf("after the push: %d %q", code, body)
	}
	r.write(zdtApp("v3", map[string]string{"CHECKS": "WAIT=0\nATTEMPTS=2\nTIMEOUT=1\n/health never-there\n"}))
	r.commit("broken v3")
	if out, code := r.try("push", "dokku", "main"); code == 0 {
		t.Errorf("a broken push succeeded:\n%s", out)
	}
	time.Sleep(200 * time.Millisecond)
	st := load.Stop()
	t.Logf("git push under load: %s", st)
	if st.Failed() != 0 || st.Sent == 0 {
		t.Errorf("%d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	if code, body := served(t, d, "shop.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v2") {
		t.Errorf("after the broken push: %d %q", code, body)
	}
}
