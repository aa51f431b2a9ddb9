package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
	"github.com/robfig/cron/v3"
)

// Backup schedules: parsing them, and the scheduler that runs them in the
// daemon (robfig/cron).

// backupParser reads schedules: the standard 5 fields (minute, hour, day of
// month, month, day of week) or a descriptor (@daily, @hourly, @every 1h...).
var backupParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseBackupSchedule checks a schedule and returns it parsed.
func parseBackupSchedule(spec string) (sched cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("%q: a time zone needs a schedule after it", spec)
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q: %v", spec, r)
		}
	}()
	sched, err = backupParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	// cron rounds shorter intervals up to 1s; say so instead.
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		if v, err := time.ParseDuration(d); err != nil || v < time.Second {
			return nil, fmt.Errorf("%q: @every needs a duration of at least 1s", spec)
		}
	}
	return sched, nil
}

func scheduleError(spec string, err error) error {
	return api.Errorf(api.CodeInvalid, "Invalid backup schedule %q: %v; use 5 cron fields (minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\") or @hourly, @daily, @weekly, @monthly, @every DURATION", spec, err)
}

// backupScheduler runs the services' scheduled backups in the daemon.
type backupScheduler struct {
	mu      sync.Mutex
	ctx     context.Context // the daemon's; nil until started
	cron    *cron.Cron
	logger  cronLogger
	entries map[int64]cron.EntryID // by service ID
	// missed are the schedules whose time came while the daemon was
	// down, found by StartBackups and run once by RunMissedBackups.
	missed []store.BackupSchedule
}

func newBackupScheduler(log *slog.Logger) *backupScheduler {
	l := cronLogger{log}
	return &backupScheduler{cron: cron.New(cron.WithParser(backupParser), cron.WithLogger(l)), logger: l, entries: map[int64]cron.EntryID{}}
}

// cronLogger sends the cron library's messages to the daemon's log.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("backup scheduler: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("backup scheduler: "+msg, append(kv, "err", err)...)
}

// StartBackups starts the scheduled backups of every service (the
// KIND:backup-schedule entries), until ctx ends or StopBackups. The daemon
// calls it once at start.
func (m *Manager) StartBackups(ctx context.Context) {
	b := m.sched
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	var all []store.BackupSchedule
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { all, err = tx.BackupSchedules(); return err }); err != nil {
		m.log.Error("backup schedules not loaded", "err", err)
	}
	now := m.now()
	var missed []store.BackupSchedule
	for _, sched := range all {
		if err := m.scheduleBackups(sched); err != nil {
			m.log.Error("backup schedule not started", "kind", sched.Service.Kind, "name", sched.Service.Name, "schedule", sched.Schedule, "err", err)
			continue
		}
		if m.backupMissed(ctx, sched, now) {
			missed = append(missed, sched)
		}
	}
	b.mu.Lock()
	b.missed = missed
	b.mu.Unlock()
	b.cron.Start()
	if len(all) > 0 {
		m.log.Info("backup schedules started", "count", len(all))
	}
	go func() {
		<-ctx.Done()
		b.cron.Stop()
	}()
}

// backupMissed says whether a schedule's time came, since its last
// recorded run (or since it was set), before now: the daemon was down then.
func (m *Manager) backupMissed(ctx context.Context, sched store.BackupSchedule, now time.Time) bool {
	spec, err := parseBackupSchedule(sched.Schedule)
	if err != nil {
		return false
	}
	var ok, failed store.BackupRun
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { ok, failed, err = tx.LastBackupRuns(sched.Service); return err }); err != nil {
		m.log.Error("backup runs not read", "kind", sched.Service.Kind, "name", sched.Service.Name, "err", err)
		return false
	}
	last := sched.CreatedAt
	for _, r := range []store.BackupRun{ok, failed} {
		if r.StartedAt.After(last) {
			last = r.StartedAt
		}
	}
	return missedRun(spec, last, now)
}

// missedRun says whether a schedule was due after last and by now.
func missedRun(spec cron.Schedule, last, now time.Time) bool {
	next := spec.Next(last)
	return !next.IsZero() && !next.After(now)
}

// RunMissedBackups runs, once each, the scheduled backups whose time came
// while the daemon was down (found by StartBackups). The daemon calls it
// after the services are restored, so that they answer.
func (m *Manager) RunMissedBackups() {
	b := m.sched
	b.mu.Lock()
	missed := b.missed
	b.missed = nil
	b.mu.Unlock()
	for _, sched := range missed {
		m.log.Info("backup schedule missed while the daemon was down: running it now", "kind", sched.Service.Kind, "name", sched.Service.Name, "schedule", sched.Schedule)
		m.scheduledBackup(sched.Service.Kind, sched.Service.Name, sched.Service.ID)
	}
}

// StopBackups stops the scheduler and waits until the backups in progress
// have finished, or ctx ends.
func (m *Manager) StopBackups(ctx context.Context) {
	done := m.sched.cron.Stop()
	select {
	case <-done.Done():
	case <-ctx.Done():
	}
}

// scheduleBackups (re)places a service's entry in the scheduler.
func (m *Manager) scheduleBackups(sched store.BackupSchedule) error {
	spec, err := parseBackupSchedule(sched.Schedule)
	if err != nil {
		return err
	}
	b := m.sched
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.entries[sched.Service.ID]; ok {
		b.cron.Remove(id)
	}
	logger := b.logger
	kind, name, id := sched.Service.Kind, sched.Service.Name, sched.Service.ID
	job := cron.NewChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)).Then(cron.FuncJob(func() { m.scheduledBackup(kind, name, id) }))
	b.entries[sched.Service.ID] = b.cron.Schedule(spec, job)
	return nil
}

// unscheduleBackups stops a service's scheduled backups (its schedule
// record goes with the service, or with backup-unschedule). A run in
// progress finishes; one about to start finds no schedule and does nothing.
func (m *Manager) unscheduleBackups(svc store.Service) {
	b := m.sched
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.entries[svc.ID]; ok {
		b.cron.Remove(id)
		delete(b.entries, svc.ID)
	}
}

func (b *backupScheduler) context() context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// scheduledBackup is one run of a service's schedule: a backup, a restore
// drill of it when the schedule has --verify, then the retention of its
// directory. A failed drill is reported as a failed backup, and keeps the
// older backups (no retention runs).
func (m *Manager) scheduledBackup(kind, name string, id int64) {
	ctx, cancel := context.WithTimeout(m.sched.context(), backupTimeout)
	defer cancel()
	if ctx.Err() != nil {
		return
	}
	sk, err := kindOf(kind)
	if err != nil {
		return
	}
	defer m.lock(kind, name)()
	// Read under the lock: a service destroyed or unscheduled meanwhile
	// is not backed up.
	var svc store.Service
	var sched store.BackupSchedule
	var verify bool
	err = m.store.Tx(ctx, func(tx *store.Tx) (err error) {
		if svc, err = tx.Service(kind, name); err != nil {
			return err
		}
		if svc.ID != id {
			return store.ErrServiceNotFound
		}
		if sched, err = tx.BackupSchedule(svc); err != nil {
			return err
		}
		verify, err = tx.BackupScheduleVerify(svc)
		return err
	})
	if errors.Is(err, store.ErrServiceNotFound) || errors.Is(err, store.ErrNoBackupSchedule) {
		return
	}
	if err != nil {
		m.log.Error("scheduled backup: read the schedule", "kind", kind, "name", name, "err", err)
		return
	}
	t, err := m.backupTargetFor(ctx, svc, sched.Dir, false)
	if err != nil {
		// Its credentials were removed, say: a failed run all the same.
		run := store.BackupRun{ServiceID: svc.ID, StartedAt: m.now(), FinishedAt: m.now(), Scheduled: true, Error: err.Error()}
		if rerr := m.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error { return tx.AddBackupRun(run) }); rerr != nil {
			m.log.Error("service backup outcome not recorded", "kind", kind, "name", name, "err", rerr)
		}
		m.log.Error("service backup failed", "kind", kind, "name", name, "dir", sched.Dir, "scheduled", true, "err", err)
	} else {
		var file api.BackupFile
		if file, err = m.backupOnce(ctx, sk, svc, t, true); err == nil && verify {
			// The drill restores it elsewhere: a failure is the
			// backup's (it cannot be trusted), told the same way.
			err = m.scheduledDrill(ctx, sk, svc, t, file)
		}
	}
	if err != nil {
		if m.backupFailed != nil {
			m.backupFailed(kind, name, err)
		}
		return
	}
	m.pruneBackups(svc, t, sched.Keep)
}

func describeSchedule(spec, dir string, keep int) string {
	k := "keep all"
	if keep > 0 {
		k = "keep " + strconv.Itoa(keep)
	}
	return fmt.Sprintf("%s to %s (%s)", spec, dir, k)
}
