package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/version"
)

func init() {
	var flags []string
	for _, name := range settings.Names() {
		flags = append(flags, settingFlag(name))
	}
	Register(
		&Command{Name: "serve", Args: "[--data-dir DIR] [--http-addr ADDR] ...", Short: "Run the Berth daemon (flags override BERTH_* environment variables and the config file)", Local: true, LocalOnly: true, Values: flags, Run: serve},
		&Command{Name: "serve-proxy", Short: "Run the proxy process (the daemon starts it; it outlives daemon restarts)", Local: true, LocalOnly: true, Run: runProxy},
		&Command{Name: "version", Short: "Print Berth's version (and the daemon's, if it runs)", Local: true, Run: versionCmd},
	)
}

// settingFlag turns BERTH_HTTP_ADDR into http-addr.
func settingFlag(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "BERTH_")), "_", "-")
}

func serve(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	flags := map[string]string{}
	for _, name := range settings.Names() {
		if v := c.Flag(settingFlag(name), ""); v != "" {
			flags[name] = v
		}
	}
	s, err := settings.Load(c.Getenv, flags)
	if err != nil {
		return Failf("%v", err)
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[s.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(c.Stderr, opts)
	if s.LogFormat == "json" {
		h = slog.NewJSONHandler(c.Stderr, opts)
	}
	if c.Env.Serve == nil {
		return Failf("This berth binary cannot run the daemon")
	}
	ctx, stop := signal.NotifyContext(c, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := c.Env.Serve(ctx, s, slog.New(h)); err != nil {
		return Failf("%v", err)
	}
	return nil
}

func versionCmd(c *Ctx) error {
	fmt.Fprintf(c.Stdout, "berth version %s\n", version.Version)
	cl, err := c.caller()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(c)
	defer cancel()
	if v, err := api.SystemVersion.Call(ctx, cl, api.Empty{}); err == nil {
		fmt.Fprintf(c.Stdout, "daemon version %s (pid %d, data dir %s)\n", v.Version, v.PID, v.DataDir)
		if v.ProxyAddr != "" {
			fmt.Fprintf(c.Stdout, "proxy on %s\n", v.ProxyAddr)
		}
		if v.ProxyTLSAddr != "" {
			fmt.Fprintf(c.Stdout, "proxy TLS on %s\n", v.ProxyTLSAddr)
		}
		if v.SSHAddr != "" {
			fmt.Fprintf(c.Stdout, "ssh server on %s\n", v.SSHAddr)
		}
	}
	return nil
}

func runProxy(c *Ctx) error {
	s, err := settings.Load(c.Getenv, nil)
	if err != nil {
		return Failf("%v", err)
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[s.LogLevel]
	var h slog.Handler = slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: level})
	if s.LogFormat == "json" {
		h = slog.NewJSONHandler(c.Stderr, &slog.HandlerOptions{Level: level})
	}
	if c.Env.Proxy == nil {
		return Failf("This berth binary cannot run the proxy")
	}
	ctx, stop := signal.NotifyContext(c, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := c.Env.Proxy(ctx, s, slog.New(h)); err != nil {
		return Failf("proxy: %v", err)
	}
	return nil
}
