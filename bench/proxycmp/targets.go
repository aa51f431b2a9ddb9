package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// target is one thing the load is sent to: the backend directly or a proxy
// in front of it, each on its own loopback ports.
type target struct {
	name        string
	http, https string // 127.0.0.1:PORT; "" when it has none
	proc        *exec.Cmd
	pidsOf      func() []int // its processes (default: proc's), for cpuTime
}

// freePort returns a loopback port nothing listens on right now.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCert writes a self-signed ECDSA P-256 certificate for localhost and
// 127.0.0.1 to dir (cert.pem, key.pem, and combined.pem for HAProxy).
func writeCert(dir string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("generate a key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		fail("self-sign a certificate: %v", err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	for name, b := range map[string][]byte{"cert.pem": crt, "key.pem": k, "combined.pem": append(append([]byte{}, crt...), k...)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			fail("%v", err)
		}
	}
}

// start runs a proxy's command in its own process group, its output in
// DIR/NAME.log, and waits until both its ports answer.
func start(t *target, dir string, env []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(dir, t.name+".log"))
	if err != nil {
		fail("%v", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		fail("start %s: %v", t.name, err)
	}
	t.proc = cmd
	atExit(t.stop)
	waitReady(t, filepath.Join(dir, t.name+".log"))
}

// waitReady waits until the target answers 200 on each of its ports.
func waitReady(t *target, logPath string) {
	deadline := time.Now().Add(20 * time.Second)
	for _, u := range t.urls() {
		for {
			err := probe(u, false)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(logPath)
				fail("%s does not answer on %s: %v\n%s", t.name, u, err, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (t *target) urls() []string {
	var u []string
	if t.http != "" {
		u = append(u, "http://"+t.http+"/")
	}
	if t.https != "" {
		u = append(u, "https://"+t.https+"/")
	}
	return u
}

// probe sends one GET for host to u; over TLS it checks that TLS 1.3 was
// negotiated, and HTTP/2 when h2 is set.
func probe(u string, h2 bool) error {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{ServerName: host, InsecureSkipVerify: true},
		ForceAttemptHTTP2: h2,
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", u, nil)
	req.Host = host
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode != 200:
		return fmt.Errorf("status %d", resp.StatusCode)
	case resp.TLS != nil && resp.TLS.Version != tls.VersionTLS13:
		return fmt.Errorf("TLS version %x, not 1.3", resp.TLS.Version)
	case h2 && resp.ProtoMajor != 2:
		return fmt.Errorf("%s, not HTTP/2", resp.Proto)
	}
	return nil
}

// stop ends the target's process group (its own: started with Setpgid).
func (t *target) stop() {
	if t.proc == nil || t.proc.Process == nil {
		return
	}
	syscall.Kill(-t.proc.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { t.proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-t.proc.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func startNginx(dir, backend string) *target {
	t := &target{name: "nginx", http: fmt.Sprintf("127.0.0.1:%d", freePort()), https: fmt.Sprintf("127.0.0.1:%d", freePort())}
	tmp := filepath.Join(dir, "nginx-tmp")
	os.MkdirAll(tmp, 0o777)
	os.Chmod(tmp, 0o777)
	conf := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream backend {
		server %[3]s;
		keepalive 64;
	}
	server {
		listen %[4]s;
		listen %[5]s ssl http2;
		ssl_certificate %[1]s/cert.pem;
		ssl_certificate_key %[1]s/key.pem;
		ssl_protocols TLSv1.3;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto $scheme;
		}
	}
}
`, dir, tmp, backend, t.http, t.https)
	path := filepath.Join(dir, "nginx.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	start(t, dir, nil, nginxBin(), "-c", path, "-p", dir)
	return t
}

func nginxBin() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return "/usr/sbin/nginx"
}

func startCaddy(dir, backend string) *target {
	t := &target{name: "caddy", http: fmt.Sprintf("127.0.0.1:%d", freePort()), https: fmt.Sprintf("127.0.0.1:%d", freePort())}
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
	servers {
		protocols h1 h2
	}
}
http://%[1]s:%[2]s {
	bind 127.0.0.1
	reverse_proxy %[4]s
}
https://%[1]s:%[3]s {
	bind 127.0.0.1
	tls %[5]s/cert.pem %[5]s/key.pem {
		protocols tls1.3
	}
	reverse_proxy %[4]s
}
`, host, port(t.http), port(t.https), backend, dir)
	path := filepath.Join(dir, "Caddyfile")
	os.WriteFile(path, []byte(conf), 0o644)
	caddyHome := filepath.Join(dir, "caddy-home")
	os.MkdirAll(caddyHome, 0o700)
	start(t, dir, []string{"HOME=" + caddyHome, "XDG_DATA_HOME=" + caddyHome, "XDG_CONFIG_HOME=" + caddyHome},
		"caddy", "run", "--config", path, "--adapter", "caddyfile")
	return t
}

func startHAProxy(dir, backend string) *target {
	t := &target{name: "haproxy", http: fmt.Sprintf("127.0.0.1:%d", freePort()), https: fmt.Sprintf("127.0.0.1:%d", freePort())}
	conf := fmt.Sprintf(`global
	maxconn 4096
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	option forwardfor
	http-reuse always
frontend bench
	bind %[1]s
	bind %[2]s ssl crt %[3]s/combined.pem alpn h2,http/1.1 ssl-min-ver TLSv1.3
	http-request set-header X-Forwarded-Proto https if { ssl_fc }
	default_backend app
backend app
	server app %[4]s
`, t.http, t.https, dir, backend)
	path := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(path, []byte(conf), 0o644)
	bin := "haproxy"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "/usr/sbin/haproxy"
	}
	start(t, dir, nil, bin, "-f", path, "-db")
	return t
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// berth is a real `berth serve` daemon on its own data dir, with its proxy
// on loopback ports and one app deployed: the backend.
type berth struct {
	bin, data, prefix string
	daemon            *exec.Cmd
	t                 *target
}

func (b *berth) environ() []string {
	return append(os.Environ(), "BERTH_DATA_DIR="+b.data, "BERTH_NAME_PREFIX="+b.prefix,
		"BERTH_HTTP_ADDR=127.0.0.1:0", "BERTH_HTTPS_ADDR=127.0.0.1:0", "BERTH_SSH_ADDR=off", "BERTH_OPENSSH=off")
}

func (b *berth) run(stdin []byte, args ...string) string {
	cmd := exec.Command(filepath.Join(b.bin, "berth"), args...)
	cmd.Env = b.environ()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		fail("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startBerth starts the daemon (which starts its proxy) and waits for it.
func startBerth(bin, dir string) *berth {
	b := &berth{bin: bin, data: filepath.Join(dir, "berth-data"), prefix: fmt.Sprintf("benchpx%d", os.Getpid()), t: &target{name: "berth"}}
	b.t.pidsOf = func() []int { return pidFile(filepath.Join(b.data, "proxy.pid")) }
	os.MkdirAll(b.data, 0o700)
	b.daemon = exec.Command(filepath.Join(bin, "berth"), "serve")
	b.daemon.Env = b.environ()
	logf, _ := os.Create(filepath.Join(b.data, "daemon.log"))
	b.daemon.Stdout, b.daemon.Stderr = logf, logf
	if err := b.daemon.Start(); err != nil {
		fail("start the daemon: %v", err)
	}
	atExit(b.stop)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		cmd := exec.Command(filepath.Join(bin, "berth"), "version")
		cmd.Env = b.environ()
		out, _ := cmd.Output()
		for _, l := range strings.Split(string(out), "\n") {
			if a, ok := strings.CutPrefix(l, "proxy on "); ok {
				b.t.http = a
			} else if a, ok := strings.CutPrefix(l, "proxy TLS on "); ok {
				b.t.https = a
			}
		}
		if b.t.http != "" && b.t.https != "" {
			return b
		}
	}
	fail("the daemon did not come up; see %s/daemon.log", b.data)
	return nil
}

// deploy deploys the backend as app APP with the domain localhost and
// returns the address of its web container as the proxy's route has it.
func (b *berth) deploy(dir string) string {
	b.run(nil, "apps:create", app)
	b.run(nil, "domains:add", app, host)
	b.run(appTar(dir), "git:from-archive", app, "-")
	var st struct {
		Routes []struct {
			App     string `json:"app"`
			Targets []struct {
				Addr string `json:"addr"`
			} `json:"targets"`
		} `json:"routes"`
	}
	raw, err := os.ReadFile(filepath.Join(b.data, "proxy-routes.json"))
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil {
		fail("read the proxy's routes: %v", err)
	}
	for _, r := range st.Routes {
		if r.App == app && len(r.Targets) == 1 {
			return r.Targets[0].Addr
		}
	}
	fail("the proxy has no route with one target for %s: %s", app, raw)
	return ""
}

// startDirectTLS runs a second container of the app's image, publishing
// the backend's own TLS port (5443) on 127.0.0.1, and returns its address:
// the reference for the TLS scenarios. (Publishing 5443 from the app's
// container with docker-options would do, but Berth then may take that
// port for the web one: see bench/README.md.)
func (b *berth) startDirectTLS() string {
	web := b.prefix + "-" + app + ".web.1"
	img := docker("inspect", "--format", "{{.Config.Image}}", web)
	name := b.prefix + "-direct-tls"
	atExit(func() { exec.Command("docker", "rm", "-f", name).Run() })
	docker("run", "-d", "--name", name, "--label", "berth-bench=proxycmp", "-p", "127.0.0.1::5443", img)
	addr := docker("port", name, "5443/tcp")
	for _, a := range strings.Fields(addr) {
		if strings.HasPrefix(a, "127.0.0.1:") {
			return a
		}
	}
	fail("docker port %s: no 127.0.0.1 address in %q", name, addr)
	return ""
}

func docker(args ...string) string {
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		fail("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// addCert gives the app the bench's certificate: from then on its HTTP
// requests are redirected to HTTPS, so the bench runs its HTTP scenarios
// first.
func (b *berth) addCert(dir string) {
	b.run(nil, "certs:add", app, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	waitReady(&target{name: "berth", https: b.t.https}, filepath.Join(b.data, "proxy.log"))
}

// stop destroys the app (its containers and image), stops the daemon and
// its proxy.
func (b *berth) stop() {
	cmd := exec.Command(filepath.Join(b.bin, "berth"), "apps:destroy", "--force", app)
	cmd.Env = b.environ()
	cmd.Run()
	b.daemon.Process.Signal(syscall.SIGTERM)
	b.daemon.Wait()
	var pid int
	if raw, err := os.ReadFile(filepath.Join(b.data, "proxy.pid")); err == nil {
		fmt.Sscan(string(raw), &pid)
	}
	if pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

// appTar is the backend app: its binary and the bench's certificate on
// berth-test/debian:12, web on $PORT and TLS on 5443.
func appTar(dir string) []byte {
	files := map[string]string{
		"Dockerfile": "FROM berth-test/debian:12\nCOPY backend /usr/local/bin/backend\nCOPY cert.pem key.pem /etc/backend/\n" +
			"ENV TLS_PORT=5443 TLS_CERT=/etc/backend/cert.pem TLS_KEY=/etc/backend/key.pem\nCMD [\"backend\"]\n",
		"Procfile": "web: backend\n",
		"CHECKS":   "WAIT=0\nATTEMPTS=20\n/ hello\n",
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, b []byte, mode int64) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b))})
		tw.Write(b)
	}
	for _, f := range []string{"backend", "cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			fail("%v", err)
		}
		add(f, b, 0o755)
	}
	for n, c := range files {
		add(n, []byte(c), 0o644)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// startReverseProxy starts target berth-rp: a second `berth serve-proxy`
// of the same binary with BERTH_PROXY_FASTPATH=0 (every request through
// httputil.ReverseProxy), serving a copy of the daemon's routes on its
// own HTTP port, so that a run shows the fast path's effect side by side.
// It serves HTTP only: the TLS scenarios leave it out. Target berth-net
// is the same with BERTH_PROXY_H1LOOP=0 instead: the fast path on
// net/http's server rather than the proxy's own HTTP/1.1 loop; target
// berth-nometrics with BERTH_PROXY_METRICS=off: the proxy without its
// request counters, so that berth against it is what counting costs.
func (b *berth) startReverseProxy(dir, name string) *target {
	env := "BERTH_PROXY_FASTPATH=0"
	switch name {
	case "berth-net":
		env = "BERTH_PROXY_H1LOOP=0"
	case "berth-nometrics":
		env = "BERTH_PROXY_METRICS=off"
	}
	data := filepath.Join(dir, name+"-data")
	os.MkdirAll(data, 0o700)
	routes, err := os.ReadFile(filepath.Join(b.data, "proxy-routes.json"))
	if err == nil {
		err = os.WriteFile(filepath.Join(data, "proxy-routes.json"), routes, 0o600)
	}
	if err != nil {
		fail("%s: copy the routes: %v", name, err)
	}
	t := &target{name: name, http: fmt.Sprintf("127.0.0.1:%d", freePort())}
	t.proc = exec.Command(filepath.Join(b.bin, "berth"), "serve-proxy")
	t.proc.Env = append(os.Environ(), "BERTH_DATA_DIR="+data, "BERTH_HTTP_ADDR="+t.http, "BERTH_HTTPS_ADDR=off", env)
	logPath := filepath.Join(data, "proxy.log")
	logf, _ := os.Create(logPath)
	t.proc.Stdout, t.proc.Stderr = logf, logf
	if err := t.proc.Start(); err != nil {
		fail("start %s: %v", name, err)
	}
	atExit(func() { t.proc.Process.Signal(syscall.SIGTERM); t.proc.Wait() })
	waitReady(t, logPath)
	return t
}
