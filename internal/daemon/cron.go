package daemon

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cron"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// newCron builds the scheduler of app.json cron tasks and its cron:*
// operations: tasks come from the live releases the deployer kept, and run
// as its one-off containers.
func newCron(st *store.Store, s settings.Settings, log *slog.Logger, engine func(context.Context) (deploy.Engine, error), d *deploy.Deployer) *cron.Manager {
	return cron.New(cron.Config{
		Store: st, Source: d, Runner: cronRunner{d: d, engine: engine, names: naming.Names{Prefix: s.NamePrefix}},
		Dir: filepath.Join(s.DataDir, "cron"), Log: log, Tick: s.CronTickDuration(),
	})
}

// cronLogsFunc writes the kept output of an app's cron runs for `logs`
// (cron.Manager.WriteLogs).
type cronLogsFunc func(ctx context.Context, app, process string, lines int, quiet bool, out io.Writer)

// cronRunner runs cron tasks as the deployer's one-off containers.
type cronRunner struct {
	d      *deploy.Deployer
	engine func(context.Context) (deploy.Engine, error)
	names  naming.Names
}

func (r cronRunner) Run(ctx context.Context, app string, job cron.Job, out io.Writer) (int, error) {
	return r.d.Run(ctx, app, deploy.RunOptions{Cmd: job.Cmd, Labels: job.Labels, TTLSeconds: int(job.TTLSeconds)}, deploy.Streams{Stdout: out, Stderr: out})
}

func (r cronRunner) Start(ctx context.Context, app string, job cron.Job) (string, error) {
	return r.d.RunDetached(ctx, app, deploy.RunOptions{Cmd: job.Cmd, Labels: job.Labels, TTLSeconds: int(job.TTLSeconds)})
}

func (r cronRunner) Running(ctx context.Context, app, taskID string) ([]string, error) {
	eng, err := r.engine(ctx)
	if err != nil {
		return nil, err
	}
	labels := r.names.KindLabels(app, naming.KindRun)
	labels["com.dokku.cron-id"] = taskID
	cs, err := eng.ListContainers(ctx, labels, false)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range cs {
		if c.State == "running" {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

func (r cronRunner) Stop(ctx context.Context, ids []string) error {
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := eng.StopContainer(ctx, id, 10*time.Second); err != nil {
			return err
		}
		eng.RemoveContainer(ctx, id, true)
	}
	return nil
}

// registerLogsFailed adds logs.failed: the kept output of an app's last
// failed deploy.
func registerLogsFailed(mux *api.Mux, d *deploy.Deployer) {
	api.Handle(mux, api.LogsFailed, func(ctx context.Context, req api.AppRef, out api.Output) (api.LogsFailedResult, error) {
		found, err := d.FailedLogs(ctx, req.App, writerOf(out))
		return api.LogsFailedResult{Found: found}, err
	})
}
