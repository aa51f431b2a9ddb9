package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/proxy"
)

// ProxyProcess says how the daemon runs `berth serve-proxy`.
type ProxyProcess struct {
	Bin     string   // the berth binary
	DataDir string   // the proxy's log goes to DATA_DIR/proxy.log
	Socket  string   // its control socket
	Env     []string // its environment (settings)
	Log     *slog.Logger
}

// proxyStartTimeout bounds a proxy's start; a hand-over waits longer, as
// the old proxy gives the new one up to 30 s to get ready.
const (
	proxyStartTimeout    = 15 * time.Second
	proxyHandoverTimeout = 40 * time.Second
)

// EnsureProxy makes sure a proxy process of this binary serves on the
// settings' address. It starts `berth serve-proxy` detached (so that it outlives
// this daemon) when none answers, and reuses a running one of the same
// binary (a daemon restart leaves it alone). A proxy of another binary (an
// upgrade: its Status.Build differs) is replaced by a new one of this
// binary that takes its listening sockets and routes over (see
// proxy.Config.TakeOver) while the old one finishes its requests, so no
// connection is refused or dropped. If the new proxy fails, the old one
// keeps serving and EnsureProxy returns it, logging why.
func EnsureProxy(ctx context.Context, p ProxyProcess) (*proxy.Client, proxy.Status, error) {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	c := proxy.NewClient(p.Socket)
	st, err := c.Status(ctx)
	if err != nil {
		return startProxy(ctx, p, nil)
	}
	want := proxy.FileID(p.Bin)
	if want == "" || st.Build == want {
		return c, st, nil
	}
	p.Log.Info("the proxy runs another berth binary: starting one of this binary to take its sockets over", "pid", st.PID, "version", st.Version, "build", st.Build, "new_build", want)
	nc, nst, err := startProxy(ctx, p, &st)
	if err != nil {
		hint := ""
		if errors.Is(err, errTooOld) {
			hint = "; it cannot hand its sockets over: stop it at a quiet moment (kill $(cat " + filepath.Join(p.DataDir, "proxy.pid") + ")) and this daemon starts the new one"
		}
		p.Log.Error("proxy upgrade failed: the old proxy keeps serving"+hint, "pid", st.PID, "version", st.Version, "err", err)
		return c, st, nil
	}
	p.Log.Info("proxy upgraded: the old one finishes its requests and exits", "old_pid", st.PID, "old_version", st.Version, "pid", nst.PID, "version", nst.Version)
	return nc, nst, nil
}

var errTooOld = errors.New("the running proxy predates the hand-over")

// startProxy starts `berth serve-proxy` and waits until it answers; with old, it
// takes over from that proxy and is ready when the control socket answers
// with its pid.
func startProxy(ctx context.Context, p ProxyProcess, old *proxy.Status) (*proxy.Client, proxy.Status, error) {
	logPath := filepath.Join(p.DataDir, "proxy.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, proxy.Status{}, err
	}
	defer logf.Close()
	size := int64(0)
	if fi, err := logf.Stat(); err == nil {
		size = fi.Size()
	}
	cmd := exec.Command(p.Bin, "serve-proxy")
	cmd.Env = p.Env
	timeout := proxyStartTimeout
	if old != nil {
		cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], "BERTH_PROXY_TAKEOVER=1")
		timeout = proxyHandoverTimeout
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, proxy.Status{}, fmt.Errorf("start the proxy: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := proxy.NewClient(p.Socket)
	deadline := time.Now().Add(timeout)
	for {
		if st, err := c.Status(ctx); err == nil && (old == nil || st.PID == cmd.Process.Pid) {
			return c, st, nil
		}
		select {
		case err := <-exited:
			if old != nil && logHas(logPath, size, "predates the hand-over") {
				return nil, proxy.Status{}, errTooOld
			}
			return nil, proxy.Status{}, fmt.Errorf("the proxy exited at start (%v); see %s", err, logPath)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			if old != nil {
				// The old proxy serves until the new one said it was
				// ready: stopping this one hands nothing over.
				cmd.Process.Kill()
			}
			return nil, proxy.Status{}, fmt.Errorf("the proxy did not answer within %v; see %s", timeout, logPath)
		}
	}
}

// logHas reports whether the log written since offset says s.
func logHas(path string, offset int64, s string) bool {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return false
	}
	return strings.Contains(string(b[offset:]), s)
}
