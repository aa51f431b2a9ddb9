package cron

import (
	"context"
	"io"

	"github.com/berthpaas/berth/internal/api"
)

// Register adds the cron:* operations to mux.
func (m *Manager) Register(mux *api.Mux) {
	api.Handle(mux, api.CronList, func(ctx context.Context, req api.CronListRequest, _ api.Output) (api.CronTasks, error) {
		res := api.CronTasks{Tasks: []api.CronTask{}}
		if req.Global {
			return res, nil // Berth has no tasks outside apps (Dokku's cron-entries plugins)
		}
		tasks, err := m.List(ctx, req.App)
		if err != nil {
			return res, err
		}
		now := m.cfg.Now()
		for _, t := range tasks {
			ct := api.CronTask{
				ID: t.ID, App: t.App, Command: t.Command, Schedule: t.Schedule, ConcurrencyPolicy: t.ConcurrencyPolicy,
				AppInMaintenance: t.AppInMaintenance, TaskInMaintenance: t.TaskInMaintenance, Maintenance: t.Maintenance,
			}
			if s, err := Parse(t.Schedule); err == nil && !t.Maintenance {
				ct.Next = s.Next(now)
			}
			if rec, ok := m.LastRun(ctx, req.App, t.ID); ok {
				ct.LastRun = &api.CronRunRecord{Started: rec.Started, Finished: rec.Finished, Scheduled: rec.Scheduled, ExitCode: rec.ExitCode, Error: rec.Error, Output: rec.Output}
			}
			res.Tasks = append(res.Tasks, ct)
		}
		return res, nil
	})
	api.Handle(mux, api.CronRun, func(ctx context.Context, req api.CronRunRequest, out api.Output) (api.CronRunResult, error) {
		var w io.Writer = io.Discard
		if out.Stdout != nil {
			w = out.Stdout
		}
		code, name, err := m.RunTask(ctx, req.App, req.ID, req.Detach, req.TTLSeconds, w)
		return api.CronRunResult{ExitCode: code, Name: name}, err
	})
	api.Handle(mux, api.CronSet, func(ctx context.Context, req api.CronSetRequest, _ api.Output) (api.Empty, error) {
		return api.Empty{}, m.Set(ctx, req.App, req.Global, req.Key, req.Value, req.Unset)
	})
	api.Handle(mux, api.CronReport, func(ctx context.Context, req api.CronReportRequest, _ api.Output) (api.CronReportValues, error) {
		keys, values, err := m.Report(ctx, req.App, req.Global)
		return api.CronReportValues{Keys: keys, Values: values}, err
	})
}
