// Package benchenv is what bench/footprint and bench/scale share: a real
// `berth serve` daemon (and the proxy it starts) on a temporary data dir
// with its own name prefix and loopback ports, the test app's image built
// locally, many apps deployed from it cheaply (`git:from-image`), and
// figures read from /proc (RSS, PSS, CPU time).
package benchenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	cleanupMu sync.Mutex
	cleanups  []func()
	// Prog names the program in messages ("footprint", "scale").
	Prog = "bench"
)

// AtExit registers f to run, last registered first, when the bench ends,
// fails or is interrupted (Cleanup).
func AtExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

// Cleanup runs what AtExit registered.
func Cleanup() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// Fail prints one line, cleans up and exits 1.
func Fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, Prog+": "+format+"\n", args...)
	Cleanup()
	os.Exit(1)
}

// Logf prints a progress line on stderr.
func Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// FreePort returns a loopback port nothing listens on right now.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		Fail("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Env is one Berth instance: binary, data dir, name prefix, listeners.
type Env struct {
	Dir, Bin, Data, Prefix string
	// HTTPAddr and HTTPSAddr are the proxy's listeners: fixed loopback
	// ports, so that they stay the same across daemon restarts.
	HTTPAddr, HTTPSAddr string
	Image               string // the test app's image, built by BuildImage
	daemon              *exec.Cmd
}

// New builds berth and the test app into a new temporary directory and
// returns an Env on it (not started). Everything it creates is removed at
// Cleanup.
func New(name string) *Env {
	dir, err := os.MkdirTemp("", "berth-"+name)
	if err != nil {
		Fail("%v", err)
	}
	os.Chmod(dir, 0o755) // nginx's workers (nobody) read the certificates under it
	AtExit(func() { os.RemoveAll(dir) })
	e := &Env{Dir: dir, Bin: filepath.Join(dir, "bin"), Data: filepath.Join(dir, "data"),
		Prefix:   fmt.Sprintf("bb%s%d", name[:min(len(name), 4)], os.Getpid()),
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", FreePort()), HTTPSAddr: fmt.Sprintf("127.0.0.1:%d", FreePort())}
	os.MkdirAll(e.Data, 0o700)
	for out, pkg := range map[string]string{"berth": "./cmd/berth", "testapp": "./e2e/testapp"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(e.Bin, out), pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if o, err := cmd.CombinedOutput(); err != nil {
			Fail("build %s: %v\n%s", pkg, err, o)
		}
	}
	// Last registered, first run: the apps' containers and images go
	// before the daemon stops and the directory is removed.
	AtExit(e.Stop)
	AtExit(e.removeDockerObjects)
	return e
}

// Environ is the environment of every berth command of the instance.
func (e *Env) Environ() []string {
	return append(os.Environ(), "BERTH_DATA_DIR="+e.Data, "BERTH_NAME_PREFIX="+e.Prefix,
		"BERTH_HTTP_ADDR="+e.HTTPAddr, "BERTH_HTTPS_ADDR="+e.HTTPSAddr, "BERTH_SSH_ADDR=off", "BERTH_OPENSSH=off")
}

// Berth runs a berth command and returns its output.
func (e *Env) Berth(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(e.Bin, "berth"), args...)
	cmd.Env = e.Environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Must is Berth, failing the bench on an error.
func (e *Env) Must(args ...string) string {
	out, err := e.Berth(args...)
	if err != nil {
		Fail("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Start starts the daemon (which starts its proxy, or adopts the running
// one) and waits until it answers. It returns how long that took.
func (e *Env) Start() time.Duration {
	began := time.Now()
	e.daemon = exec.Command(filepath.Join(e.Bin, "berth"), "serve")
	e.daemon.Env = e.Environ()
	logf, err := os.OpenFile(filepath.Join(e.Data, "daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		Fail("%v", err)
	}
	e.daemon.Stdout, e.daemon.Stderr = logf, logf
	if err := e.daemon.Start(); err != nil {
		Fail("start the daemon: %v", err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if o, err := e.Berth("version"); err == nil && strings.Contains(o, "proxy on ") {
			return time.Since(began)
		}
	}
	Fail("the daemon did not come up; see %s/daemon.log", e.Data)
	return 0
}

// Stop stops the daemon (SIGTERM) and its proxy.
func (e *Env) Stop() {
	e.StopDaemon()
	if pid := e.ProxyPID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

// StopDaemon stops the daemon only: the proxy keeps serving.
func (e *Env) StopDaemon() {
	if e.daemon == nil || e.daemon.Process == nil {
		return
	}
	e.daemon.Process.Signal(syscall.SIGTERM)
	e.daemon.Wait()
	e.daemon = nil
}

// DaemonPID is the running daemon's pid, 0 if none.
func (e *Env) DaemonPID() int {
	if e.daemon == nil || e.daemon.Process == nil {
		return 0
	}
	return e.daemon.Process.Pid
}

// ProxyPID is the running proxy's pid (its pid file), 0 if none.
func (e *Env) ProxyPID() int {
	var pid int
	if b, err := os.ReadFile(filepath.Join(e.Data, "proxy.pid")); err == nil {
		fmt.Sscan(string(b), &pid)
	}
	if pid > 0 && syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// BuildImage builds the test app's image (e2e/testapp on
// berth-test/busybox:1, its Procfile and a CHECKS file that passes at
// once in /app), tagged PREFIX-bench/testapp:1.
func (e *Env) BuildImage() {
	ctx := filepath.Join(e.Dir, "image")
	os.MkdirAll(ctx, 0o755)
	b, err := os.ReadFile(filepath.Join(e.Bin, "testapp"))
	if err != nil {
		Fail("%v", err)
	}
	files := map[string]string{
		"testapp":  string(b),
		"Procfile": "web: testapp web\n",
		"CHECKS":   "WAIT=0\nATTEMPTS=20\n/health ok\n",
		"Dockerfile": "FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\nCOPY Procfile CHECKS /app/\n" +
			"WORKDIR /app\nCMD [\"testapp\", \"web\"]\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(ctx, n), []byte(c), 0o755); err != nil {
			Fail("%v", err)
		}
	}
	e.Image = e.Prefix + "-bench/testapp:1"
	Docker("build", "-q", "--label", "berth-bench="+e.Prefix, "-t", e.Image, ctx)
}

// Deploy creates the apps, adds each its domains and deploys the test
// image to each, `parallel` at a time.
func (e *Env) Deploy(apps []string, domains func(app string) []string, parallel int) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() {
			for a := range work {
				e.Must("apps:create", a)
				if d := domains(a); len(d) > 0 {
					e.Must(append([]string{"domains:add", a}, d...)...)
				}
				e.Must("git:from-image", a, e.Image)
			}
		})
	}
	for _, a := range apps {
		work <- a
	}
	close(work)
	wg.Wait()
}

// Containers lists the ids of the instance's containers.
func (e *Env) Containers() []string {
	return strings.Fields(Docker("ps", "-aq", "--filter", "label=berth.instance="+e.Prefix))
}

// removeDockerObjects removes the instance's containers and images.
func (e *Env) removeDockerObjects() {
	if ids := e.Containers(); len(ids) > 0 {
		exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	out, _ := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
	var imgs []string
	for _, img := range strings.Fields(string(out)) {
		if strings.HasPrefix(img, e.Prefix+"-") {
			imgs = append(imgs, img)
		}
	}
	if len(imgs) > 0 {
		exec.Command("docker", append([]string{"rmi", "-f"}, imgs...)...).Run()
	}
}

// Docker runs a docker command, failing the bench on an error.
func Docker(args ...string) string {
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		Fail("docker %s: %v\n%s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out))
}

// Loadavg is the machine's load average over 1, 5 and 15 minutes.
func Loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
