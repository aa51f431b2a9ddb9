package cron

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/store"
)

// Source gives the cron entries of an app's live release (its kept
// app.json); deployed is false when the app has no live release.
type Source interface {
	Entries(ctx context.Context, app string) (entries []appfile.Cron, deployed bool, err error)
}

// Job is one run of a task: its command's words and the labels its
// container carries.
type Job struct {
	TaskID string
	Cmd    []string
	Labels map[string]string
	// TTLSeconds is how long the container may run before it is retired
	// (its com.dokku.active-deadline-seconds label).
	TTLSeconds int64
}

// Runner starts one-off containers of an app's live release.
type Runner interface {
	// Run runs job attached, writing its output to out, and returns its
	// exit code once it ends (or ctx ends).
	Run(ctx context.Context, app string, job Job, out io.Writer) (int, error)
	// Start runs job in the background and returns its container's name.
	Start(ctx context.Context, app string, job Job) (string, error)
	// Running lists the running containers of the task taskID of app.
	Running(ctx context.Context, app, taskID string) ([]string, error)
	// Stop stops (and removes) containers.
	Stop(ctx context.Context, ids []string) error
}

// Config is what a Manager is built from.
type Config struct {
	Store  *store.Store
	Source Source
	Runner Runner
	// Dir keeps the last run of each task (DataDir/cron).
	Dir string
	Log *slog.Logger
	// Tick is how often the scheduler looks for due tasks (default 30s).
	Tick time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Manager owns the cron:* operations and the scheduler.
type Manager struct {
	cfg     Config
	records records
	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	// inflight counts the attached runs of each task (app/ID) under way
	// in this daemon, started or not: forbid refuses while there is one,
	// also before its container runs.
	inflight map[string]int
	// cache holds the entries of each app's live release as the
	// scheduler last read them, by app ID (see Tick); under mu.
	cache map[int64]cachedEntries
}

// New returns a Manager; Start starts its scheduler.
func New(cfg Config) *Manager {
	if cfg.Tick <= 0 {
		cfg.Tick = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, records: records{dir: cfg.Dir}, inflight: map[string]int{}, cache: map[int64]cachedEntries{}}
}

// Properties of the cron namespace, with their defaults (Dokku's).
var defaults = map[string]string{"mailfrom": "", "mailto": "", "maintenance": "false"}

// appTasks reads app's tasks: its live release's entries and its
// maintenance settings.
func (m *Manager) appTasks(ctx context.Context, appName string) (store.App, []Task, error) {
	var a store.App
	var props, global map[string]string
	err := m.cfg.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if a, err = tx.App(appName); err != nil {
			if errors.Is(err, store.ErrAppNotFound) {
				return app.Errorf(store.ErrAppNotFound, "App %s does not exist", appName)
			}
			return err
		}
		if props, err = tx.Properties(a.Scope(), "cron"); err != nil {
			return err
		}
		global, err = tx.Properties(store.Global, "cron")
		return err
	})
	if err != nil {
		return a, nil, err
	}
	entries, _, err := m.cfg.Source.Entries(ctx, appName)
	if err != nil {
		return a, nil, err
	}
	tasks, err := tasksOf(appName, entries, props, global)
	return a, tasks, err
}

// tasksOf are an app's tasks from its cron entries, its cron properties
// (nil: none) and the global ones.
func tasksOf(appName string, entries []appfile.Cron, props, global map[string]string) ([]Task, error) {
	if props == nil {
		props = map[string]string{}
	}
	return Tasks(appName, entries, computedMaintenance(props, global) == "true", props)
}

// computedMaintenance is Dokku's: the app's "true" wins, else the global
// value, else false (a per-app "false" does not override a global "true").
func computedMaintenance(props, global map[string]string) string {
	if props["maintenance"] == "true" {
		return "true"
	}
	if v := global["maintenance"]; v != "" {
		return v
	}
	return defaults["maintenance"]
}

// List returns app's tasks with their next run and last kept run.
func (m *Manager) List(ctx context.Context, appName string) ([]Task, error) {
	_, tasks, err := m.appTasks(ctx, appName)
	return tasks, err
}

// RunTask runs task id of app now (cron:run). Attached, its output goes to
// out and its exit code is returned; detached, its container's name.
func (m *Manager) RunTask(ctx context.Context, appName, id string, detach bool, ttl int64, out io.Writer) (int, string, error) {
	if ttl == 0 {
		ttl = DefaultTTLSeconds
	}
	if ttl < 0 {
		return 0, "", app.Invalidf("--ttl-seconds must be a positive integer")
	}
	a, tasks, err := m.appTasks(ctx, appName)
	if err != nil {
		return 0, "", err
	}
	if id == "" {
		return 0, "", app.Invalidf("Please specify a Cron ID from the output of 'dokku cron:list %s'", appName)
	}
	t, ok := Find(tasks, id)
	if !ok {
		return 0, "", app.Invalidf("No matching Cron ID found. Please specify a Cron ID from the output of 'dokku cron:list %s'", appName)
	}
	job, release, err := m.prepare(ctx, t, ttl, out)
	if err != nil {
		return 0, "", err
	}
	defer release()
	if detach {
		name, err := m.cfg.Runner.Start(ctx, appName, job)
		return 0, name, err
	}
	code, err := m.run(ctx, a, t, job, false, out)
	return code, "", err
}

// prepare checks the task's concurrency policy against what runs and makes
// its job, claiming the task until release is called.
func (m *Manager) prepare(ctx context.Context, t Task, ttl int64, out io.Writer) (Job, func(), error) {
	words, err := app.SplitWords(t.Command)
	if err != nil || len(words) == 0 {
		return Job{}, nil, app.Invalidf("Could not parse command: %q", t.Command)
	}
	// Claim the task: a run of it is under way in this daemon from now
	// until release, started or not.
	key := t.App + "/" + t.ID
	m.mu.Lock()
	busy := m.inflight[key] > 0
	m.inflight[key]++
	m.mu.Unlock()
	var once sync.Once
	release := func() {
		once.Do(func() {
			m.mu.Lock()
			if m.inflight[key]--; m.inflight[key] <= 0 {
				delete(m.inflight, key)
			}
			m.mu.Unlock()
		})
	}
	if t.ConcurrencyPolicy != PolicyAllow {
		running, err := m.cfg.Runner.Running(ctx, t.App, t.ID)
		if err != nil {
			release()
			return Job{}, nil, err
		}
		if busy && t.ConcurrencyPolicy == PolicyForbid {
			release()
			return Job{}, nil, app.Errorf(app.ErrConflict, "%s currently has a cron lock in place for %s. Exiting...", t.App, t.ID)
		}
		if len(running) > 0 {
			if t.ConcurrencyPolicy == PolicyForbid {
				release()
				return Job{}, nil, app.Errorf(app.ErrConflict, "%s currently has a cron lock in place for %s. Exiting...", t.App, t.ID)
			}
			fmt.Fprintf(out, " !     Replacing running container for %s\n", t.ID)
			if err := m.cfg.Runner.Stop(ctx, running); err != nil {
				release()
				return Job{}, nil, err
			}
		}
	}
	return Job{TaskID: t.ID, Cmd: words, Labels: Labels(t, ttl), TTLSeconds: ttl}, release, nil
}

// Labels are the labels of a task's container, Dokku's (scripts and log
// shippers written for Dokku select cron containers by them).
func Labels(t Task, ttl int64) map[string]string {
	return map[string]string{
		"com.dokku.cron-id":                 t.ID,
		"com.dokku.concurrency-policy":      t.ConcurrencyPolicy,
		"com.dokku.container-type":          "cron",
		"com.dokku.app-name":                t.App,
		"com.dokku.active-deadline-seconds": strconv.FormatInt(ttl, 10),
	}
}

// run runs job attached and keeps what it printed and how it ended.
func (m *Manager) run(ctx context.Context, a store.App, t Task, job Job, scheduled bool, out io.Writer) (int, error) {
	tail := &tailBuffer{max: maxKeptOutput}
	rec := Record{Started: m.cfg.Now(), Scheduled: scheduled}
	code, err := m.cfg.Runner.Run(ctx, t.App, job, io.MultiWriter(out, tail))
	rec.Finished, rec.ExitCode, rec.Output = m.cfg.Now(), code, tail.String()
	if err != nil {
		rec.Error = firstLine(err.Error())
		if msg, ok := app.Message(err); ok {
			rec.Error = msg
		}
	}
	if werr := m.records.write(a.ID, t.ID, rec); werr != nil {
		m.cfg.Log.Warn("keep the cron run's output", "app", t.App, "task", t.ID, "err", werr)
	}
	return code, err
}

// LastRun is the kept record of task id of app, if any.
func (m *Manager) LastRun(ctx context.Context, appName, id string) (Record, bool) {
	var a store.App
	if err := m.cfg.Store.Tx(ctx, func(tx *store.Tx) (err error) { a, err = tx.App(appName); return err }); err != nil {
		return Record{}, false
	}
	return m.records.read(a.ID, id)
}

// Set sets or clears a cron property (cron:set, cron:suspend, cron:resume).
func (m *Manager) Set(ctx context.Context, appName string, global bool, key, value string, unset bool) error {
	if key == "" {
		return app.Invalidf("No property specified")
	}
	if strings.HasPrefix(key, MaintenancePrefix) {
		if global {
			return app.Invalidf("Task maintenance properties cannot be set globally")
		}
		id := strings.TrimPrefix(key, MaintenancePrefix)
		if id == "" {
			return app.Invalidf("Invalid task maintenance property, missing ID")
		}
		_, tasks, err := m.appTasks(ctx, appName)
		if err != nil {
			return err
		}
		if _, ok := Find(tasks, id); !ok {
			return app.Invalidf("Invalid task maintenance property, no matching task ID found: %s", key)
		}
	} else {
		if _, ok := defaults[key]; !ok {
			keys := make([]string, 0, len(defaults))
			for k := range defaults {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return app.Invalidf("Invalid property specified, valid properties include: %s", strings.Join(keys, ", "))
		}
		if (key == "mailfrom" || key == "mailto") && !global {
			return app.Invalidf("Property cannot be specified on a per-app basis")
		}
		if key == "maintenance" && !unset {
			if err := app.ValidateBool(value); err != nil {
				return err
			}
		}
	}
	return m.cfg.Store.Tx(ctx, func(tx *store.Tx) error {
		sc := store.Global
		if !global {
			a, err := tx.App(appName)
			if errors.Is(err, store.ErrAppNotFound) {
				return app.Errorf(store.ErrAppNotFound, "App %s does not exist", appName)
			}
			if err != nil {
				return err
			}
			sc = a.Scope()
		}
		if unset {
			return tx.UnsetProperty(sc, "cron", key)
		}
		return tx.SetProperty(sc, "cron", key, value)
	})
}

// Report is cron:report's keys (without "cron-"), in order, and values.
func (m *Manager) Report(ctx context.Context, appName string, global bool) ([]string, map[string]string, error) {
	var props, gprops map[string]string
	err := m.cfg.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if gprops, err = tx.Properties(store.Global, "cron"); err != nil {
			return err
		}
		props = map[string]string{}
		if global {
			return nil
		}
		a, err := tx.App(appName)
		if errors.Is(err, store.ErrAppNotFound) {
			return app.Errorf(store.ErrAppNotFound, "App %s does not exist", appName)
		}
		if err != nil {
			return err
		}
		props, err = tx.Properties(a.Scope(), "cron")
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	orDefault := func(k string) string {
		if v := gprops[k]; v != "" {
			return v
		}
		return defaults[k]
	}
	v := map[string]string{
		"computed-mailfrom":    orDefault("mailfrom"),
		"computed-mailto":      orDefault("mailto"),
		"global-mailfrom":      gprops["mailfrom"],
		"global-mailto":        gprops["mailto"],
		"global-maintenance":   gprops["maintenance"],
		"computed-maintenance": computedMaintenance(gprops, gprops),
	}
	if !global {
		v["computed-maintenance"] = computedMaintenance(props, gprops)
		v["maintenance"] = props["maintenance"]
		_, tasks, err := m.appTasks(ctx, appName)
		if err != nil {
			return nil, nil, err
		}
		v["task-count"] = strconv.Itoa(len(tasks))
		for k, val := range props {
			if id, ok := strings.CutPrefix(k, MaintenancePrefix); ok {
				v["maintenance-"+id] = val
			}
		}
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, v, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
