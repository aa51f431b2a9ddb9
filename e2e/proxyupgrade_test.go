package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/loadgen"
	"github.com/berthpaas/berth/internal/proxy"
)

// TestProxyUpgradeThroughInstall is the path users take to upgrade:
// scripts/install run again with a new Berth. Under steady load through the
// proxy (HTTP and HTTPS, keep-alive and new connections) the daemon is
// restarted on the new binary and the proxy is replaced by one of the new
// binary that takes the listening sockets over: the proxy's pid and version
// change and no request fails.
func TestProxyUpgradeThroughInstall(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	if os.Getuid() != 0 {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatal("scripts/install needs root (BERTH_REQUIRE_DOCKER=1)")
		}
		t.Skip("scripts/install needs root")
	}
	data := shortTempDir(t)
	bin := t.TempDir()
	prefix := fmt.Sprintf("bt%d-up", os.Getpid()%100000)
	ports := make([]string, 3)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().String()
		ln.Close()
	}
	settings := []string{"BERTH_NAME_PREFIX=" + prefix, "BERTH_HTTP_ADDR=" + ports[0], "BERTH_HTTPS_ADDR=" + ports[1], "BERTH_SSH_ADDR=" + ports[2], "BERTH_OPENSSH=off"}
	installEnv := append(os.Environ(), append(settings, "BERTH_BIN_DIR="+bin, "BERTH_DATA_DIR="+data,
		"BERTH_LOG_FILE="+filepath.Join(data, "berth.log"), "BERTH_SYSTEMD=off")...)
	install := func(version string) {
		t.Helper()
		start := time.Now()
		cmd := exec.Command("../scripts/install")
		cmd.Env = append(installEnv, "BERTH_VERSION="+version)
		out, err := cmd.CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(data, "berth.log"))
			t.Fatalf("scripts/install (%s): %v\n%s\ndaemon log:\n%s", version, err, out, log)
		}
		if !strings.Contains(string(out), "daemon version "+version) {
			t.Fatalf("scripts/install (%s) did not start that version:\n%s", version, out)
		}
		t.Logf("scripts/install %s took %v", version, time.Since(start).Round(time.Millisecond))
	}
	pc := proxy.NewClient(filepath.Join(data, "proxy.sock"))
	var proxyPIDs []int
	t.Cleanup(func() {
		// The installed daemon and its proxies run detached: stop them.
		if b, err := os.ReadFile(filepath.Join(data, "berth.lock")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGTERM)
				for i := 0; i < 100 && alive(pid); i++ {
					time.Sleep(100 * time.Millisecond)
				}
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		for _, pid := range proxyPIDs {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			for _, f := range []string{"berth.log", "proxy.log"} {
				b, _ := os.ReadFile(filepath.Join(data, f))
				t.Logf("%s (tail):\n%s", f, b[max(0, len(b)-4000):])
			}
		}
		ctx := context.Background()
		cs, _ := eng.ListContainers(ctx, map[string]string{"berth.instance": prefix}, true)
		for _, c := range cs {
			eng.RemoveContainer(ctx, c.ID, true)
		}
		imgs, _ := eng.ListImages(ctx, map[string]string{"berth.instance": prefix})
		for _, img := range imgs {
			removeImageKeepParents(img.ID)
		}
		eng.RemoveNetwork(ctx, prefix+"-berth")
	})

	install("0.0.1-upgrade-a")
	before, err := pc.Status(context.Background())
	if err != nil || before.Version != "0.0.1-upgrade-a" {
		t.Fatalf("proxy after the first install: %+v %v", before, err)
	}
	proxyPIDs = append(proxyPIDs, before.PID)

	// The installed daemon, driven with the test's client binary.
	d := &daemon{dataDir: data, extraEnv: settings, proxyAddr: ports[0], proxyTLSAddr: ports[1]}
	d.mustBerth(t, "checks:set", "--global", "default-uptime-seconds", "1")
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "0")
	// Two apps: "web" over HTTP; "secure" has a certificate (so its HTTP
	// redirects to HTTPS) and takes the HTTPS load.
	for _, a := range []string{"web", "secure"} {
		d.mustBerth(t, "apps:create", a)
		d.mustBerth(t, "domains:add", a, a+".test")
		if out, code := d.deployTar(t, a, appTar(t, zdtApp("v1", nil))); code != 0 {
			t.Fatalf("deploy %s: %d\n%s", a, code, out)
		}
	}
	d.mustBerth(t, "certs:generate", "secure")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(d.mustBerth(t, "certs:show", "secure", "crt")))
	if code, body := served(t, d, "web.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Fatalf("web before the upgrade: %d %q", code, body)
	}

	// About 50 requests a second on each listener.
	plain := loadgen.Start(loadgen.Config{Addr: ports[0], Host: "web.test", KeepAlive: 1, Fresh: 1, Interval: 40 * time.Millisecond})
	secure := loadgen.Start(loadgen.Config{Addr: ports[1], Host: "secure.test", KeepAlive: 1, Fresh: 1, Interval: 40 * time.Millisecond,
		TLS: &tls.Config{RootCAs: roots, ServerName: "secure.test"}})
	defer plain.Stop()
	defer secure.Stop()
	time.Sleep(500 * time.Millisecond)

	install("0.0.2-upgrade-b")
	after, err := pc.Status(context.Background())
	if err != nil {
		t.Fatalf("proxy after the upgrade: %v", err)
	}
	proxyPIDs = append(proxyPIDs, after.PID)
	if after.PID == before.PID || after.Version != "0.0.2-upgrade-b" {
		t.Errorf("proxy after the upgrade: pid %d (was %d), version %q; want a new proxy of version 0.0.2-upgrade-b", after.PID, before.PID, after.Version)
	}
	if after.HTTPAddr != ports[0] || after.HTTPSAddr != ports[1] || after.Routes != 2 {
		t.Errorf("proxy after the upgrade: %+v; want %s, %s and 2 routes", after, ports[0], ports[1])
	}
	if b, err := os.ReadFile(filepath.Join(data, "proxy.pid")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(after.PID) {
		t.Errorf("proxy.pid after the upgrade: %q %v, want %d", b, err, after.PID)
	}
	time.Sleep(time.Second) // load served by the new proxy alone
	for name, r := range map[string]*loadgen.Run{"HTTP": plain, "HTTPS": secure} {
		st := r.Stop()
		t.Logf("%s: %s", name, st)
		if st.Failed() != 0 || st.OK < 20 {
			t.Errorf("%s during the upgrade: %d of %d requests failed (%d ok): %v", name, st.Failed(), st.Sent, st.OK, st.Errors)
		}
	}
	// The old proxy has finished its requests and exited.
	deadline := time.Now().Add(35 * time.Second)
	for alive(before.PID) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(before.PID) {
		t.Errorf("the old proxy (pid %d) is still running", before.PID)
	}
	if code, body := served(t, d, "web.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("web after the upgrade: %d %q", code, body)
	}
	if out := d.mustBerth(t, "version"); !strings.Contains(out, "daemon version 0.0.2-upgrade-b") {
		t.Errorf("berth version after the upgrade:\n%s", out)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// TestProxyUpgradeFailedNewProxyKeepsOld: a daemon restarted on a new
// binary whose proxy dies while taking over (after it got the sockets,
// before it serves them) starts anyway, with the old proxy still serving
// and no request failing; the next start of the daemon hands over.
func TestProxyUpgradeFailedNewProxyKeepsOld(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, zdtApp("v1", nil))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	newBin := filepath.Join(t.TempDir(), "berth")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/berthpaas/berth/internal/version.Version=9.9.9-next", "-o", newBin, "../cmd/berth")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the new berth: %v\n%s", err, out)
	}
	pc := proxy.NewClient(filepath.Join(d.dataDir, "proxy.sock"))
	before, err := pc.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(before.PID, syscall.SIGKILL) })
	load := loadgen.Start(loadgen.Config{Addr: d.proxyAddr, Host: "shop.test", KeepAlive: 2, Fresh: 2, Interval: 20 * time.Millisecond})
	defer load.Stop()
	time.Sleep(300 * time.Millisecond)

	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	failing := startDaemonFrom(t, newBin, d.dataDir, append(d.extraEnv, "BERTH_FAILPOINTS=proxy-handover-crash")...)
	st, err := pc.Status(context.Background())
	if err != nil || st.PID != before.PID || st.Version != before.Version {
		t.Errorf("proxy after a failed hand-over: %+v %v; want the old one (pid %d, %s)", st, err, before.PID, before.Version)
	}
	if !strings.Contains(failing.log.String(), "proxy upgrade failed: the old proxy keeps serving") {
		t.Errorf("the daemon does not say the upgrade failed:\n%s", failing.log)
	}
	if err := failing.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	next := startDaemonFrom(t, newBin, d.dataDir, d.extraEnv...)
	st, err = pc.Status(context.Background())
	if err != nil || st.PID == before.PID || st.Version != "9.9.9-next" {
		t.Errorf("proxy after the hand-over: %+v %v; want a new one of 9.9.9-next", st, err)
	} else {
		t.Cleanup(func() { syscall.Kill(st.PID, syscall.SIGKILL) })
	}
	// A restart on the same binary keeps the proxy.
	if err := next.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next = startDaemonFrom(t, newBin, d.dataDir, d.extraEnv...)
	if again, err := pc.Status(context.Background()); err != nil || again.PID != st.PID {
		t.Errorf("proxy after a restart on the same binary: %+v %v; want pid %d kept", again, err, st.PID)
	}
	time.Sleep(500 * time.Millisecond)
	stats := load.Stop()
	t.Logf("load: %s", stats)
	if stats.Failed() != 0 || stats.OK < 20 {
		t.Errorf("%d of %d requests failed (%d ok): %v", stats.Failed(), stats.Sent, stats.OK, stats.Errors)
	}
	if code, body := served(t, next, "shop.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("after the hand-over: %d %q", code, body)
	}
}

// startDaemonFrom starts `bin serve` on dataDir (as startDaemon does with
// the test's binary) and stops it at the end of the test.
func startDaemonFrom(t *testing.T, bin, dataDir string, extraEnv ...string) *daemon {
	t.Helper()
	d := &daemon{dataDir: dataDir, log: &bytes.Buffer{}, done: make(chan error, 1), extraEnv: extraEnv}
	d.cmd = exec.Command(bin, "serve")
	d.cmd.Env = d.env()
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(syscall.SIGKILL) })
	client := api.NewClient(d.socket())
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		v, err := api.SystemVersion.Call(ctx, client, api.Empty{})
		cancel()
		if err == nil && v.PID == d.cmd.Process.Pid {
			d.sshAddr, d.proxyAddr, d.proxyTLSAddr = v.SSHAddr, v.ProxyAddr, v.ProxyTLSAddr
			return d
		}
		select {
		case err := <-d.done:
			t.Fatalf("%s serve exited before answering: %v\n%s", bin, err, d.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serve did not answer within 60s: %v\n%s", bin, err, d.log)
		}
	}
}
