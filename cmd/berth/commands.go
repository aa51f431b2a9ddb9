package main

// The command packages beside cli. Each registers its commands in cli's
// table at init (cli.Register), so importing one here is what puts its
// commands in the binary, for the local CLI and for commands over ssh
// alike. cli cannot import them itself: they import cli.
import (
	_ "github.com/berthpaas/berth/internal/cli/clustercmd"   // scheduler-swarm:cluster-*
	_ "github.com/berthpaas/berth/internal/cli/containercmd" // docker-options:*, storage:*, resource:*
	_ "github.com/berthpaas/berth/internal/cli/croncmd"      // cron:*
	_ "github.com/berthpaas/berth/internal/cli/doctorcmd"    // doctor
	_ "github.com/berthpaas/berth/internal/cli/logscmd"      // logs:failed, logs:set, logs:report
	_ "github.com/berthpaas/berth/internal/cli/metricscmd"   // metrics
	_ "github.com/berthpaas/berth/internal/cli/networkcmd"   // network:*
	_ "github.com/berthpaas/berth/internal/cli/notifycmd"    // notifications:*
	_ "github.com/berthpaas/berth/internal/cli/previewcmd"   // previews:*
	_ "github.com/berthpaas/berth/internal/cli/routingcmd"   // domains:*, ports:*, certs:*, redirect:*, letsencrypt:*
	_ "github.com/berthpaas/berth/internal/cli/servicecmd"   // postgres:*, redis:*
	_ "github.com/berthpaas/berth/internal/cli/tokencmd"     // tokens:*, events, dashboard:*
)
