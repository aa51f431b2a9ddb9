package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/cli"
	"github.com/berthpaas/berth/internal/daemon"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/version"
)

// serve is `berth serve`: the daemon, running remote commands (ssh)
// through the command table.
func serve(ctx context.Context, s settings.Settings, log *slog.Logger) error {
	return daemon.Run(ctx, s, log, daemon.Options{RunCommand: cli.RunRemote})
}

// runProxy is `berth serve-proxy`: the proxy process, which writes its pid next
// to its routes while it runs.
func runProxy(ctx context.Context, s settings.Settings, log *slog.Logger) error {
	pidFile := filepath.Join(s.DataDir, "proxy.pid")
	pid := strconv.Itoa(os.Getpid())
	httpsAddr := s.HTTPSAddr
	if httpsAddr == "off" {
		httpsAddr = ""
	}
	var controlTLS *tls.Config
	controlAddr := s.ProxyControlAddr
	if controlAddr != "" {
		var err error
		if controlAddr, err = proxy.ControlAddr(controlAddr); err != nil {
			return fmt.Errorf("BERTH_PROXY_CONTROL_ADDR: %v", err)
		}
		if controlTLS, err = proxy.LoadServerTLS(s.ProxyControlTLSDir); err != nil {
			return fmt.Errorf("BERTH_PROXY_CONTROL_TLS_DIR: %v (it must hold ca.crt, node.crt and node.key, as scheduler-swarm:cluster-add writes them)", err)
		}
	}
	err := proxy.Run(ctx, proxy.Config{
		ControlAddr:   controlAddr,
		ControlTLS:    controlTLS,
		HTTPAddr:      s.HTTPAddr,
		HTTPSAddr:     httpsAddr,
		ControlSocket: s.ProxySocket,
		StateFile:     filepath.Join(s.DataDir, "proxy-routes.json"),
		Log:           log,
		Version:       version.Version,
		AccessLog:     s.AccessLog == "true",
		// Set by the daemon when it replaces a proxy of another binary.
		TakeOver: os.Getenv("BERTH_PROXY_TAKEOVER") == "1",
		// 0: every request through httputil.ReverseProxy (docs/proxy.md
		// "Performance"), to compare or rule out the HTTP/1.1 fast path.
		NoFastPath: os.Getenv("BERTH_PROXY_FASTPATH") == "0",
		Ready: func(string) {
			os.WriteFile(pidFile, []byte(pid+"\n"), 0o600)
		},
	})
	// After a hand-over the file is the new proxy's.
	if b, rerr := os.ReadFile(pidFile); rerr == nil && strings.TrimSpace(string(b)) == pid {
		os.Remove(pidFile)
	}
	return err
}
