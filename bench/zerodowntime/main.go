// Command zerodowntime measures what Berth's deploys and restarts do to
// traffic: it runs a real daemon and proxy on this machine, deploys the
// test app, and under a steady stream of requests through the proxy (keep-
// alive and fresh connections) runs each scenario, reporting requests sent,
// non-2xx answers, connection errors and latency. Run it with bench/run.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
)

var (
	out       = flag.String("out", "", "write the markdown report here (default: stdout)")
	keepAlive = flag.Int("keepalive", 4, "workers reusing connections")
	fresh     = flag.Int("fresh", 4, "workers opening a connection per request")
	interval  = flag.Duration("interval", 2*time.Millisecond, "pause between a worker's requests")
)

type env struct {
	bin, data, prefix string
	exe               string // the daemon's binary in bin: berth, or berth-next after the upgrade
	proxyAddr         string
	daemon            *exec.Cmd
}

func (e *env) environ() []string {
	return append(os.Environ(), "BERTH_DATA_DIR="+e.data, "BERTH_NAME_PREFIX="+e.prefix,
		"BERTH_HTTP_ADDR=127.0.0.1:0", "BERTH_HTTPS_ADDR=127.0.0.1:0", "BERTH_SSH_ADDR=off", "BERTH_OPENSSH=off")
}

func (e *env) berth(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(e.bin, "berth"), args...)
	cmd.Env = e.environ()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func (e *env) must(stdin []byte, args ...string) string {
	o, err := e.berth(stdin, args...)
	if err != nil {
		fail("berth %s: %v\n%s", strings.Join(args, " "), err, o)
	}
	return o
}

func (e *env) start() {
	e.daemon = exec.Command(filepath.Join(e.bin, e.exe), "serve")
	e.daemon.Env = e.environ()
	logf, _ := os.Create(filepath.Join(e.data, "daemon.log"))
	e.daemon.Stdout, e.daemon.Stderr = logf, logf
	if err := e.daemon.Start(); err != nil {
		fail("start the daemon: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if o, err := e.berth(nil, "version"); err == nil {
			for _, l := range strings.Split(o, "\n") {
				if a, ok := strings.CutPrefix(l, "proxy on "); ok {
					e.proxyAddr = a
					return
				}
			}
		}
	}
	fail("the daemon did not come up; see %s/daemon.log", e.data)
}

func (e *env) stop(sig syscall.Signal) {
	e.daemon.Process.Signal(sig)
	e.daemon.Wait()
}

// proxyPID is the running proxy's pid (its pid file), 0 if none.
func (e *env) proxyPID() int {
	var pid int
	if b, err := os.ReadFile(filepath.Join(e.data, "proxy.pid")); err == nil {
		fmt.Sscan(string(b), &pid)
	}
	return pid
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "zerodowntime: "+format+"\n", args...)
	os.Exit(1)
}

func build(dir string) {
	// berth-next is the same source reporting another version: the binary
	// an upgrade installs.
	next := "-ldflags=-X github.com/berthpaas/berth/internal/version.Version=0.0.0-bench-next"
	for name, args := range map[string][]string{"berth": {"./cmd/berth"}, "berth-next": {next, "./cmd/berth"}, "testapp": {"./e2e/testapp"}} {
		cmd := exec.Command("go", append([]string{"build", "-o", filepath.Join(dir, name)}, args...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if o, err := cmd.CombinedOutput(); err != nil {
			fail("build %s: %v\n%s", name, err, o)
		}
	}
}

func appTar(bin, version string, extra map[string]string) []byte {
	files := map[string]string{
		"Dockerfile": "FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\nENV APP_VERSION=" + version + "\nCMD [\"testapp\", \"web\"]\n",
		"Procfile":   "web: testapp web\n",
		"CHECKS":     "WAIT=1\nATTEMPTS=10\n/health ok\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	b, _ := os.ReadFile(filepath.Join(bin, "testapp"))
	tw.WriteHeader(&tar.Header{Name: "testapp", Mode: 0o755, Size: int64(len(b))})
	tw.Write(b)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c))})
		tw.Write([]byte(c))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

type row struct {
	name string
	st   loadgen.Stats
	dur  time.Duration
	note string
}

func main() {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "berth-bench")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")
	build(bin)
	e := &env{bin: bin, exe: "berth", data: filepath.Join(tmp, "data"), prefix: fmt.Sprintf("bench%d", os.Getpid())}
	os.MkdirAll(e.data, 0o700)
	e.start()
	defer func() {
		e.berth(nil, "apps:destroy", "--force", "shop")
		e.stop(syscall.SIGTERM)
		if pid := e.proxyPID(); pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}()
	e.must(nil, "checks:set", "--global", "wait-to-retire", "2")
	e.must(nil, "checks:set", "--global", "default-uptime-seconds", "2")
	e.must(nil, "apps:create", "shop")
	e.must(nil, "domains:add", "shop", "shop.bench")
	e.must(appTar(bin, "v1", nil), "git:from-archive", "shop", "-")

	load := loadgen.Start(loadgen.Config{Addr: e.proxyAddr, Host: "shop.bench", KeepAlive: *keepAlive, Fresh: *fresh, Interval: *interval})
	var rows []row
	scenario := func(name string, fn func() string) {
		load.Snapshot()
		start := time.Now()
		note := fn()
		time.Sleep(300 * time.Millisecond)
		rows = append(rows, row{name, load.Snapshot(), time.Since(start), note})
		fmt.Fprintf(os.Stderr, "%-30s %s\n", name, rows[len(rows)-1].st)
	}
	deploy := func(version string, extra map[string]string) func() string {
		return func() string {
			if _, err := e.berth(appTar(bin, version, extra), "git:from-archive", "shop", "-"); err != nil {
				return "deploy failed (as intended)"
			}
			return "deployed"
		}
	}
	scenario("steady state (10 s)", func() string { time.Sleep(10 * time.Second); return "" })
	scenario("good deploy", deploy("v2", nil))
	scenario("deploy with failing checks", deploy("v3", map[string]string{"CHECKS": "WAIT=0\nATTEMPTS=2\nTIMEOUT=1\n/health never-there\n"}))
	scenario("failing predeploy", deploy("v3", map[string]string{"app.json": `{"scripts":{"dokku":{"predeploy":"exit 1"}}}`}))
	scenario("rollback", func() string { e.must(nil, "releases:rollback", "shop"); return "" })
	scenario("config:set", func() string { e.must(nil, "config:set", "shop", "FOO=bar"); return "" })
	scenario("ps:scale web=3, then web=1", func() string {
		e.must(nil, "ps:scale", "shop", "web=3")
		e.must(nil, "ps:scale", "shop", "web=1")
		return ""
	})
	scenario("ps:restart", func() string { e.must(nil, "ps:restart", "shop"); return "" })
	scenario("daemon restart (SIGTERM)", func() string { e.stop(syscall.SIGTERM); e.start(); return "" })
	scenario("daemon SIGKILL, 3 s down", func() string {
		e.stop(syscall.SIGKILL)
		time.Sleep(3 * time.Second)
		e.start()
		return ""
	})
	scenario("proxy upgrade (new binary)", func() string {
		old := e.proxyPID()
		e.stop(syscall.SIGTERM)
		e.exe = "berth-next"
		e.start()
		if now := e.proxyPID(); now == old || now == 0 {
			fail("proxy upgrade: the proxy was not replaced (pid %d, was %d); see %s/proxy.log", now, old, e.data)
		}
		return "the daemon restarted on a new binary; its proxy took the sockets over"
	})
	load.Stop()

	var b strings.Builder
	fmt.Fprintf(&b, "# Zero-downtime benchmark\n\n")
	fmt.Fprintf(&b, "Generated by `bench/run` on %s (%s/%s, %d CPUs), %d keep-alive and %d fresh-connection workers, %v between a worker's requests, through Berth's proxy to the test app (busybox image, one web container unless scaled).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *keepAlive, *fresh, *interval)
	fmt.Fprintf(&b, "| scenario | duration | requests | non-2xx | connection errors | p50 | p99 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	failed := 0
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.1f s | %d | %d | %d | %v | %v |\n", r.name, r.dur.Seconds(), r.st.Sent, r.st.Non2xx, r.st.ConnErrors,
			r.st.Percentile(50).Round(10*time.Microsecond), r.st.Percentile(99).Round(10*time.Microsecond))
		failed += r.st.Failed()
	}
	fmt.Fprintf(&b, "\nFailed requests in all: **%d** (the goal is 0).\n", failed)
	for _, r := range rows {
		if len(r.st.Errors) > 0 {
			j, _ := json.Marshal(r.st.Errors)
			fmt.Fprintf(&b, "\n- %s: %s\n", r.name, j)
		}
	}
	if *out == "" {
		fmt.Print(b.String())
	} else if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fail("%v", err)
	}
	if failed > 0 {
		os.Exit(1)
	}
	_ = context.Background
}
