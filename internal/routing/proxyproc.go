package routing

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/proxy"
)

// EnsureProxy makes sure a proxy process serves on the settings' address:
// it reuses a running one (a daemon restart leaves it alone) or starts
// `berth proxy` detached, so that it outlives this daemon.
func EnsureProxy(ctx context.Context, bin, dataDir, socket string, env []string) (*proxy.Client, proxy.Status, error) {
	c := proxy.NewClient(socket)
	if st, err := c.Status(ctx); err == nil {
		return c, st, nil
	}
	logPath := filepath.Join(dataDir, "proxy.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, proxy.Status{}, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "proxy")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, proxy.Status{}, fmt.Errorf("start the proxy: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if st, err := c.Status(ctx); err == nil {
			return c, st, nil
		}
		select {
		case err := <-exited:
			return nil, proxy.Status{}, fmt.Errorf("the proxy exited at start (%v); see %s", err, logPath)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, proxy.Status{}, fmt.Errorf("the proxy did not answer within 15s; see %s", logPath)
		}
	}
}
