package cron

import (
	"context"
	"io"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

// Start starts the scheduler: every Tick it runs each task whose time came
// since the last tick, in its own one-off container, and keeps its output.
// Tasks are read afresh at each tick, from the live release of each app:
// a deploy, rename or destroy changes what runs without anything to
// register. Runs missed while the daemon was stopped are not caught up
// (as with the host's cron under Dokku).
func (m *Manager) Start(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.wg.Go(func() {
		t := time.NewTicker(m.cfg.Tick)
		defer t.Stop()
		last := m.cfg.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := m.cfg.Now()
			m.Tick(ctx, last, now)
			last = now
		}
	})
}

// Stop stops the scheduler and waits for the runs it started (they are
// stopped: their context ends).
func (m *Manager) Stop() {
	m.mu.Lock()
	cancel := m.cancel
	m.cancel = nil
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
}

// Tick starts the runs of every task due in (last, now] (in the
// background) and drops the records of tasks that are gone.
func (m *Manager) Tick(ctx context.Context, last, now time.Time) {
	var apps []store.App
	if err := m.cfg.Store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		m.cfg.Log.Warn("cron: list apps", "err", err)
		return
	}
	keep := map[int64]map[string]bool{}
	for _, a := range apps {
		_, tasks, err := m.appTasks(ctx, a.Name)
		if err != nil {
			m.cfg.Log.Warn("cron: read the app's tasks", "app", a.Name, "err", err)
			continue
		}
		keep[a.ID] = map[string]bool{}
		for _, t := range tasks {
			keep[a.ID][t.ID] = true
			if t.Maintenance {
				continue
			}
			s, err := Parse(t.Schedule)
			if err != nil || !Due(s, last, now) {
				continue
			}
			m.wg.Go(func() { m.scheduled(ctx, a, t) })
		}
	}
	if err := m.records.prune(keep); err != nil {
		m.cfg.Log.Warn("cron: prune kept runs", "err", err)
	}
}

// scheduled is one run started by the scheduler.
func (m *Manager) scheduled(ctx context.Context, a store.App, t Task) {
	job, release, err := m.prepare(ctx, t, DefaultTTLSeconds, io.Discard)
	if err != nil {
		// forbid with a run in progress, or an engine that is away
		m.cfg.Log.Warn("cron task skipped", "app", t.App, "task", t.ID, "schedule", t.Schedule, "reason", firstLine(err.Error()))
		return
	}
	defer release()
	m.cfg.Log.Info("cron task started", "app", t.App, "task", t.ID, "schedule", t.Schedule)
	// A run that outlives its deadline is stopped (Dokku's
	// active-deadline-seconds, which ps:retire enforces there).
	ctx, cancel := context.WithTimeout(ctx, DefaultTTLSeconds*time.Second)
	defer cancel()
	code, err := m.run(ctx, a, t, job, true, io.Discard)
	switch {
	case err != nil:
		m.cfg.Log.Warn("cron task failed to run", "app", t.App, "task", t.ID, "err", firstLine(err.Error()))
	case code != 0:
		m.cfg.Log.Warn("cron task failed", "app", t.App, "task", t.ID, "exit_code", code)
	default:
		m.cfg.Log.Info("cron task finished", "app", t.App, "task", t.ID, "exit_code", 0)
	}
}
