package cron

import (
	"context"
	"io"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/store"
)

// Start starts the scheduler: every Tick it runs each task whose time came
// since the last tick, in its own one-off container, and keeps its output.
// Tasks are read at each tick from the live release of each app (its
// entries read again when that release changed): a deploy, rollback,
// rename or destroy changes what runs without anything to register. Runs
// missed while the daemon was stopped are not caught up (as with the
// host's cron under Dokku).
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
//
// It reads every app, live release number and cron setting in one
// transaction, and asks the Source for an app's entries only when its live
// release (or name) changed since the last tick: a release's app.json
// does not change, and reading it for every app at every tick made an
// idle daemon's CPU grow with its app count.
func (m *Manager) Tick(ctx context.Context, last, now time.Time) {
	var apps []store.App
	var lives map[int64]int
	var props map[store.Scope]map[string]string
	err := m.cfg.Store.Tx(ctx, func(tx *store.Tx) (err error) {
		if apps, err = tx.Apps(); err != nil {
			return err
		}
		if lives, err = tx.LiveReleaseNumbers(); err != nil {
			return err
		}
		props, err = tx.NamespaceProperties("cron")
		return err
	})
	if err != nil {
		m.cfg.Log.Warn("cron: list apps", "err", err)
		return
	}
	keep := map[int64]map[string]bool{}
	seen := map[int64]bool{}
	for _, a := range apps {
		seen[a.ID] = true
		entries, err := m.entries(ctx, a, lives[a.ID])
		if err != nil {
			m.cfg.Log.Warn("cron: read the app's tasks", "app", a.Name, "err", err)
			continue
		}
		tasks, err := tasksOf(a.Name, entries, props[a.Scope()], props[store.Global])
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
	m.forgetEntries(seen)
	if err := m.records.prune(keep); err != nil {
		m.cfg.Log.Warn("cron: prune kept runs", "err", err)
	}
}

// cachedEntries are an app's cron entries as read from its live release.
type cachedEntries struct {
	name    string
	release int
	entries []appfile.Cron
}

// entries are the cron entries of app's live release number release (0:
// none), from the cache when that release's were read already.
func (m *Manager) entries(ctx context.Context, a store.App, release int) ([]appfile.Cron, error) {
	m.mu.Lock()
	c, ok := m.cache[a.ID]
	m.mu.Unlock()
	if ok && release > 0 && c.release == release && c.name == a.Name {
		return c.entries, nil
	}
	entries, _, err := m.cfg.Source.Entries(ctx, a.Name)
	if err != nil {
		return nil, err
	}
	if release > 0 {
		m.mu.Lock()
		m.cache[a.ID] = cachedEntries{name: a.Name, release: release, entries: entries}
		m.mu.Unlock()
	}
	return entries, nil
}

// forgetEntries drops the cached entries of apps not in seen (destroyed).
func (m *Manager) forgetEntries(seen map[int64]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.cache {
		if !seen[id] {
			delete(m.cache, id)
		}
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
