package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/enginewatch"
	"github.com/berthpaas/berth/internal/notify"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
)

// newNotify builds the notifications (package notify, notifications:*):
// the capability packages are told nothing of it, they call the hooks
// below, which the daemon hands them in their Config.
func newNotify(st *store.Store, s settings.Settings, log *slog.Logger) *notify.Manager {
	host, _ := os.Hostname()
	return notify.New(notify.Config{Store: st, Log: log, Host: host, RetryDelay: s.NotifyRetryDelayDuration()})
}

// deployEnded is the deployer's Ended: deploy-succeeded, rollback or
// deploy-failed.
func deployEnded(n *notify.Manager) func(deploy.DeployEnd) {
	if n == nil {
		return nil
	}
	return func(e deploy.DeployEnd) {
		ev := notify.Event{App: e.App, Release: e.Release, Details: map[string]string{}}
		if e.By != "" {
			ev.Details["by"] = e.By
		}
		if e.Took > 0 {
			ev.Details["took"] = e.Took.Round(100 * time.Millisecond).String()
		}
		if e.Redeploy {
			ev.Details["redeploy"] = "true"
		}
		if e.RollbackOf > 0 {
			ev.Details["rollback_of"] = strconv.Itoa(e.RollbackOf)
		}
		switch {
		case e.Err != nil:
			ev.Kind = notify.DeployFailed
			ev.Message = e.Err.Error()
			ev.Details["step"] = e.Err.Step
		case e.RollbackOf > 0:
			ev.Kind = notify.Rollback
			ev.Message = fmt.Sprintf("rolled back to release %d (live as release %d)", e.RollbackOf, e.Release)
		case e.Redeploy:
			ev.Kind = notify.DeploySucceeded
			ev.Message = fmt.Sprintf("release %d redeployed", e.Release)
		default:
			ev.Kind = notify.DeploySucceeded
			ev.Message = fmt.Sprintf("release %d is live", e.Release)
		}
		n.Notify(ev)
	}
}

// renewalFailed is routing's RenewalFailed: cert-renewal-failed.
func renewalFailed(n *notify.Manager) func(app string, err error) {
	if n == nil {
		return nil
	}
	return func(app string, err error) {
		n.Notify(notify.Event{Kind: notify.CertRenewalFailed, App: app, Message: firstLine(err.Error()),
			Details: map[string]string{"error": err.Error()}})
	}
}

// backupFailed is the services' BackupFailed: backup-failed.
func backupFailed(n *notify.Manager) func(kind, name string, err error) {
	if n == nil {
		return nil
	}
	return func(kind, name string, err error) {
		n.Notify(notify.Event{Kind: notify.BackupFailed, Message: fmt.Sprintf("the scheduled backup of %s service %s failed: %s", kind, name, firstLine(err.Error())),
			Details: map[string]string{"service": name, "kind": kind, "error": err.Error()}})
	}
}

// crashLoops is the engine watcher's Exited: crash-loop, when a process
// container keeps failing (notify.CrashLoops).
func crashLoops(n *notify.Manager) func(context.Context, enginewatch.ExitEvent) {
	if n == nil {
		return nil
	}
	loops := &notify.CrashLoops{}
	return func(_ context.Context, e enginewatch.ExitEvent) {
		count, loop := loops.Exited(e.ID, e.Code, e.OOMKilled, e.At)
		if !loop {
			return
		}
		n.Notify(notify.Event{Kind: notify.CrashLoop, App: e.App,
			Message: fmt.Sprintf("%s failed %d times within %s (last exit code %d)", e.Process, count, notify.CrashLoopWindow, e.Code),
			Details: map[string]string{"process": e.Process, "container": e.Name, "exit_code": strconv.Itoa(e.Code), "oom_killed": strconv.FormatBool(e.OOMKilled)}})
	}
}
