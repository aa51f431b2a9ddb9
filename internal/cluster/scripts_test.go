package cluster

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The scripts' values survive the shell whatever they contain.
func TestVarsQuoteForBash(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	weird := "it's $(rm -rf /) `x` \"q\" \\ \n-----BEGIN-----\nline"
	out, err := exec.Command("bash", "-c", vars(map[string]string{"A": weird, "B": ""})+`printf '%s|%s' "$A" "$B"`).Output()
	if err != nil || string(out) != weird+"|" {
		t.Errorf("bash read %q, %v; want %q", out, err, weird+"|")
	}
}

func TestParseFacts(t *testing.T) {
	t.Parallel()
	f := parseFacts("blocked=2377\nnoise line\nblocked=7946\nswarm=active id true\n bad key=x\n")
	if !slices.Equal(f["blocked"], []string{"2377", "7946"}) || fact(f, "swarm") != "active id true" || fact(f, "missing") != "" || len(f) != 2 {
		t.Errorf("parseFacts = %v", f)
	}
}

// The port check, run by bash here against a port that listens and one
// that does not, names only the closed one.
func TestPortCheckNamesTheClosedPort(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	out, err := exec.Command("bash", "-c", portCheck("127.0.0.1", open.Addr().(*net.TCPAddr).Port, closed)+"check_ports").Output()
	f := parseFacts(string(out))
	if err != nil || !slices.Equal(f["blocked"], []string{strconv.Itoa(closed)}) || fact(f, "checked") == "" {
		t.Errorf("check_ports: %v\n%s", err, out)
	}
}

// The node part's start script, run by bash here on a stand-in binary
// (a script that sleeps): it starts it detached with its pid file and
// settings, leaves a running one alone, restarts it when the binary
// changed. Not where systemd runs (the script would install a unit).
func TestStartScriptWithoutSystemd(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: the script would install berth-node.service")
	}
	for _, c := range []string{"bash", "setsid", "nohup"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("no %s", c)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "berth"), []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(restart bool) (string, int) {
		t.Helper()
		out, err := exec.Command("bash", "-c", startScript(nodePart{Dir: dir, ControlAddr: "10.0.0.2:7950", CA: "CA", Cert: "CERT", Key: "KEY", Restart: restart})).Output()
		if err != nil {
			t.Fatalf("start script: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "proxy.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid <= 1 {
			t.Fatalf("no pid file: %q\n%s", b, out)
		}
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
		return fact(parseFacts(string(out)), "started"), pid
	}
	got, pid := start(false)
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	for _, want := range []string{"BERTH_DATA_DIR=" + dir, "BERTH_PROXY_CONTROL_ADDR=10.0.0.2:7950", "BERTH_PROXY_CONTROL_TLS_DIR=" + dir + "/tls"} {
		if !bytes.Contains(env, []byte(want+"\x00")) {
			t.Errorf("the node part's environment lacks %s", want)
		}
	}
	if key, err := os.Stat(filepath.Join(dir, "tls", "node.key")); err != nil || key.Mode().Perm() != 0o600 {
		t.Errorf("node.key: %v %v", key, err)
	}
	if !strings.HasPrefix(got, "pid ") {
		t.Errorf("first start says %q", got)
	}
	if got, again := start(false); again != pid || !strings.HasPrefix(got, "already running") {
		t.Errorf("second start: %q pid %d, want the running %d left alone", got, again, pid)
	}
	if _, newPid := start(true); newPid == pid || syscall.Kill(pid, 0) == nil {
		t.Errorf("restart kept pid %d (new %d)", pid, newPid)
	}
}
