package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
)

// RunRetireInterval is how often the daemon stops the one-off containers
// that outlived their --ttl-seconds (Dokku reaps them every 5 minutes too).
const RunRetireInterval = 5 * time.Minute

// registerRunRetire adds run.retire (run:retire [APP]).
func (svc *Service) registerRunRetire(m *api.Mux) {
	d := svc.deployer
	api.Handle(m, api.RunRetire, func(ctx context.Context, req api.RunRetireRequest, out api.Output) (api.Empty, error) {
		w := writerOf(out)
		if req.App == "" {
			fmt.Fprintln(w, "-----> Retiring all run and cron containers")
		} else {
			fmt.Fprintf(w, "-----> Retiring run and cron containers for app %s\n", req.App)
		}
		return api.Empty{}, d.RetireRuns(ctx, req.App, w)
	})
}

// retireRuns stops expired one-off containers every interval until ctx ends.
func retireRuns(ctx context.Context, log *slog.Logger, d *deploy.Deployer, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.RetireRuns(ctx, "", logWriter{log}); err != nil {
				log.Warn("retire expired one-off containers", "err", err)
			}
		}
	}
}

// logWriter logs each write as one info line.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info("run:retire", "line", strings.TrimSpace(string(p)))
	return len(p), nil
}
