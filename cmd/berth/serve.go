package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

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

// runProxy is `berth proxy`: the proxy process, which writes its pid next
// to its routes while it runs.
func runProxy(ctx context.Context, s settings.Settings, log *slog.Logger) error {
	pidFile := filepath.Join(s.DataDir, "proxy.pid")
	httpsAddr := s.HTTPSAddr
	if httpsAddr == "off" {
		httpsAddr = ""
	}
	err := proxy.Run(ctx, proxy.Config{
		HTTPAddr:      s.HTTPAddr,
		HTTPSAddr:     httpsAddr,
		ControlSocket: s.ProxySocket,
		StateFile:     filepath.Join(s.DataDir, "proxy-routes.json"),
		Log:           log,
		Version:       version.Version,
		AccessLog:     s.AccessLog == "true",
		Ready: func(string) {
			os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
		},
	})
	os.Remove(pidFile)
	return err
}
