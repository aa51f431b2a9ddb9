// Package e2e drives the real berth binary against a real daemon in a
// temporary data directory: testscript scripts under testdata/script, and Go
// tests for what scripts express badly (concurrency, crashes).
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/rogpeppe/go-internal/testscript"
)

// binDir holds the berth binary built for this run, and the dokku symlink.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// -trimpath as scripts/install builds: its runs in the tests
	// (TestProxyUpgradeThroughInstall) then find every package compiled.
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "berth"), "../cmd/berth")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build berth: %v\n%s", err, out)
		return 1
	}
	app := exec.Command("go", "build", "-o", filepath.Join(dir, "testapp"), "./testapp")
	app.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := app.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testapp: %v\n%s", err, out)
		return 1
	}
	if err := os.Symlink("berth", filepath.Join(dir, "dokku")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// daemon is a `berth serve` process of a test.
type daemon struct {
	dataDir string
	// extraEnv is given to the daemon and to every command.
	extraEnv []string
	// sshAddr is where its ssh server listens; proxyAddr its proxy.
	sshAddr, proxyAddr, proxyTLSAddr string
	cmd                              *exec.Cmd
	log                              *bytes.Buffer
	done                             chan error
}

func (d *daemon) socket() string { return filepath.Join(d.dataDir, "berth.sock") }

// env is the environment of berth commands talking to this daemon.
func (d *daemon) env() []string {
	env := append(os.Environ(), "BERTH_DATA_DIR="+d.dataDir, "PATH="+binDir+":"+os.Getenv("PATH"))
	return append(env, d.extraEnv...)
}

// startDaemon starts `berth serve` on dataDir and waits until it answers.
func startDaemon(dataDir string, extraEnv ...string) (*daemon, error) {
	// Tests run many daemons at once: each ssh server and proxy takes a
	// free port. OpenSSH mode is off unless a test turns it on with its
	// own users: a test daemon never touches the host's berth and dokku.
	extraEnv = append([]string{"BERTH_SSH_ADDR=127.0.0.1:0", "BERTH_HTTP_ADDR=127.0.0.1:0", "BERTH_HTTPS_ADDR=127.0.0.1:0", "BERTH_API_ADDR=127.0.0.1:0", "BERTH_OPENSSH=off"}, extraEnv...)
	d := &daemon{dataDir: dataDir, log: &bytes.Buffer{}, done: make(chan error, 1), extraEnv: extraEnv}
	d.cmd = exec.Command(filepath.Join(binDir, "berth"), "serve")
	d.cmd.Env = d.env()
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { d.done <- d.cmd.Wait() }()
	client := api.NewClient(d.socket())
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		v, err := api.SystemVersion.Call(ctx, client, api.Empty{})
		cancel()
		if err == nil && v.PID == d.cmd.Process.Pid {
			d.sshAddr, d.proxyAddr, d.proxyTLSAddr = v.SSHAddr, v.ProxyAddr, v.ProxyTLSAddr
			return d, nil
		}
		select {
		case err := <-d.done:
			return nil, fmt.Errorf("berth serve exited before answering: %v\n%s", err, d.log)
		default:
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			return nil, fmt.Errorf("berth serve did not answer on %s within 15s: %v\n%s", d.socket(), err, d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig and waits for the daemon to exit.
func (d *daemon) stop(sig syscall.Signal) error {
	if d.cmd.ProcessState != nil {
		return nil
	}
	d.cmd.Process.Signal(sig)
	select {
	case err := <-d.done:
		var ee *exec.ExitError
		if sig == syscall.SIGKILL && errors.As(err, &ee) {
			return nil
		}
		return err
	case <-time.After(40 * time.Second):
		d.cmd.Process.Kill()
		return fmt.Errorf("daemon did not stop within 40s after %v", sig)
	}
}

// shortTempDir returns a fresh directory with a short path: unix socket
// paths are limited to 108 bytes.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "bt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killProxy(dir)
		os.RemoveAll(dir)
	})
	return dir
}

// killProxy stops the proxy process a daemon on dataDir started: it outlives
// the daemon by design, so tests stop it themselves.
func killProxy(dataDir string) {
	b, err := os.ReadFile(filepath.Join(dataDir, "proxy.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			data, err := os.MkdirTemp("", "bt")
			if err != nil {
				return err
			}
			env.Defer(func() {
				killProxy(data)
				os.RemoveAll(data)
			})
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("BERTH_DATA_DIR", data)
			env.Setenv("DATA", data)
			env.Setenv("BERTH_SSH_ADDR", "127.0.0.1:0")
			env.Setenv("BERTH_HTTP_ADDR", "127.0.0.1:0")
			env.Setenv("BERTH_HTTPS_ADDR", "127.0.0.1:0")
			env.Setenv("BERTH_OPENSSH", "off")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"berthd":   cmdBerthd,
			"exitcode": cmdExitcode,
		},
	})
}

// daemons maps a script's data dir to its running daemon.
var daemons = map[string]*daemon{}

// cmdBerthd: berthd start|stop|kill — runs the script's daemon.
func cmdBerthd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: berthd start|stop|kill")
	}
	data := ts.Getenv("DATA")
	switch args[0] {
	case "start":
		d, err := startDaemon(data)
		if neg {
			if err == nil {
				d.stop(syscall.SIGKILL)
				ts.Fatalf("berthd start succeeded unexpectedly")
			}
			ts.Logf("%v", err)
			return
		}
		ts.Check(err)
		if old := daemons[data]; old != nil {
			old.stop(syscall.SIGKILL)
		}
		daemons[data] = d
		ts.Defer(func() {
			d.stop(syscall.SIGKILL)
			delete(daemons, data)
		})
	case "stop", "kill":
		d := daemons[data]
		if d == nil {
			ts.Fatalf("no daemon running")
		}
		sig := syscall.SIGTERM
		if args[0] == "kill" {
			sig = syscall.SIGKILL
		}
		ts.Check(d.stop(sig))
		ts.Logf("daemon log:\n%s", d.log)
		delete(daemons, data)
	default:
		ts.Fatalf("usage: berthd start|stop|kill")
	}
}

// cmdExitcode: exitcode N cmd args... — runs cmd and checks its exit code,
// keeping its stdout and stderr for the next assertions.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
